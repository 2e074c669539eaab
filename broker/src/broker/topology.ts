/**
 * TBON shapes (flux-broker-attributes(7) `tbon.topo`): who is whose parent.
 * Pure logic, shared by brokers (routing), `flux start` and the extension.
 *
 * Like flux-core's topology.c, every shape is a parent table: rank 0 starts out
 * as everyone's parent and each scheme rewrites the entries it cares about, so
 * children come out in rank order whatever the scheme.
 */
import { errno, FluxError } from '../common/libflux/errno';

export interface Topology {
  readonly spec: string;
  readonly size: number;
  parent(rank: number): number | undefined;
  children(rank: number): number[];
}

/** Router fanout above which `mincrit` without K stops putting every rank under rank 0. */
export const MINCRIT_MAX_FANOUT = 1024;

class ParentTable implements Topology {
  private readonly kids: number[][];

  constructor(readonly spec: string, private readonly parents: Int32Array) {
    this.kids = Array.from({ length: parents.length }, () => []);
    for (let r = 1; r < parents.length; r++) this.kids[parents[r]].push(r);
  }

  get size(): number {
    return this.parents.length;
  }

  parent(rank: number): number | undefined {
    if (rank <= 0 || rank >= this.parents.length) return undefined;
    return this.parents[rank];
  }

  children(rank: number): number[] {
    return this.kids[rank]?.slice() ?? [];
  }
}

/** flux-core reads K with strtoul: digits only here (a sign or blanks would be accepted there by accident). */
function parseK(path: string | undefined): number | undefined {
  if (path === undefined || !/^\d+$/.test(path)) return undefined;
  const k = Number(path);
  return Number.isSafeInteger(k) ? k : undefined;
}

function bad(text: string): FluxError {
  return new FluxError(errno.EINVAL, text);
}

/** Each rank's parent in a complete K-ary tree (K = 0: all under rank 0). */
function kary(parents: Int32Array, path: string | undefined): void {
  const k = parseK(path);
  if (k === undefined) throw bad('kary k value must be an integer >= 0');
  if (k > 0) for (let r = 1; r < parents.length; r++) parents[r] = Math.floor((r - 1) / k);
}

/** Leaves per router when `size` ranks are spread under K routers (ceiling division). */
function mincritRouterFanout(size: number, k: number): number {
  return Math.ceil((size - 1 - k) / k);
}

/**
 * The K flux-core picks for `mincrit` without one: 0 (flat) while rank 0 can take
 * every other rank within the fanout limit; otherwise the smallest K >= 2 whose
 * routers stay within it (K = 1 would only move rank 0's load to rank 1).
 */
export function mincritChooseK(size: number, maxFanout = MINCRIT_MAX_FANOUT): number {
  if (size <= maxFanout + 1) return 0;
  let k = 2;
  while (mincritRouterFanout(size, k) > maxFanout) k++;
  return k;
}

/**
 * At most three levels: ranks 1..K are routers under rank 0, and the remaining
 * ranks are dealt out to the routers in turn (rank i > K goes to ((i-K-1) mod K)+1).
 */
function mincrit(parents: Int32Array, path: string | undefined): void {
  let k: number | undefined;
  if (path === undefined || path === '') k = mincritChooseK(parents.length);
  else k = parseK(path);
  if (k === undefined) throw bad('mincrit k value must be an integer >= 0');
  if (k > 0) for (let r = k + 1; r < parents.length; r++) parents[r] = ((r - k - 1) % k) + 1;
}

/** The smallest binomial tree holding every rank: a rank's parent is itself less its lowest set bit. */
function binomial(parents: Int32Array, path: string | undefined): void {
  if (path !== undefined && path !== '') throw bad(`unknown binomial topology directive: '${path}'`);
  for (let r = 1; r < parents.length; r++) parents[r] = r & (r - 1);
}

/**
 * `custom` takes its edges from a TOML [bootstrap] host table; a test instance
 * boots without one, so (as in flux-core) every rank stays under rank 0.
 */
function custom(_parents: Int32Array, path: string | undefined): void {
  if (path !== undefined && path !== '') throw bad(`unknown custom topology directive: '${path}'`);
}

const SCHEMES: Record<string, (parents: Int32Array, path: string | undefined) => void> = { kary, mincrit, binomial, custom };

/**
 * Parse a `tbon.topo` value (`kary:K`, `mincrit[:K]`, `binomial`, `custom`) for an
 * instance of `size` ranks. Errors carry flux-core's texts (EINVAL).
 */
export function parseTopology(spec: string, size: number): Topology {
  if (!Number.isInteger(size) || size < 1) throw bad(`invalid topology size ${size}`);
  const colon = spec.indexOf(':');
  const name = colon < 0 ? spec : spec.slice(0, colon);
  const path = colon < 0 ? undefined : spec.slice(colon + 1);
  const scheme = Object.prototype.hasOwnProperty.call(SCHEMES, name) ? SCHEMES[name] : undefined;
  if (!scheme) throw bad(`unknown topology scheme '${name}'`);
  const parents = new Int32Array(size); // all zero: rank 0 is everyone's parent to start with
  scheme(parents, path);
  return new ParentTable(spec, parents);
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

/** Rank 0 and every rank with children: the ranks whose loss cuts others off (`broker.critical-ranks`). */
export function criticalRanks(t: Topology): number[] {
  const out: number[] = [];
  for (let r = 0; r < t.size; r++) if (r === 0 || t.children(r).length > 0) out.push(r);
  return out;
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
