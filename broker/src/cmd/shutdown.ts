/**
 * `flux shutdown [--background] [--quiet] [-v] [TARGET]`: end the RUN state
 * of rank 0 (the initial program gets SIGHUP) and, unless --background, print
 * the broker's log lines on stderr until its rc3 is done, as flux-core does.
 */
import { FluxError } from '../common/libflux/errno';
import { Flux } from '../common/libflux/handle';
import { FLAG_STREAMING, getJson } from '../common/libflux/message';
import { Optparse, has, last } from '../common/liboptparse/optparse';
import { LOG_DEBUG, LOG_INFO, LOG_WARNING } from '../broker/log';
import { die, errText, parseOrExit, usageExit } from './cli';
import { resolve } from './uri';

const PROG = 'flux-shutdown';

const OPTIONS = new Optparse(PROG, [
  { name: 'background', usage: 'Exit the command immediately after initiating shutdown' },
  { name: 'quiet', usage: 'Show only log messages <= LOG_WARNING level' },
  { name: 'verbose', key: 'v', hasArg: 2, arginfo: '[LEVEL]', usage: 'Increase log verbosity: 0=show log messages <= LOG_INFO level (default), 1=show all log messages' },
], '[OPTIONS] [TARGET]', 25, 'Shut down the Flux instance');

export async function shutdown(argv: string[]): Promise<void> {
  const o = parseOrExit(OPTIONS, argv);
  if (o.args.length > 1) usageExit(OPTIONS);
  const verbose = has(o, 'verbose') ? Number(last(o, 'verbose') ?? '1') : 0;
  const loglevel = has(o, 'quiet') ? LOG_WARNING : verbose === 0 ? LOG_INFO : LOG_DEBUG;
  let uri: string | undefined;
  if (o.args.length === 1) {
    try {
      uri = await resolve(o.args[0]);
    } catch {
      die(PROG, `failed to resolve target ${o.args[0]} to a Flux URI`);
    }
  }
  let h: Flux;
  try {
    h = await Flux.open(uri);
  } catch (e) {
    die(PROG, `error connecting to Flux: ${errText(e)}`);
  }
  try {
    if (has(o, 'background')) {
      await h.rpc('shutdown.start', { loglevel }).get();
      return;
    }
    for await (const m of h.rpc('shutdown.start', { loglevel }, { flags: FLAG_STREAMING })) {
      const { log } = getJson<{ log?: unknown }>(m);
      if (typeof log === 'string') process.stderr.write(log);
    }
  } catch (e) {
    die(PROG, e instanceof FluxError ? e.message : errText(e));
  } finally {
    h.close();
  }
}
