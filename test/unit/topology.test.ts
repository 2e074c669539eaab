import { test } from 'node:test';
import assert from 'node:assert/strict';
import { childToward, descendants, level, maxLevel, parseTopology, subtree } from '../../broker/src/broker/topology';

const edges = (spec: string, size: number): string =>
  Array.from({ length: size }, (_, r) => `${r}:[${parseTopology(spec, size).children(r).join(',')}]`).join(' ');

// The trees flux-core 0.88 drew for these (shared/reference/flux-core-behaviour/topology-examples.txt).
test('kary:2 of 8 matches flux overlay status', () => {
  assert.equal(edges('kary:2', 8), '0:[1,2] 1:[3,4] 2:[5,6] 3:[7] 4:[] 5:[] 6:[] 7:[]');
});

test('kary:3 of 8 matches flux overlay status', () => {
  assert.equal(edges('kary:3', 8), '0:[1,2,3] 1:[4,5,6] 2:[7] 3:[] 4:[] 5:[] 6:[] 7:[]');
});

test('binomial of 8 matches flux overlay status', () => {
  assert.equal(edges('binomial', 8), '0:[1,2,4] 1:[] 2:[3] 3:[] 4:[5,6] 5:[] 6:[7] 7:[]');
  const t = parseTopology('binomial', 8);
  for (let r = 1; r < 8; r++) assert.ok(t.children(t.parent(r)!).includes(r), `rank ${r} is a child of its parent`);
});

test('kary:32 and kary:0 are flat for 16; a size-1 instance has no links', () => {
  for (const s of ['kary:32', 'kary:0']) {
    const t = parseTopology(s, 16);
    assert.equal(t.children(0).length, 15);
    assert.equal(maxLevel(t), 1);
  }
  const one = parseTopology('kary:2', 1);
  assert.deepEqual(one.children(0), []);
  assert.equal(one.parent(0), undefined);
});

test('levels, descendants and routing toward a rank', () => {
  const t = parseTopology('kary:2', 16);
  // 15 -> 7 -> 3 -> 1 -> 0
  assert.equal(level(t, 15), 4);
  assert.equal(maxLevel(t), 4);
  assert.equal(descendants(t, 1), 7);
  assert.equal(childToward(t, 0, 15), 1);
  assert.equal(childToward(t, 1, 15), 3);
  assert.equal(childToward(t, 2, 15), undefined);
  assert.equal(childToward(t, 0, 99), undefined);
  assert.deepEqual(subtree(t, 6), { rank: 6, size: 3, children: [{ rank: 13, size: 1, children: [] }, { rank: 14, size: 1, children: [] }] });
  assert.equal(subtree(t, 0).size, 16);
});

test('bad topology specs are refused', () => {
  assert.throws(() => parseTopology('star', 4), /unknown topology scheme 'star'/);
  assert.throws(() => parseTopology('kary:x', 4));
  assert.throws(() => parseTopology('kary:2', 0));
});
