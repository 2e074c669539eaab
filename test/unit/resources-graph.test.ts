// The resource graph panel's pure parts: the snapshot built from R (any scheduler) or from
// Fluxion's JGF, and the nested-box layout (webviews/resources/layout.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { snapshotFromJgf, snapshotFromR } from '../../extension/src/panels/resources-feed';
import { layoutBoxes, leafCounts } from '../../webviews/resources/layout';

const R = (ranks: string, cores: string, hosts: string[]) => ({
  version: 1, execution: { R_lite: [{ rank: ranks, children: { core: cores } }], nodelist: hosts, starttime: 0, expiration: 0 },
});

test('from R: cluster, a node per rank, its cores; a running job\'s cores allocated to it; down ranks down', () => {
  const all = R('0-1', '0-3', ['vm0', 'vm1']);
  const jobs = new Map<string, unknown>([['ƒAbc', R('1', '2-3', ['vm1'])]]);
  const s = snapshotFromR(all, R('0', '0-3', ['vm0']), jobs, 'local:///x');
  assert.equal(s.source, 'R');
  assert.deepEqual(s.type, ['cluster', 'node', 'core', 'core', 'core', 'core', 'node', 'core', 'core', 'core', 'core']);
  assert.deepEqual(s.parent, [-1, 0, 1, 1, 1, 1, 0, 6, 6, 6, 6]);
  assert.deepEqual(s.path.slice(6, 8), ['/cluster0/vm1', '/cluster0/vm1/core0']);
  assert.deepEqual(s.state.slice(1, 3), ['down', 'down']);
  assert.deepEqual(s.state.slice(7), ['free', 'free', 'allocated', 'allocated']);
  assert.deepEqual(s.jobs.slice(9), ['ƒAbc', 'ƒAbc']);
  assert.equal(s.jobs[6], 'ƒAbc', 'a node lists the jobs on it');
});

test('from Fluxion\'s JGF: parents, paths, states and job ids (F58)', () => {
  const jgf = { graph: { nodes: [
    { id: '0', metadata: { type: 'cluster', name: 'cluster0', rank: -1, paths: { containment: '/cluster0' }, status: 'up', state: 'free', jobs: [], parent: -1 } },
    { id: '1', metadata: { type: 'node', name: 'node0', rank: 0, paths: { containment: '/cluster0/node0' }, status: 'up', state: 'allocated', jobs: [1234], parent: 0 } },
    { id: '2', metadata: { type: 'core', name: 'core0', rank: 0, paths: { containment: '/cluster0/node0/core0' }, status: 'down', state: 'free', jobs: [], parent: 1 } },
  ] } };
  const s = snapshotFromJgf(jgf, 'u');
  assert.deepEqual(s.parent, [-1, 0, 1]);
  assert.deepEqual(s.state, ['free', 'allocated', 'down']);
  assert.match(s.jobs[1], /^ƒ/);
});

function contains(a: number[], b: number[]): boolean {
  return b[0] >= a[0] && b[1] >= a[1] && b[0] + b[2] <= a[0] + a[2] + 1e-9 && b[1] + b[3] <= a[1] + a[3] + 1e-9;
}

test('nested boxes: 16 nodes × 2 sockets × 32 cores, every box inside its parent, siblings apart', () => {
  const parent: number[] = [-1];
  for (let n = 0; n < 16; n++) {
    const node = parent.push(0) - 1;
    for (let s = 0; s < 2; s++) {
      const sock = parent.push(node) - 1;
      for (let c = 0; c < 32; c++) parent.push(sock);
    }
  }
  const L = layoutBoxes(parent, 99);
  const box = (v: number): number[] => [L.x[v], L.y[v], L.w[v], L.h[v]];
  for (let v = 1; v < parent.length; v++) assert.ok(contains(box(parent[v]), box(v)), `vertex ${v} outside its parent`);
  // Siblings of one socket do not overlap.
  const kids = parent.map((p, v) => (p === 2 ? v : -1)).filter((v) => v >= 0);
  for (let i = 0; i < kids.length; i++) {
    for (let j = i + 1; j < kids.length; j++) {
      const [a, b] = [box(kids[i]), box(kids[j])];
      assert.ok(a[0] + a[2] <= b[0] || b[0] + b[2] <= a[0] || a[1] + a[3] <= b[1] || b[1] + b[3] <= a[1], `cores ${kids[i]} and ${kids[j]} overlap`);
    }
  }
  assert.ok(L.width / L.height > 1 && L.width / L.height < 4, `a screen-shaped whole: ${L.width}×${L.height}`);
  // Folded to the nodes: sockets and cores get no place.
  const F = layoutBoxes(parent, 1);
  assert.ok(Number.isNaN(F.x[2]) && !Number.isNaN(F.x[1]));
  const counts = leafCounts(parent, (v) => (v === 3 ? 'allocated' : 'free'));
  assert.equal(counts.leaves[0], 1024);
  assert.equal(counts.allocated[0], 1);
  assert.equal(counts.allocated[1], 1);
});
