/**
 * Where each vertex of the resource graph goes: nested boxes (a cluster holds its nodes in a
 * grid, a node its sockets, a socket its cores), the containment read at a glance and compact
 * enough for ~1,000 cores on one screen. Vertices deeper than `maxDepth` are folded into their
 * ancestor, which is then drawn as one box coloured by what it holds. Pure: unit-tested.
 */

/** Leaf cell, gap between siblings, padding inside a box, and the label strip on top of one. */
export const CELL = 14;
const GAP = 2;
const PAD = 4;
const HEADER = 14;
/** A folded vertex (children hidden) is drawn this size. */
const FOLDED_W = 44;
const FOLDED_H = 26;
/** Grids lean wide: screens are. */
const ASPECT = 1.6;

export interface BoxLayout {
  /** x, y, w, h per vertex (NaN for vertices folded away). */
  x: Float64Array;
  y: Float64Array;
  w: Float64Array;
  h: Float64Array;
  depth: Int32Array;
  /** Drawn as a box with children inside (false: a leaf cell, or folded). */
  open: Uint8Array;
  width: number;
  height: number;
}

export function depths(parent: readonly number[]): Int32Array {
  const d = new Int32Array(parent.length);
  for (let v = 0; v < parent.length; v++) d[v] = parent[v] < 0 ? 0 : d[parent[v]] + 1;
  return d;
}

/** `parent` lists parents before their children (as the snapshot does). */
export function layoutBoxes(parent: readonly number[], maxDepth: number): BoxLayout {
  const n = parent.length;
  const depth = depths(parent);
  const kids: number[][] = Array.from({ length: n }, () => []);
  for (let v = 0; v < n; v++) if (parent[v] >= 0) kids[parent[v]].push(v);
  const x = new Float64Array(n).fill(NaN);
  const y = new Float64Array(n).fill(NaN);
  const w = new Float64Array(n);
  const h = new Float64Array(n);
  const open = new Uint8Array(n);
  const cols = new Int32Array(n);
  const cellW = new Float64Array(n);
  const cellH = new Float64Array(n);
  // Sizes, children first.
  for (let v = n - 1; v >= 0; v--) {
    const c = kids[v];
    if (c.length === 0) {
      w[v] = CELL;
      h[v] = CELL;
      continue;
    }
    if (depth[v] >= maxDepth) {
      w[v] = FOLDED_W;
      h[v] = FOLDED_H;
      continue;
    }
    open[v] = 1;
    let mw = 0;
    let mh = 0;
    for (const k of c) {
      mw = Math.max(mw, w[k]);
      mh = Math.max(mh, h[k]);
    }
    const nc = Math.max(1, Math.min(c.length, Math.ceil(Math.sqrt((c.length * mh * ASPECT) / mw))));
    const nr = Math.ceil(c.length / nc);
    cols[v] = nc;
    cellW[v] = mw;
    cellH[v] = mh;
    w[v] = nc * mw + (nc - 1) * GAP + 2 * PAD;
    h[v] = HEADER + nr * mh + (nr - 1) * GAP + 2 * PAD;
  }
  // Positions, parents first.
  for (let v = 0; v < n; v++) {
    if (parent[v] < 0) {
      x[v] = 0;
      y[v] = 0;
    }
    if (!open[v] || Number.isNaN(x[v])) continue;
    kids[v].forEach((k, i) => {
      const col = i % cols[v];
      const row = Math.floor(i / cols[v]);
      x[k] = x[v] + PAD + col * (cellW[v] + GAP);
      y[k] = y[v] + HEADER + PAD + row * (cellH[v] + GAP);
    });
  }
  let width = 0;
  let height = 0;
  for (let v = 0; v < n; v++) {
    if (parent[v] < 0) {
      width = Math.max(width, w[v]);
      height += h[v];
    }
  }
  return { x, y, w, h, depth, open, width, height };
}

/** Per vertex: how many leaves it holds, and how many of them are allocated / down. */
export function leafCounts(parent: readonly number[], leafState: (v: number) => 'free' | 'allocated' | 'reserved' | 'down'): {
  leaves: Int32Array; allocated: Int32Array; down: Int32Array;
} {
  const n = parent.length;
  const leaves = new Int32Array(n);
  const allocated = new Int32Array(n);
  const down = new Int32Array(n);
  const hasKids = new Uint8Array(n);
  for (let v = 0; v < n; v++) if (parent[v] >= 0) hasKids[parent[v]] = 1;
  for (let v = n - 1; v >= 0; v--) {
    if (!hasKids[v]) {
      leaves[v] = 1;
      const s = leafState(v);
      if (s === 'allocated' || s === 'reserved') allocated[v] = 1;
      if (s === 'down') down[v] = 1;
    }
    const p = parent[v];
    if (p >= 0) {
      leaves[p] += leaves[v];
      allocated[p] += allocated[v];
      down[p] += down[v];
    }
  }
  return { leaves, allocated, down };
}
