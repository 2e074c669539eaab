/**
 * What `flux resource status` and `flux resource list` ask (flux-core's
 * status.c), rank 0 only:
 *
 *   resource.status       → {R, drain: {"<idset>": {timestamp, reason}}, online, offline, exclude}
 *   resource.sched-status → {all, down, allocated}: R sets as `sched.resource-status` gives them,
 *                           down = offline or drained ranks.
 *
 * flux-core takes `allocated` from job-manager (`job-manager.resource-status`);
 * ours asks the scheduler's `sched.resource-status` for it, an empty set when
 * no scheduler is loaded (as flux-core treats a job-manager that is not there).
 */
import { errno, FluxError } from '../../common/libflux/errno';
import { encodeIdset } from '../../common/libidset/idset';
import { Rlist, type Rv1 } from '../../common/librlist/rlist';
import type { Flux } from '../../common/libflux/handle';
import type { Responder } from '../../broker/service';
import type { DrainSummary } from './drain';

export interface StatusSources {
  R(): Rv1 | undefined;
  drainSummary(): DrainSummary;
  drained(): Set<number>;
  online(): Set<number>;
  offline(): Set<number>;
}

/** An R holding only `ranks` of `all` (the empty set as flux-core writes it: no nodelist entries). */
export function subsetR(all: Rlist, keep: (rank: number) => boolean): Rv1 {
  const rl = new Rlist(all.ranks.filter((r) => keep(r.rank)).map((r) => ({ ...r, cores: [...r.cores], gpus: [...r.gpus] })));
  const R = rl.toR();
  if (rl.nnodes === 0) R.execution.nodelist = [];
  return R;
}

export class Status {
  constructor(private readonly h: Flux, private readonly rank: number, private readonly src: StatusSources) {}

  private need(): Rv1 {
    if (this.rank !== 0) throw new FluxError(errno.EPROTO, 'this RPC only works on rank 0');
    const R = this.src.R();
    if (!R) throw new FluxError(errno.ENOENT, 'error preparing response: No such file or directory');
    return R;
  }

  handleStatus(r: Responder): void {
    const R = this.need();
    r.respond({
      R,
      drain: this.src.drainSummary(),
      online: encodeIdset(this.src.online()),
      offline: encodeIdset(this.src.offline()),
      exclude: '',
    });
  }

  async handleSchedStatus(r: Responder): Promise<void> {
    const R = this.need();
    let allocated: unknown;
    try {
      allocated = (await this.h.rpc('sched.resource-status', {}).get<{ allocated?: unknown }>()).allocated;
    } catch (e) {
      const n = (e as { errnum?: unknown }).errnum;
      if (n !== errno.ENOSYS) throw new FluxError(errno.EINVAL, `sched.resource-status request failed: ${e instanceof Error ? e.message : String(e)}`);
    }
    const all = Rlist.fromR(R);
    const drained = this.src.drained();
    const offline = this.src.offline();
    r.respond({
      all: subsetR(all, () => true),
      down: subsetR(all, (rank) => drained.has(rank) || offline.has(rank)),
      allocated: allocated && typeof allocated === 'object' ? allocated : subsetR(all, () => false),
    });
  }
}
