// The TBON panel's layout (webviews/tbon/layout.ts): pure positions, checked without a browser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { layoutTbon, widestLevel, TIDY_MAX_WIDTH } from '../../webviews/tbon/layout';
import { parentsOf } from '../../extension/src/panels/tbon-feed';

/** Parents of a kary:K tree of n ranks, as flux-core numbers it. */
function kary(n: number, k: number): number[] {
  return Array.from({ length: n }, (_, r) => (r === 0 ? -1 : Math.floor((r - 1) / k)));
}

function minDistance(xs: Float64Array, ys: Float64Array): number {
  let best = Infinity;
  for (let i = 0; i < xs.length; i++) {
    for (let j = i + 1; j < xs.length; j++) best = Math.min(best, Math.hypot(xs[i] - xs[j], ys[i] - ys[j]));
  }
  return best;
}

test('a small tree is drawn top-down: children below their parent, in rank order', () => {
  const l = layoutTbon(kary(4, 2));
  assert.equal(l.mode, 'tidy');
  assert.ok(l.y[1] > l.y[0] && l.y[2] > l.y[0] && l.y[3] > l.y[1], 'each level lower than the one above');
  assert.equal(l.y[1], l.y[2]);
  assert.ok(l.x[1] < l.x[2], 'rank 1 left of rank 2');
  assert.ok(minDistance(l.x, l.y) >= l.spacing * 0.99, 'no two ranks overlap');
});

test('1,024 ranks in kary:32 go radial, every rank apart and readable', () => {
  const parents = kary(1024, 32);
  assert.ok(widestLevel(parents) > TIDY_MAX_WIDTH);
  const l = layoutTbon(parents);
  assert.equal(l.mode, 'radial');
  assert.ok(Math.abs(l.x[0]) < 1e-9 && Math.abs(l.y[0]) < 1e-9, 'rank 0 in the centre');
  // Leaves on the outer ring, at least half the node spacing apart (the zoom does the rest).
  assert.ok(minDistance(l.x, l.y) >= l.spacing * 0.5, `closest pair ${minDistance(l.x, l.y).toFixed(1)}`);
  for (let r = 0; r < 1024; r++) assert.ok(Number.isFinite(l.x[r]) && Number.isFinite(l.y[r]));
});

test('a deep binomial tree of 4,096 ranks lays out without recursion trouble', () => {
  const parents = Array.from({ length: 4096 }, (_, r) => (r === 0 ? -1 : r & (r - 1)));
  const l = layoutTbon(parents);
  assert.equal(l.x.length, 4096);
  assert.ok(l.maxX > l.minX && l.maxY > l.minY);
});

test('the topology from overlay.topology flattens to a parent per rank', () => {
  const topo = { rank: 0, children: [{ rank: 1, children: [{ rank: 3, children: [] }] }, { rank: 2, children: [] }] };
  assert.deepEqual(parentsOf(topo), [-1, 0, 0, 1]);
  assert.deepEqual(layoutTbon([]).x.length, 0);
});
