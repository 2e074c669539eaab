/**
 * The scheduler's side of RFC 28 (what flux-core's schedutil / libschedutil
 * does for sched-simple and Fluxion): send the streaming `resource.acquire`,
 * wait for the first answer (R and the ranks up now), then follow the
 * `{up?, down?}` updates for as long as the scheduler is loaded.
 */
import { errno, FluxError } from '../../common/libflux/errno';
import { FLAG_STREAMING } from '../../common/libflux/message';
import { decodeIdset } from '../../common/libidset/idset';
import { payloadJson } from '../../common/libjob/rpc-json';
import type { Flux } from '../../common/libflux/handle';

export interface Acquired {
  /** The instance's R (RFC 20) as the resource module gave it. */
  R: unknown;
  /** Ranks of R available for new jobs now. */
  up: Set<number>;
  /**
   * Start delivering the later updates (those that arrive before are kept, so
   * nothing is lost between the first answer and the scheduler being ready).
   */
  follow(cb: (u: { up: number[]; down: number[] }) => void, onError: (msg: string) => void): void;
}

const ids = (v: unknown): number[] => (typeof v === 'string' && v !== '' ? decodeIdset(v) : []);

export async function acquireResources(h: Flux): Promise<Acquired> {
  const rpc = h.rpc('resource.acquire', {}, { nodeid: 0, flags: FLAG_STREAMING });
  const it = rpc[Symbol.asyncIterator]();
  const first = await it.next();
  if (first.done) throw new FluxError(errno.EPROTO, 'resource.acquire ended without resources');
  const p = payloadJson<{ resources?: unknown; up?: unknown }>(first.value);
  if (!p.resources || typeof p.resources !== 'object') throw new FluxError(errno.EPROTO, 'resource.acquire: no resources in the first response');
  return {
    R: p.resources,
    up: new Set(ids(p.up)),
    follow: (cb, onError) => {
      void (async () => {
        try {
          for (;;) {
            const n = await it.next();
            if (n.done) return;
            const u = payloadJson<{ up?: unknown; down?: unknown }>(n.value);
            cb({ up: ids(u.up), down: ids(u.down) });
          }
        } catch (e) {
          if (!h.isClosed) onError(`resource.acquire: ${e instanceof Error ? e.message : String(e)}`);
        }
      })();
    },
  };
}
