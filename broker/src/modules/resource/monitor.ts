/**
 * Which ranks are online (flux-core's monitor.c): rank 0 follows the
 * broker's `broker.online` group with a streaming `groups.get`. A rank joins
 * it when its rc1 is done and leaves it when it shuts down or is lost (its
 * parent stops hearing from it), and joins again when it is restarted. Each
 * change posts `online` / `offline` events, which are not written to the KVS
 * (they describe this run only) but drive acquire's up/down answers.
 *
 * `resource.monitor-waitup {up: N}` answers once N ranks are online, for tests.
 */
import { errno, FluxError } from '../../common/libflux/errno';
import { FLAG_STREAMING } from '../../common/libflux/message';
import { decodeIdset, encodeIdset } from '../../common/libidset/idset';
import { payloadJson } from '../../common/libjob/rpc-json';
import type { Flux } from '../../common/libflux/handle';
import type { Responder } from '../../broker/service';
import type { Reslog } from './reslog';

export class Monitor {
  private upSet = new Set<number>();
  private readonly waiters: { want: number; r: Responder }[] = [];
  private stopped = false;

  constructor(private readonly h: Flux, readonly size: number, private readonly reslog: Reslog, private readonly log: (s: string) => void) {}

  up(): Set<number> {
    return new Set(this.upSet);
  }

  down(): Set<number> {
    const s = new Set<number>();
    for (let r = 0; r < this.size; r++) if (!this.upSet.has(r)) s.add(r);
    return s;
  }

  /** Follow broker.online until the module ends. */
  start(): void {
    void (async () => {
      try {
        for await (const m of this.h.rpc('groups.get', { name: 'broker.online' }, { flags: FLAG_STREAMING })) {
          if (this.stopped) return;
          const members = payloadJson<{ members?: unknown }>(m).members;
          if (typeof members !== 'string') throw new FluxError(errno.EPROTO, 'groups.get: no members');
          this.changed(new Set(decodeIdset(members).filter((r) => r < this.size)));
        }
      } catch (e) {
        if (!this.stopped && !this.h.isClosed) this.log(`monitor: groups.get: ${e instanceof Error ? e.message : String(e)}`);
      }
    })();
  }

  stop(): void {
    this.stopped = true;
  }

  private changed(next: Set<number>): void {
    const join = [...next].filter((r) => !this.upSet.has(r));
    const leave = [...this.upSet].filter((r) => !next.has(r));
    this.upSet = next;
    // not committed: these resolve once delivered, in order with the drain events
    if (join.length > 0) void this.reslog.post('online', { idset: encodeIdset(join) }, { commit: false }).catch(() => undefined);
    if (leave.length > 0) void this.reslog.post('offline', { idset: encodeIdset(leave) }, { commit: false }).catch(() => undefined);
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      if (this.waiters[i].want === this.upSet.size) {
        this.waiters[i].r.respond({});
        this.waiters.splice(i, 1);
      }
    }
  }

  handleWaitup(r: Responder): void {
    const up = r.json<{ up?: unknown }>().up;
    if (typeof up !== 'number' || !Number.isInteger(up)) throw new FluxError(errno.EPROTO);
    if (up < 0 || up > this.size) throw new FluxError(errno.EPROTO, 'up value is out of range');
    if (this.upSet.size === up) r.respond({});
    else this.waiters.push({ want: up, r });
  }
}
