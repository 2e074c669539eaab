/**
 * How Fluxion's resource graph follows RFC 28 acquire updates: every vertex
 * of a rank reported down (offline or drained) is marked down, as flux-sched
 * marks the ranks of acquire's `down` idset (what `set-status` does for one
 * path); the matcher then places no new job there, while satisfiability still
 * counts it. Ranks reported up are marked up again.
 */
import { encodeIdset } from '../../common/libidset/idset';
import { STATUS_DOWN, STATUS_UP } from '../../common/libfluxion/graph';
import type { Matcher } from '../../common/libfluxion/match';
import type { ModuleContext } from '../../module/runtime';
import type { Acquired } from '../resource/acquire-client';

/** Set the status of every vertex of these ranks. */
export function markRanks(ctx: ModuleContext, m: Matcher, ranks: number[], st: number): void {
  if (ranks.length === 0) return;
  const set = new Set(ranks);
  for (let v = 0; v < m.g.size; v++) if (set.has(m.g.rank[v])) m.g.status[v] = st;
  ctx.log('debug', `resource status changed (rankset=[${encodeIdset(ranks)}] status=${st === STATUS_UP ? 'UP' : 'DOWN'})`);
}

/**
 * Mark the ranks not up at acquisition down, then follow the updates; `upAgain` is told of
 * ranks coming back (they can run jobs that wait: qmanager hears it on its notify stream).
 */
export function followAcquire(ctx: ModuleContext, m: Matcher, a: Acquired, upAgain: (ranks: number[]) => void): void {
  markRanks(ctx, m, m.g.ranks().filter((r) => !a.up.has(r)), STATUS_DOWN);
  a.follow((u) => {
    markRanks(ctx, m, u.down, STATUS_DOWN);
    markRanks(ctx, m, u.up, STATUS_UP);
    if (u.up.length > 0) upAgain(u.up);
  }, (msg) => ctx.log('err', msg));
}
