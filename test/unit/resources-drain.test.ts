// The resource graph's pure parts for drained / offline nodes and the placement preview:
// `resource.status`'s drain map (keyed by idsets) per rank, R's cores and GPUs found among the
// snapshot's vertices, and what the page marks and says (webviews/resources/status.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { snapshotFromR } from '../../extension/src/panels/resources-snapshot';
import { rankStatusFrom } from '../../extension/src/panels/resources-status';
import { verticesOfR } from '../../extension/src/panels/resources-placement';
import { cellKind, conditionText, nodeOf, placementMarks, rankConditions, tipLines } from '../../webviews/resources/status';
import { leafCounts } from '../../webviews/resources/layout';

const R = (ranks: string, cores: string, hosts: string[], gpus?: string) => ({
  version: 1,
  execution: { R_lite: [{ rank: ranks, children: { core: cores, ...(gpus ? { gpu: gpus } : {}) } }], nodelist: hosts, starttime: 0, expiration: 0 },
});

test('resource.status: each rank of an idset key gets its drain; offline and excluded idsets as ranks', () => {
  const s = rankStatusFrom({
    drain: { '1-2': { timestamp: 1700000000.5, reason: 'bad fan' }, '5': { timestamp: 1700000100 } },
    online: '0,3-4', offline: '6-7', exclude: '',
  });
  assert.deepEqual(s.drained, {
    1: { timestamp: 1700000000.5, reason: 'bad fan' }, 2: { timestamp: 1700000000.5, reason: 'bad fan' }, 5: { timestamp: 1700000100, reason: '' },
  });
  assert.deepEqual(s.offline, [6, 7]);
  assert.deepEqual(s.excluded, []);
  assert.deepEqual(rankStatusFrom({}).offline, [], 'an empty answer is no drain state');
});

test('a match\'s R names the snapshot\'s cores and GPUs by rank and id', () => {
  const snap = snapshotFromR(R('0-1', '0-3', ['vm0', 'vm1'], '0'), null, new Map(), 'u');
  const vs = verticesOfR(snap, R('1', '2-3', ['vm1'], '0'));
  assert.deepEqual(vs.map((v) => snap.path[v]), ['/cluster0/vm1/core2', '/cluster0/vm1/core3', '/cluster0/vm1/gpu0']);
  assert.deepEqual(verticesOfR(snap, R('7', '0', ['vm7'])), [], 'ranks the graph does not have: nothing');
});

test('the page: offline wins over drained; marks count placed leaves in every ancestor; the hover says why and since when', () => {
  const snap = snapshotFromR(R('0-1', '0-1', ['vm0', 'vm1']), null, new Map(), 'u');
  snap.ranks = { drained: { 0: { timestamp: 1000, reason: 'bad fan' }, 1: { timestamp: 1000, reason: '' } }, offline: [1], excluded: [] };
  const conds = rankConditions(snap);
  assert.equal(conds.get(0), 'drained');
  assert.equal(conds.get(1), 'offline');
  const core = snap.path.indexOf('/cluster0/vm0/core1');
  const node = nodeOf(snap, core) as number;
  assert.equal(snap.name[node], 'vm0');
  assert.equal(nodeOf(snap, 0), undefined, 'the cluster is in no node');
  assert.match(conditionText(snap, 0, 'drained', 1000 + 180), /^drained since .+ \(3m ago\): bad fan$/);
  assert.equal(conditionText(snap, 1, 'offline'), 'offline (its broker is not running)');

  const preview = { kind: 'later' as const, vertices: [core], at: 2000, message: 'It must wait', source: 'a.yaml' };
  const marks = placementMarks(snap.parent, preview);
  assert.deepEqual([marks.inside[0], marks.inside[node], marks.inside[core]], [1, 1, 1]);
  assert.equal(marks.placed[node], 0);
  const tip = tipLines(snap, leafCounts(snap.parent, (v) => snap.state[v]), core, conds, preview, marks, 1000 + 180);
  assert.equal(tip.head, '/cluster0/vm0/core1');
  assert.ok(tip.lines.some((l) => /^vm0: drained since .*bad fan$/.test(l)), tip.lines.join('\n'));
  assert.ok(tip.lines.includes('reserved for a.yaml'), tip.lines.join('\n'));
});

test('a cell\'s colour: offline over all, drained over free and down but not over a job still running there', () => {
  assert.equal(cellKind(true, 'allocated', 'offline', 0, 1, 0), 'offline');
  assert.equal(cellKind(true, 'free', 'drained', 0, 1, 0), 'drained');
  assert.equal(cellKind(true, 'down', 'drained', 0, 1, 1), 'drained');
  assert.equal(cellKind(true, 'allocated', 'drained', 1, 1, 0), 'allocated', 'draining: the job still holds it');
  assert.equal(cellKind(true, 'reserved', undefined, 1, 1, 0), 'reserved');
  assert.equal(cellKind(false, 'free', 'drained', 1, 4, 0), 'drained', 'a folded drained node, mostly idle');
  assert.equal(cellKind(false, 'free', undefined, 0, 4, 4), 'down');
  assert.equal(cellKind(false, 'free', undefined, 2, 4, 0), 'allocated');
  assert.equal(cellKind(false, 'free', undefined, 1, 4, 0), 'free');
});
