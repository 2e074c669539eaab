/**
 * Where each rank of the TBON goes on the page. A top-down tidy tree while it stays readable;
 * beyond that (a flat kary:32 tree of 1,024 ranks has ~1,000 leaves on one level) a radial
 * tree, leaves around a circle, so the whole instance fits in one view and zooming reads it.
 * Pure: unit-tested without a browser.
 */
import { stratify, tree, type HierarchyPointNode } from 'd3-hierarchy';

export interface Layout {
  mode: 'tidy' | 'radial';
  x: Float64Array;
  y: Float64Array;
  /** Bounding box of the node centres. */
  minX: number;
  minY: number;
  maxX: number;
  maxY: number;
  /** Distance between neighbouring nodes at scale 1 (for node and label sizes). */
  spacing: number;
}

interface Item {
  rank: number;
  parent: number;
}

/** Above this many nodes on the widest level the tidy tree gives way to the radial one. */
export const TIDY_MAX_WIDTH = 48;
const SPACING = 36;

export function widestLevel(parents: readonly number[]): number {
  const depth = new Int32Array(parents.length).fill(-1);
  const depthOf = (r: number): number => {
    if (depth[r] >= 0) return depth[r];
    // Iterative walk up: a deep binomial tree must not blow the stack.
    const path: number[] = [];
    let x = r;
    while (x >= 0 && depth[x] < 0) {
      path.push(x);
      x = parents[x];
    }
    let d = x < 0 ? -1 : depth[x];
    for (let i = path.length - 1; i >= 0; i--) depth[path[i]] = ++d;
    return depth[r];
  };
  const count = new Map<number, number>();
  for (let r = 0; r < parents.length; r++) {
    const d = depthOf(r);
    count.set(d, (count.get(d) ?? 0) + 1);
  }
  return Math.max(0, ...count.values());
}

export function layoutTbon(parents: readonly number[]): Layout {
  const n = parents.length;
  const x = new Float64Array(n);
  const y = new Float64Array(n);
  if (n === 0) return { mode: 'tidy', x, y, minX: 0, minY: 0, maxX: 0, maxY: 0, spacing: SPACING };
  const items: Item[] = parents.map((parent, rank) => ({ rank, parent }));
  const root = stratify<Item>()
    .id((d) => String(d.rank))
    .parentId((d) => (d.parent < 0 ? null : String(d.parent)))(items);
  // Children in rank order, as `flux overlay status` lists them.
  root.sort((a, b) => a.data.rank - b.data.rank);
  const radial = widestLevel(parents) > TIDY_MAX_WIDTH;
  let placed: HierarchyPointNode<Item>;
  if (!radial) {
    placed = tree<Item>().nodeSize([SPACING, SPACING * 2.2])(root);
    placed.each((d) => {
      x[d.data.rank] = d.x;
      y[d.data.rank] = d.y;
    });
  } else {
    // Leaves SPACING apart around the outer circle.
    const leaves = root.leaves().length;
    const height = Math.max(1, root.height);
    const radius = Math.max(SPACING * 4, (leaves * SPACING) / (2 * Math.PI));
    placed = tree<Item>()
      .size([2 * Math.PI, radius])
      .separation((a, b) => (a.parent === b.parent ? 1 : 2) / Math.max(1, a.depth))(root);
    placed.each((d) => {
      // Rings equally spaced whatever the depth, outermost at `radius`.
      const r = (d.depth / height) * radius;
      x[d.data.rank] = r * Math.cos(d.x - Math.PI / 2);
      y[d.data.rank] = r * Math.sin(d.x - Math.PI / 2);
    });
  }
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  for (let i = 0; i < n; i++) {
    minX = Math.min(minX, x[i]);
    maxX = Math.max(maxX, x[i]);
    minY = Math.min(minY, y[i]);
    maxY = Math.max(maxY, y[i]);
  }
  return { mode: radial ? 'radial' : 'tidy', x, y, minX, minY, maxX, maxY, spacing: SPACING };
}
