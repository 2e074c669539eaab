/**
 * A process on a broker rank through its `rexec` service (RFC 42), as a library: what the
 * extension's "Run on Ranks" uses (flux exec keeps its own loop, tuned for the terminal).
 * `rexec.exec` streams `started`, `output` and `finished`; stdin goes in `rexec.write`
 * messages; signals in `rexec.kill`. The same RPCs flux-core's libsubprocess sends, so this
 * drives a real flux-core broker too.
 */
import { errno, FluxError } from '../libflux/errno';
import type { Flux, Rpc } from '../libflux/handle';
import { FLAG_NORESPONSE, FLAG_STREAMING, getJson } from '../libflux/message';
import { ioData, ioEncode, type IoObject } from './ioencode';

const REXEC_STDOUT = 1;
const REXEC_STDERR = 2;

export interface RemoteCommand {
  /** argv; run through `sh -c` by the caller when it wants shell syntax. */
  cmdline: string[];
  env: Record<string, string>;
  cwd?: string;
}

export interface RemoteEvents {
  started?(pid: number): void;
  output?(stream: 'stdout' | 'stderr', data: Buffer): void;
}

/** How it ended: a wait status, or the error that kept it from running (errnum, flux's text). */
export type RemoteEnd = { status: number } | { errnum: number; error: string };

export class RemoteProcess {
  readonly done: Promise<RemoteEnd>;
  private rpc: Rpc | undefined;
  pid = -1;

  constructor(private readonly h: Flux, readonly rank: number, cmd: RemoteCommand, ev: RemoteEvents = {}, private readonly service = 'rexec') {
    const payload = {
      cmd: { cmdline: cmd.cmdline, env: cmd.env, ...(cmd.cwd ? { cwd: cmd.cwd } : {}), opts: {}, channels: [] },
      flags: REXEC_STDOUT | REXEC_STDERR,
      local_flags: 0,
    };
    this.done = this.follow(payload, ev);
  }

  private async follow(payload: Record<string, unknown>, ev: RemoteEvents): Promise<RemoteEnd> {
    let status: number | undefined;
    try {
      const rpc = this.h.rpc(`${this.service}.exec`, payload, { nodeid: this.rank, flags: FLAG_STREAMING });
      this.rpc = rpc;
      for await (const m of rpc) {
        const r = getJson<{ type?: unknown; pid?: unknown; status?: unknown; io?: IoObject }>(m);
        if (r.type === 'started') {
          this.pid = typeof r.pid === 'number' ? r.pid : -1;
          ev.started?.(this.pid);
        } else if (r.type === 'output' && r.io && (r.io.stream === 'stdout' || r.io.stream === 'stderr')) {
          const data = ioData(r.io);
          if (data.length > 0) ev.output?.(r.io.stream, data);
        } else if (r.type === 'finished') {
          status = typeof r.status === 'number' ? r.status : 0;
        }
      }
      if (status === undefined) return { errnum: errno.EPROTO, error: 'the process ended without a finished response' };
      return { status };
    } catch (e) {
      // Lost after it finished: the status is still known.
      if (status !== undefined) return { status };
      const fe = e instanceof FluxError ? e : new FluxError(errno.EPROTO, e instanceof Error ? e.message : String(e));
      return { errnum: fe.errnum, error: fe.message };
    }
  }

  /** Send bytes (and/or end-of-file) to its stdin. */
  write(data: Buffer | undefined, eof = false): void {
    if (!this.rpc) return;
    try {
      this.h.rpc(`${this.service}.write`, { matchtag: this.rpc.matchtag, io: ioEncode('stdin', '0', data, eof) }, { nodeid: this.rank, flags: FLAG_NORESPONSE });
    } catch {
      // the connection is gone: `done` says so
    }
  }

  /** Signal it (SIGINT 2, SIGTERM 15, SIGKILL 9); resolves when the broker has sent it. */
  async kill(signum: number): Promise<void> {
    if (this.pid < 0) return;
    await this.h.rpc(`${this.service}.kill`, { pid: this.pid, signum }, { nodeid: this.rank }).response();
  }
}
