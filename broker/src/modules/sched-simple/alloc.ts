/**
 * sched-simple's allocator: node/core/GPU allocation over the instance's R
 * (librlist's rlist_alloc in spirit). A request is libjob jj's counts: nslots
 * slots of slot_size cores (+ slot_gpus GPUs), spread over nnodes nodes when
 * nnodes > 0 (each node then takes nslots/nnodes slots), whole nodes when
 * exclusive. Nodes are tried in the order of the alloc mode, fixed at the start
 * of each allocation: worst-fit (most free cores first), best-fit (fewest free
 * cores first), first-fit (rank order); ties go to the lower rank.
 */
import { encodeIdset } from '../../common/libidset/idset';
import { Rlist, type RankResources } from '../../common/librlist/rlist';
import type { JjCounts } from '../../common/libjob/jobspec-jj';

export type AllocMode = 'worst-fit' | 'best-fit' | 'first-fit';
export const ALLOC_MODES: readonly AllocMode[] = ['worst-fit', 'best-fit', 'first-fit'];

export interface RankState {
  rank: number;
  hostname: string;
  cores: number[];
  gpus: number[];
  freeCores: Set<number>;
  freeGpus: Set<number>;
  up: boolean;
}

export type AllocRequest = Pick<JjCounts, 'nnodes' | 'nslots' | 'slot_size' | 'slot_gpus' | 'exclusive'>;

export interface Allocation {
  ranks: RankResources[];
  nslots: number;
}

export class ResourcePool {
  readonly ranks: RankState[];

  constructor(all: Rlist) {
    this.ranks = all.ranks.map((r) => ({
      rank: r.rank, hostname: r.hostname, cores: [...r.cores], gpus: [...r.gpus],
      freeCores: new Set(r.cores), freeGpus: new Set(r.gpus), up: true,
    }));
  }

  private byRank(rank: number): RankState | undefined {
    return this.ranks.find((r) => r.rank === rank);
  }

  /** Why the request can never be satisfied by this instance, or undefined when it could be. */
  infeasible(req: AllocRequest): string | undefined {
    const perNodeSlots = req.nnodes > 0 ? Math.ceil(req.nslots / req.nnodes) : 1;
    if (req.nnodes > this.ranks.length) return 'unsatisfiable request';
    const capacity = (r: RankState): number =>
      Math.min(Math.floor(r.cores.length / req.slot_size), req.slot_gpus > 0 ? Math.floor(r.gpus.length / req.slot_gpus) : Infinity);
    if (req.nnodes > 0) {
      const fit = this.ranks.filter((r) => capacity(r) >= perNodeSlots).length;
      if (fit < req.nnodes) return 'unsatisfiable request';
      return undefined;
    }
    const total = this.ranks.reduce((n, r) => n + capacity(r), 0);
    if (total < req.nslots) return 'unsatisfiable request';
    return undefined;
  }

  private order(mode: AllocMode): RankState[] {
    const up = this.ranks.filter((r) => r.up);
    if (mode === 'first-fit') return up;
    const sign = mode === 'worst-fit' ? -1 : 1;
    return [...up].sort((a, b) => sign * (a.freeCores.size - b.freeCores.size) || a.rank - b.rank);
  }

  /** Allocate now, or undefined when the free resources do not suffice at the moment. */
  alloc(req: AllocRequest, mode: AllocMode = 'worst-fit'): Allocation | undefined {
    const taken = new Map<number, { cores: number[]; gpus: number[] }>();
    const free = new Map(this.ranks.map((r) => [r.rank, { cores: [...r.freeCores].sort((a, b) => a - b), gpus: [...r.freeGpus].sort((a, b) => a - b) }]));
    const take = (r: RankState, ncores: number, ngpus: number): boolean => {
      const f = free.get(r.rank)!;
      if (f.cores.length < ncores || f.gpus.length < ngpus) return false;
      const t = taken.get(r.rank) ?? { cores: [], gpus: [] };
      t.cores.push(...f.cores.splice(0, ncores));
      t.gpus.push(...f.gpus.splice(0, ngpus));
      taken.set(r.rank, t);
      return true;
    };
    const order = this.order(mode);
    if (req.nnodes > 0) {
      const perNode = Math.ceil(req.nslots / req.nnodes);
      let remaining = req.nslots;
      let nodes = 0;
      for (const r of order) {
        if (nodes === req.nnodes) break;
        const slots = Math.min(perNode, remaining - (req.nnodes - nodes - 1));
        if (req.exclusive) {
          if (r.freeCores.size !== r.cores.length || r.freeGpus.size !== r.gpus.length) continue;
          if (r.cores.length < slots * req.slot_size || r.gpus.length < slots * req.slot_gpus) continue;
          take(r, r.cores.length, r.gpus.length);
        } else if (!take(r, slots * req.slot_size, slots * req.slot_gpus)) {
          continue;
        }
        remaining -= slots;
        nodes++;
      }
      if (nodes < req.nnodes) return undefined;
    } else {
      for (let s = 0; s < req.nslots; s++) {
        if (!order.some((r) => take(r, req.slot_size, req.slot_gpus))) return undefined;
      }
    }
    for (const [rank, t] of taken) {
      const r = this.byRank(rank)!;
      for (const c of t.cores) r.freeCores.delete(c);
      for (const g of t.gpus) r.freeGpus.delete(g);
    }
    const ranks = [...taken].sort((a, b) => a[0] - b[0]).map(([rank, t]) => ({
      rank, hostname: this.byRank(rank)!.hostname, cores: t.cores.sort((a, b) => a - b), gpus: t.gpus.sort((a, b) => a - b),
    }));
    return { ranks, nslots: req.nslots };
  }

  /** Mark resources of an allocation busy again (a scheduler reloaded while jobs hold them). */
  claim(ranks: RankResources[]): void {
    for (const a of ranks) {
      const r = this.byRank(a.rank);
      if (!r) continue;
      for (const c of a.cores) r.freeCores.delete(c);
      for (const g of a.gpus) r.freeGpus.delete(g);
    }
  }

  free(ranks: RankResources[]): void {
    for (const a of ranks) {
      const r = this.byRank(a.rank);
      if (!r) continue;
      for (const c of a.cores) if (r.cores.includes(c)) r.freeCores.add(c);
      for (const g of a.gpus) if (r.gpus.includes(g)) r.freeGpus.add(g);
    }
  }

  /** Mark ranks up or down (RFC 28 acquire updates): down ranks get no new allocations. */
  setUp(ranks: number[], up: boolean): void {
    for (const rank of ranks) {
      const r = this.byRank(rank);
      if (r) r.up = up;
    }
  }

  /** The ranks that are down, whole (for sched.resource-status). */
  down(): Rlist {
    return new Rlist(this.ranks.filter((r) => !r.up).map((r) => ({ rank: r.rank, hostname: r.hostname, cores: [...r.cores], gpus: [...r.gpus] })));
  }

  /** The allocated part as an Rlist (for sched.resource-status). */
  allocated(): Rlist {
    return new Rlist(this.ranks
      .map((r) => ({ rank: r.rank, hostname: r.hostname, cores: r.cores.filter((c) => !r.freeCores.has(c)), gpus: r.gpus.filter((g) => !r.freeGpus.has(g)) }))
      .filter((r) => r.cores.length > 0 || r.gpus.length > 0));
  }

  all(): Rlist {
    return new Rlist(this.ranks.map((r) => ({ rank: r.rank, hostname: r.hostname, cores: [...r.cores], gpus: [...r.gpus] })));
  }
}

/** A job's R (RFC 20) for an allocation: Rlist's form, with sched-simple's nslots where flux-core writes it. */
export function allocationR(a: Allocation, starttime: number, expiration: number): Record<string, unknown> {
  const R = new Rlist(a.ranks.map((r) => ({ rank: r.rank, hostname: r.hostname, cores: [...r.cores], gpus: [...r.gpus] })), starttime, expiration).toR();
  const { R_lite, nodelist } = R.execution;
  return { version: 1, execution: { R_lite, starttime, expiration, nslots: a.nslots, nodelist } };
}

/** sched-simple's `resource_summary` annotation: `rank0/core[0-1],rank1/core0`. */
export function resourceSummary(a: Allocation): string {
  const one = (kind: string, ids: number[]): string => (ids.length === 1 ? `${kind}${ids[0]}` : `${kind}[${encodeIdset(ids)}]`);
  const groups = new Map<string, number[]>();
  for (const r of a.ranks) {
    const res = [one('core', r.cores), ...(r.gpus.length > 0 ? [one('gpu', r.gpus)] : [])].join(',');
    groups.set(res, [...(groups.get(res) ?? []), r.rank]);
  }
  return [...groups].map(([res, ranks]) => `${one('rank', ranks)}/${res}`).join(',');
}
