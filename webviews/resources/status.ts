/**
 * What the resource graph says beyond the scheduler's vertex states: whether a vertex's rank is
 * drained (and why, since when), offline or excluded, as the resource module reports it; which
 * node a vertex belongs to; and which vertices hold a previewed placement. Pure: no DOM.
 */
import type { PlacementPreview, ResourceSnapshot, VertexState } from '../common/protocol';

export type RankCondition = 'drained' | 'offline' | 'excluded';

/** Per rank: offline wins over excluded over drained (an offline node's drain is moot until it is back). */
export function rankConditions(s: ResourceSnapshot): Map<number, RankCondition> {
  const out = new Map<number, RankCondition>();
  const r = s.ranks;
  if (!r) return out;
  for (const k of Object.keys(r.drained)) out.set(Number(k), 'drained');
  for (const k of r.excluded) out.set(k, 'excluded');
  for (const k of r.offline) out.set(k, 'offline');
  return out;
}

/**
 * What a cell is drawn as: offline (or excluded) ranks grey, drained ones in their own colour
 * unless jobs still hold most of it, else its state (a folded box: what most of its leaves are).
 */
export function cellKind(
  leaf: boolean, state: VertexState, cond: RankCondition | undefined, allocated: number, leaves: number, down: number,
): VertexState | 'drained' | 'offline' {
  if (cond === 'offline' || cond === 'excluded') return 'offline';
  if (leaf) return cond === 'drained' && state !== 'allocated' ? 'drained' : state;
  const held = allocated / Math.max(1, leaves) >= 0.5;
  if (cond === 'drained') return held ? 'allocated' : 'drained';
  if (down === leaves && leaves > 0) return 'down';
  return held ? 'allocated' : 'free';
}

/** The node a vertex is in (itself if it is one), or undefined above the nodes (the cluster). */
export function nodeOf(s: ResourceSnapshot, v: number): number | undefined {
  for (let x = v; x >= 0; x = s.parent[x]) if (s.type[x] === 'node') return x;
  return undefined;
}

/** The node vertices in snapshot order (for stepping through them by keyboard). */
export function nodeVertices(s: ResourceSnapshot): number[] {
  const out: number[] = [];
  for (let v = 0; v < s.type.length; v++) if (s.type[v] === 'node') out.push(v);
  return out;
}

/** "3m ago" style age of an epoch time. */
export function age(ts: number, now = Date.now() / 1000): string {
  const d = Math.max(0, Math.round(now - ts));
  if (d < 60) return `${d}s ago`;
  if (d < 3600) return `${Math.floor(d / 60)}m ago`;
  if (d < 86400) return `${Math.floor(d / 3600)}h${Math.floor((d % 3600) / 60)}m ago`;
  return `${Math.floor(d / 86400)}d ago`;
}

/** The line a node's hover and detail bar show for its rank's condition, '' when none. */
export function conditionText(s: ResourceSnapshot, rank: number, cond: RankCondition | undefined, now = Date.now() / 1000): string {
  if (rank < 0 || cond === undefined) return '';
  if (cond === 'offline') return 'offline (its broker is not running)';
  if (cond === 'excluded') return 'excluded by configuration';
  const d = s.ranks?.drained[rank];
  if (!d) return 'drained';
  const when = d.timestamp > 0 ? ` since ${new Date(d.timestamp * 1000).toLocaleString()} (${age(d.timestamp, now)})` : '';
  return `drained${when}${d.reason ? `: ${d.reason}` : ''}`;
}

/** Per vertex: 1 where the preview places the job, and how many placed leaves each vertex holds. */
export function placementMarks(parent: readonly number[], p: PlacementPreview | null): { placed: Uint8Array; inside: Int32Array } {
  const placed = new Uint8Array(parent.length);
  const inside = new Int32Array(parent.length);
  if (!p) return { placed, inside };
  for (const v of p.vertices) {
    if (v < 0 || v >= parent.length) continue;
    placed[v] = 1;
    for (let x = v; x >= 0; x = parent[x]) inside[x]++;
  }
  return { placed, inside };
}

/** What the hover says of vertex v: its path, then its state, its node's condition, the preview, its jobs. */
export function tipLines(
  s: ResourceSnapshot, c: { leaves: Int32Array; allocated: Int32Array; down: Int32Array }, v: number,
  conds: Map<number, RankCondition>, p: PlacementPreview | null, marks: { placed: Uint8Array; inside: Int32Array },
  now = Date.now() / 1000,
): { head: string; lines: string[] } {
  const lines: string[] = [];
  const held = c.leaves[v] > 1 ? ` — ${c.allocated[v]}/${c.leaves[v]} allocated${c.down[v] ? `, ${c.down[v]} down` : ''}` : '';
  lines.push(`${s.type[v]}${s.rank[v] >= 0 ? ` on rank ${s.rank[v]}` : ''}: ${s.state[v]}${held}`);
  const n = nodeOf(s, v);
  const cond = n === undefined ? '' : conditionText(s, s.rank[n], conds.get(s.rank[n]), now);
  if (n !== undefined && cond) lines.push(`${s.name[n]}: ${cond}`);
  if (p && marks.inside[v] > 0) {
    const what = p.kind === 'later' ? 'reserved for' : 'would go to';
    lines.push(marks.placed[v] ? `${what} ${p.source}` : `${marks.inside[v]} of its resources ${what} ${p.source}`);
  }
  if (s.jobs[v]) lines.push(`jobs: ${s.jobs[v]} (click to show)`);
  return { head: s.path[v] || s.name[v], lines };
}
