/**
 * The resource module's view of the ranks for the resource graph: which are drained (and why,
 * since when), offline or excluded, from flux-core's `resource.status` on rank 0. An instance
 * whose resource module does not serve it (ENOSYS, or an older module) shows no drain state
 * rather than failing the graph. Also the drain / undrain requests themselves, with flux-core's
 * payloads, so the panel and the palette commands send exactly what `flux resource drain` does.
 * No `vscode` here.
 */
import type { Flux } from '../../../broker/src/common/libflux/handle';
import { errno, FluxError } from '../../../broker/src/common/libflux/errno';
import { decodeIdset, encodeIdset } from '../../../broker/src/common/libidset/idset';
import type { RankStatus } from '../../../webviews/common/protocol';

/** `resource.status`'s answer (flux-core 0.88 status.c); only the fields the graph uses. */
interface StatusAnswer {
  drain?: Record<string, { timestamp?: unknown; reason?: unknown }>;
  online?: unknown;
  offline?: unknown;
  exclude?: unknown;
}

function ranksOf(idset: unknown): number[] {
  if (typeof idset !== 'string' || idset === '') return [];
  try {
    return decodeIdset(idset);
  } catch {
    return [];
  }
}

/** The drain map is keyed by idsets ("1-2": one entry for ranks drained together). */
export function rankStatusFrom(a: StatusAnswer): RankStatus {
  const drained: RankStatus['drained'] = {};
  for (const [ids, d] of Object.entries(a.drain ?? {})) {
    const timestamp = typeof d?.timestamp === 'number' ? d.timestamp : 0;
    const reason = typeof d?.reason === 'string' ? d.reason : '';
    for (const r of ranksOf(ids)) drained[r] = { timestamp, reason };
  }
  return { drained, offline: ranksOf(a.offline), excluded: ranksOf(a.exclude) };
}

/** What is down for reasons a user can act on; undefined where `resource.status` is not served. */
export async function readRankStatus(h: Flux): Promise<RankStatus | undefined> {
  try {
    return rankStatusFrom(await h.rpc('resource.status', {}, { nodeid: 0 }).get<StatusAnswer>());
  } catch (e) {
    // ENOSYS: no such service (yet); EPROTO etc.: a module we cannot read. Either way, no drain state.
    if (e instanceof FluxError) return undefined;
    throw e;
  }
}

/** `resource.drain`: no mode fails on ranks already drained, "update" keeps their reason, "overwrite" replaces it. */
export async function drainRanks(h: Flux, ranks: number[], reason: string, mode: 'overwrite' | 'update' | null = null): Promise<void> {
  if (ranks.length === 0) throw new FluxError(errno.EINVAL, 'no ranks to drain');
  // As `flux resource drain` sends it: no reason and no mode keys unless given.
  const payload: Record<string, string> = { targets: encodeIdset(ranks) };
  if (reason !== '') payload.reason = reason;
  if (mode) payload.mode = mode;
  await h.rpc('resource.drain', payload, { nodeid: 0 }).get();
}

export async function undrainRanks(h: Flux, ranks: number[]): Promise<void> {
  if (ranks.length === 0) throw new FluxError(errno.EINVAL, 'no ranks to undrain');
  await h.rpc('resource.undrain', { targets: encodeIdset(ranks) }, { nodeid: 0 }).get();
}
