/**
 * `flux relay [URI|PATH]`: relay one connection to a local broker over stdin/stdout, as flux-core's
 * `flux relay` does for the ssh connector (`ssh HOST flux relay PATH` is what an ssh:// URI runs).
 * Bytes go through as they are: the broker's one-byte handshake, then usock frames both ways.
 * Without an argument, $FLUX_URI (which must be local://).
 */
import * as net from 'node:net';
import { FluxError, errno } from '../common/libflux/errno';
import { defaultUri, parseUri } from '../common/libflux/uri';
import { Optparse } from '../common/liboptparse/optparse';
import { die, errText, parseOrExit, usageExit } from './cli';

const PROG = 'flux-relay';

export async function relay(argv: string[]): Promise<void> {
  const p = new Optparse(PROG, [], '[URI|PATH]');
  const o = parseOrExit(p, argv);
  if (o.args.length > 1) usageExit(p);
  const target = o.args[0] ?? defaultUri();
  let path: string;
  try {
    const u = parseUri(target.startsWith('/') ? `local://${target}` : target);
    if (u.scheme !== 'local') throw new FluxError(errno.EINVAL, `${target}: flux relay needs a local:// URI or a socket path`);
    path = u.path;
  } catch (e) {
    die(PROG, e instanceof Error ? e.message : String(e));
  }
  const failed = await new Promise<Error | undefined>((resolve) => {
    const sock = net.createConnection({ path });
    sock.once('error', (e) => {
      process.stdin.destroy();
      resolve(e);
    });
    sock.once('connect', () => {
      sock.pipe(process.stdout);
      process.stdin.pipe(sock);
      process.stdin.once('end', () => sock.end());
    });
    sock.once('close', () => {
      process.stdin.destroy();
      resolve(undefined);
    });
  });
  if (failed) die(PROG, `${path}: ${errText(FluxError.fromNode(failed))}`);
}
