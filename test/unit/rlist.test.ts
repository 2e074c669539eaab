import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as os from 'node:os';
import { probeMachine } from '../../broker/src/common/librlist/probe';
import { Rlist } from '../../broker/src/common/librlist/rlist';

const range = (n: number): number[] => [...Array(n).keys()];

test('R of a 4-rank test instance is what flux-core writes to resource.R', () => {
  const R = new Rlist(range(4).map((rank) => ({ rank, hostname: 'vm', cores: [0, 1], gpus: [] })));
  assert.equal(R.encode(),
    '{"version":1,"execution":{"R_lite":[{"rank":"0-3","children":{"core":"0-1"}}],"starttime":0.0,"expiration":0.0,"nodelist":["vm,vm,vm,vm"]}}');
  assert.deepEqual([R.nnodes, R.ncores, R.ngpus], [4, 8, 0]);
});

test('ranks with different children get their own entries; gpus and hostlists fold', () => {
  const R = new Rlist([
    { rank: 0, hostname: 'node1', cores: [0, 1, 2, 3], gpus: [0] },
    { rank: 1, hostname: 'node2', cores: [0, 1, 2, 3], gpus: [0] },
    { rank: 2, hostname: 'node3', cores: [0, 1], gpus: [] },
  ]).toR();
  assert.deepEqual(R.execution.R_lite, [
    { rank: '0-1', children: { core: '0-3', gpu: '0' } },
    { rank: '2', children: { core: '0-1' } },
  ]);
  assert.deepEqual(R.execution.nodelist, ['node[1-3]']);
});

test('R parses back, and bad R is EINVAL with the reason', () => {
  const text = '{"version":1,"execution":{"R_lite":[{"rank":"19-22","children":{"core":"0-47","gpu":"0-7"}}],"nodelist":["node[186-189]"],"starttime":1676560542,"expiration":1676562342}}';
  const R = Rlist.fromR(JSON.parse(text));
  assert.deepEqual([R.nnodes, R.ncores, R.ngpus], [4, 192, 32]);
  assert.equal(R.ranks[3].hostname, 'node189');
  assert.equal(R.ranks[0].rank, 19);
  assert.throws(() => Rlist.fromR({ version: 2 }), /invalid R: version must be 1/);
  assert.throws(() => Rlist.fromR({ version: 1, execution: { R_lite: [{ rank: '0', children: {} }] } }), /children.core is required/);
  assert.throws(() => Rlist.fromR({ version: 1, execution: { R_lite: [{ rank: '0-1', children: { core: '0' } }], nodelist: ['a'] } }), /nodelist does not match/);
});

test('the machine probe finds this machine\'s cores (no more than its CPUs), numbered 0..n-1', async () => {
  const m = await probeMachine();
  assert.ok(m.cores.length >= 1 && m.cores.length <= os.cpus().length, JSON.stringify(m));
  assert.deepEqual(m.cores.map((c) => c.index), range(m.cores.length));
  assert.equal(new Set(m.cores.flatMap((c) => c.cpus)).size, m.cores.reduce((n, c) => n + c.cpus.length, 0), 'no CPU in two cores');
  assert.equal(m.hostname, os.hostname());
});
