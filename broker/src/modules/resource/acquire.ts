/**
 * RFC 28 resource acquisition (flux-core's acquire.c): the scheduler sends
 * one streaming `resource.acquire`. The first answer, once R is known, is
 * `{resources: R, up: IDSET}`; after it, `{up?: IDSET, down?: IDSET}` each
 * time ranks become available or stop being so. A rank is up when it is
 * online and not drained: draining and losing a rank both read as down to
 * the scheduler (it stops placing jobs there; jobs already there go on), and
 * an undrained or returning rank as up.
 *
 * flux-core additionally "shrinks" a lost rank out of a dynamically
 * discovered instance for good; here a killed rank can be restarted and
 * rejoin, so it is only reported down, and up again when it is back.
 *
 * One acquire at a time (EBUSY for a second); it ends when its sender
 * disconnects (a scheduler unloading) or with ECANCELED when this module
 * unloads. `resource.acquire-mute` stops the updates (used at shutdown, so the
 * scheduler is not told about every rank going away).
 */
import { errno, FluxError } from '../../common/libflux/errno';
import { encodeIdset } from '../../common/libidset/idset';
import { Rlist, type Rv1 } from '../../common/librlist/rlist';
import type { Responder } from '../../broker/service';
import type { ResEvent } from './reslog';

export interface AcquireSources {
  /** The instance's R, once defined. */
  R(): Rv1 | undefined;
  drained(): Set<number>;
  down(): Set<number>;
}

interface Request {
  r: Responder;
  sender: string;
  /** Ranks of R handed to the scheduler. */
  valid?: Set<number>;
  /** What the scheduler was last told is up. */
  up?: Set<number>;
}

export function senderOf(r: Responder): string {
  return r.msg.routes[r.msg.routes.length - 1] ?? '';
}

export class Acquire {
  private req: Request | undefined;
  private mute = false;

  constructor(private readonly src: AcquireSources, private readonly log: (s: string) => void) {}

  private available(valid: Set<number>): Set<number> {
    const drained = this.src.drained();
    const down = this.src.down();
    return new Set([...valid].filter((r) => !drained.has(r) && !down.has(r)));
  }

  private first(q: Request, R: Rv1): void {
    q.valid = new Set(Rlist.fromR(R).ranks.map((x) => x.rank));
    q.up = this.available(q.valid);
    q.r.respond({ resources: R, up: encodeIdset(q.up) });
  }

  handleAcquire(r: Responder): void {
    if (this.req) throw new FluxError(errno.EBUSY);
    const q: Request = { r, sender: senderOf(r) };
    this.req = q;
    const R = this.src.R();
    if (R) this.first(q, R);
    // else: answered at resource-define
  }

  handleMute(r: Responder): void {
    this.mute = true;
    r.respond({});
  }

  handleCancel(r: Responder): void {
    const q = this.req;
    if (q && q.sender === senderOf(r)) {
      this.req = undefined;
      q.r.respondError(errno.ECANCELED);
    }
  }

  /** `resource.disconnect`: the scheduler is gone; its slot is free. */
  disconnect(sender: string): void {
    if (this.req?.sender === sender) {
      this.req = undefined;
      this.log('aborted 1 resource.acquire(s)');
    }
  }

  /** The module is unloading. */
  close(): void {
    this.req?.r.respondError(errno.ECANCELED, 'the resource module was unloaded');
    this.req = undefined;
  }

  /** reslog listener: answer the acquire request as events change what is available. */
  onEvent(ev: ResEvent): void {
    const q = this.req;
    if (!q || this.mute) return;
    if (ev.name === 'resource-define') {
      if (q.up) return;
      const R = this.src.R();
      if (!R) {
        this.req = undefined;
        q.r.respondError(errno.ENOENT, 'resource discovery failed or interrupted');
        return;
      }
      this.first(q, R);
      return;
    }
    if (!['online', 'offline', 'drain', 'undrain'].includes(ev.name) || !q.up || !q.valid) return;
    const next = this.available(q.valid);
    const up = [...next].filter((x) => !q.up!.has(x));
    const down = [...q.up].filter((x) => !next.has(x));
    q.up = next;
    if (up.length === 0 && down.length === 0) return;
    q.r.respond({ ...(up.length > 0 ? { up: encodeIdset(up) } : {}), ...(down.length > 0 ? { down: encodeIdset(down) } : {}) });
  }
}
