/**
 * `shutdown.start {"loglevel"}` on rank 0, for `flux shutdown`: end the RUN
 * state (the initial program, if any, gets SIGHUP) and, for a streaming
 * request, send the broker's log lines at or below `loglevel` as
 * `{"log": "app.sev[rank]: text\n"}` until the instance reaches `goodbye`;
 * then ENODATA. As in flux-core, the broker waits (bounded) for that client to
 * go away before it exits, so the client sees the whole shutdown.
 */
import { errno, FluxError } from '../common/libflux/errno';
import { FLAG_STREAMING } from '../common/libflux/message';
import { decode, severityName, severityOf } from '../common/libutil/stdlog';
import type { BrokerLog } from './log';
import type { Responder, ServiceTable } from './service';
import type { StateMachine } from './state-machine';

/** How long `goodbye` waits for the `flux shutdown` client to disconnect. */
const CLIENT_WAIT_MS = 5000;

export class ShutdownService {
  private request: Responder | undefined;
  private unfollow: (() => void) | undefined;
  private releaseGoodbye: (() => void) | undefined;

  constructor(
    private readonly rank: number,
    private readonly sm: StateMachine,
    private readonly log: BrokerLog,
    /** Ends RUN: SIGHUP to the initial program if one runs, else the shutdown event. */
    private readonly endRun: () => void,
  ) {}

  register(services: ServiceTable): void {
    services.register('shutdown.start', (r) => this.start(r));
    // The same request under the broker's own name (answered at once, like `flux shutdown --background`).
    services.register('broker.shutdown', (r) => this.start(r, false));
  }

  /** Called by the state machine on entering goodbye; resolves when it may go on to exit. */
  goodbye(): Promise<void> {
    const r = this.request;
    if (!r) return Promise.resolve();
    this.unfollow?.();
    this.unfollow = undefined;
    r.respondError(errno.ENODATA);
    return new Promise((resolve) => {
      const t = setTimeout(() => this.release(), CLIENT_WAIT_MS);
      t.unref();
      this.releaseGoodbye = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  /** A client went away: if it was the `flux shutdown` one, stop waiting for it. */
  disconnect(uuid: string): void {
    if (this.request?.msg.routes[0] !== uuid) return;
    this.unfollow?.();
    this.unfollow = undefined;
    this.release();
  }

  private release(): void {
    this.request = undefined;
    const go = this.releaseGoodbye;
    this.releaseGoodbye = undefined;
    go?.();
  }

  private start(r: Responder, follow = true): void {
    const { loglevel } = r.json<{ loglevel?: unknown }>();
    if (this.request) throw new FluxError(errno.EINVAL, 'shutdown is already in progress');
    if (this.sm.state !== 'run') throw new FluxError(errno.EINVAL, `shutdown cannot be initiated in state ${this.sm.state}`);
    if (this.rank !== 0) throw new FluxError(errno.EINVAL, 'shutdown may only be initiated on rank 0');
    const level = typeof loglevel === 'number' ? loglevel : 3;
    if (follow && r.msg.flags & FLAG_STREAMING) {
      this.request = r;
      this.unfollow = this.log.subscribe((line) => {
        const e = decode(line);
        if (!e) return;
        const sev = severityOf(e.pri);
        if (sev > level) return;
        r.respond({ log: `${e.appname}.${severityName(sev)}[${parseInt(e.hostname, 10) || 0}]: ${e.msg}\n` });
      });
    } else {
      r.respond({});
    }
    this.endRun();
  }
}
