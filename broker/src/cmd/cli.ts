/**
 * What every `flux` subcommand shares: flux-core's error wording
 * (`flux-<cmd>: <what>: <strerror>`, exit 1), stdout buffered like C stdio
 * when it is not a terminal, and opening a handle on $FLUX_URI.
 */
import { FluxError } from '../common/libflux/errno';
import { Flux } from '../common/libflux/handle';
import { Optparse, UsageError, type ParsedOptions } from '../common/liboptparse/optparse';

/** Exit with this status after flushing; thrown instead of calling process.exit deep inside. */
export class Exit extends Error {
  constructor(readonly status: number) {
    super(`exit ${status}`);
  }
}

class Stdout {
  private buf: string[] = [];
  private size = 0;
  private readonly tty = process.stdout.isTTY === true;

  write(s: string): void {
    if (this.tty) {
      process.stdout.write(s);
      return;
    }
    this.buf.push(s);
    this.size += s.length;
    if (this.size >= 4096) void this.flush();
  }

  /** Also waits for what others wrote to process.stdout directly: exiting with it queued loses it (a pipe). */
  flush(): Promise<void> {
    if (this.buf.length === 0 && process.stdout.writableLength === 0 && process.stderr.writableLength === 0) return Promise.resolve();
    const s = this.buf.join('');
    this.buf = [];
    this.size = 0;
    const drained = [new Promise<void>((resolve) => process.stdout.write(s, () => resolve()))];
    if (process.stderr.writableLength > 0) drained.push(new Promise<void>((resolve) => process.stderr.write('', () => resolve())));
    return Promise.all(drained).then(() => {});
  }
}

export const out = new Stdout();

export function errln(s: string): void {
  process.stderr.write(s + '\n');
}

/** Print `prog: msg` on stderr and exit 1 (flux-core's log_msg_exit). */
export function die(prog: string, msg: string, status = 1): never {
  errln(`${prog}: ${msg}`);
  throw new Exit(status);
}

/** The text flux commands print for an error: strerror, as log_err does. */
export function errText(e: unknown): string {
  if (e instanceof FluxError) return e.strerror;
  if (e instanceof Error) return e.message;
  return String(e);
}

export async function open(prog: string): Promise<Flux> {
  try {
    return await Flux.open();
  } catch (e) {
    die(prog, `flux_open: ${errText(e)}`);
  }
}

/** Parse options; print usage/errors the way liboptparse does. */
export function parseOrExit(p: Optparse, argv: string[]): ParsedOptions {
  try {
    const r = p.parse(argv);
    if (r.values.has('help')) {
      out.write(p.usage());
      throw new Exit(0);
    }
    return r;
  } catch (e) {
    if (e instanceof UsageError) {
      errln(e.message);
      errln(e.hint);
      throw new Exit(1);
    }
    throw e;
  }
}

export function usageExit(p: Optparse): never {
  process.stderr.write(p.usage());
  throw new Exit(1);
}

export type Command = (argv: string[]) => Promise<void>;
