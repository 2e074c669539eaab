/**
 * TBON shapes (flux-broker-attributes(7) `tbon.topo`): who is whose parent.
 * Pure logic, shared by brokers (routing), `flux start` and the extension.
 */
import { errno, FluxError } from '../common/libflux/errno';

export interface Topology {
  readonly spec: string;
  readonly size: number;
  parent(rank: number): number | undefined;
  children(rank: number): number[];
}

function kary(k: number, size: number, spec: string): Topology {
  return {
    spec,
    size,
    parent: (r) => (r === 0 ? undefined : k === 0 ? 0 : Math.floor((r - 1) / k)),
    children: (r) => {
      const out: number[] = [];
      if (k === 0) {
        if (r === 0) for (let i = 1; i < size; i++) out.push(i);
        return out;
      }
      for (let i = k * r + 1; i <= k * r + k && i < size; i++) out.push(i);
      return out;
    },
  };
}

/** Binomial tree: a rank's parent is the rank with its lowest set bit cleared. */
function binomial(size: number): Topology {
  let span = 1;
  while (span < size) span *= 2;
  return {
    spec: 'binomial',
    size,
    parent: (r) => (r === 0 ? undefined : r & (r - 1)),
    children: (r) => {
      const low = r === 0 ? span : r & -r;
      const out: number[] = [];
      for (let bit = 1; bit < low; bit *= 2) if (r + bit < size) out.push(r + bit);
      return out;
    },
  };
}

/**
 * Parse a `tbon.topo` value for an instance of `size` ranks.
 * Accepts `kary:K` (K >= 0; 0 means flat) and `binomial`.
 */
export function parseTopology(spec: string, size: number): Topology {
  if (!Number.isInteger(size) || size < 1) throw new FluxError(errno.EINVAL, `invalid instance size ${size}`);
  const m = /^kary:(\d+)$/.exec(spec);
  if (m) return kary(Number(m[1]), size, spec);
  if (spec === 'binomial') return binomial(size);
  throw new FluxError(errno.EINVAL, `unknown topology scheme '${spec}'`);
}

export function level(t: Topology, rank: number): number {
  let n = 0;
  for (let p = t.parent(rank); p !== undefined; p = t.parent(p)) n++;
  return n;
}

export function maxLevel(t: Topology): number {
  let max = 0;
  for (let r = 0; r < t.size; r++) max = Math.max(max, level(t, r));
  return max;
}

export function descendants(t: Topology, rank: number): number {
  let n = 0;
  for (const c of t.children(rank)) n += 1 + descendants(t, c);
  return n;
}

/** The child of `from` whose subtree holds `target`, or undefined if `target` is not below `from`. */
export function childToward(t: Topology, from: number, target: number): number | undefined {
  if (target < 0 || target >= t.size || target === from) return undefined;
  let r = target;
  for (let p = t.parent(r); p !== undefined; p = t.parent(r)) {
    if (p === from) return r;
    r = p;
  }
  return undefined;
}

/** The subtree rooted at `rank` in flux-core's `overlay.topology` form. */
export interface TopologyNode {
  rank: number;
  size: number;
  children: TopologyNode[];
}

export function subtree(t: Topology, rank: number): TopologyNode {
  const children = t.children(rank).map((c) => subtree(t, c));
  return { rank, size: 1 + children.reduce((s, c) => s + c.size, 0), children };
}
