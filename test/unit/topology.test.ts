import { test } from 'node:test';
import assert from 'node:assert/strict';
import { childToward, criticalRanks, descendants, level, maxLevel, mincritChooseK, parseTopology, subtree } from '../../broker/src/broker/topology';
import { FluxError } from '../../broker/src/common/libflux/errno';

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

/** EINVAL with exactly flux-core's topology.c text. */
const refused = (spec: string, size: number, text: string): void => {
  assert.throws(() => parseTopology(spec, size), (e: unknown) => e instanceof FluxError && e.errnum === 22 && e.message === text, spec);
};

test('bad topology specs are refused with flux-core\'s messages', () => {
  refused('star', 4, "unknown topology scheme 'star'");
  refused('star:3', 4, "unknown topology scheme 'star'");
  refused('kary:x', 4, 'kary k value must be an integer >= 0');
  refused('kary', 4, 'kary k value must be an integer >= 0');
  refused('kary:', 4, 'kary k value must be an integer >= 0');
  refused('kary:-1', 4, 'kary k value must be an integer >= 0');
  refused('mincrit:two', 4, 'mincrit k value must be an integer >= 0');
  refused('binomial:3', 4, "unknown binomial topology directive: '3'");
  refused('custom:x', 4, "unknown custom topology directive: 'x'");
  refused('kary:2', 0, 'invalid topology size 0');
  // An empty directive is no directive, as in flux-core.
  assert.equal(parseTopology('binomial:', 4).parent(3), 2);
  assert.equal(parseTopology('custom', 4).children(0).length, 3);
});

/** Every rank's parent, level and children must agree with each other. */
function consistent(spec: string, size: number): void {
  const t = parseTopology(spec, size);
  let seen = 1;
  for (let r = 0; r < size; r++) {
    const p = t.parent(r);
    if (r === 0) assert.equal(p, undefined);
    else {
      assert.ok(p !== undefined && p < size && t.children(p).includes(r), `${spec}/${size}: ${r} under ${p}`);
      assert.equal(level(t, r), level(t, p) + 1);
    }
    const kids = t.children(r);
    assert.deepEqual(kids, [...kids].sort((a, b) => a - b), 'children in rank order');
    for (const c of kids) assert.equal(t.parent(c), r);
    seen += kids.length;
  }
  assert.equal(seen, size, 'every rank is somebody\'s child exactly once');
  assert.equal(descendants(t, 0), size - 1);
}

test('mincrit:K: K routers under rank 0, the other ranks dealt out to them in turn', () => {
  // flux-core: leaf i > K has parent ((i - K - 1) mod K) + 1.
  assert.equal(edges('mincrit:2', 8), '0:[1,2] 1:[3,5,7] 2:[4,6] 3:[] 4:[] 5:[] 6:[] 7:[]');
  assert.equal(edges('mincrit:3', 4), '0:[1,2,3] 1:[] 2:[] 3:[]');
  assert.equal(edges('mincrit:0', 4), '0:[1,2,3] 1:[] 2:[] 3:[]');
  assert.equal(edges('mincrit:5', 3), '0:[1,2] 1:[] 2:[]', 'more routers than ranks: flat');
  const t = parseTopology('mincrit:4', 64);
  assert.deepEqual(t.children(0), [1, 2, 3, 4]);
  assert.deepEqual(t.children(1).slice(0, 3), [5, 9, 13]);
  assert.equal(t.children(1).length, 15);
  assert.equal(t.children(4).length, 14);
  assert.equal(t.parent(63), ((63 - 4 - 1) % 4) + 1);
  assert.equal(maxLevel(t), 2);
  assert.deepEqual(criticalRanks(t), [0, 1, 2, 3, 4]);
  for (const [spec, size] of [['mincrit:4', 64], ['mincrit:7', 1025], ['mincrit:1', 16]] as const) consistent(spec, size);
});

test('mincrit without K is flat up to 1025 ranks, then picks the fewest routers (>= 2) keeping fanout <= 1024', () => {
  for (const size of [1, 4, 16, 64, 1025]) {
    const t = parseTopology('mincrit', size);
    assert.equal(t.children(0).length, size - 1, `size ${size}`);
    assert.equal(maxLevel(t), size > 1 ? 1 : 0);
    for (let r = 1; r < size; r++) assert.deepEqual([t.parent(r), level(t, r), t.children(r).length], [0, 1, 0]);
    consistent('mincrit', size);
    assert.equal(edges('mincrit:', size), edges('mincrit', size));
  }
  assert.equal(mincritChooseK(1025), 0);
  assert.equal(mincritChooseK(1026), 2, 'K = 1 is never chosen');
  assert.equal(mincritChooseK(2051), 2); // 2048 leaves: 1024 each
  assert.equal(mincritChooseK(2052), 3);
  assert.equal(mincritChooseK(10_000), 10); // 9989 leaves / 10 routers = 999
  assert.equal(mincritChooseK(17, 4), 4, 'the limit is a parameter (flux-core passes 1024)');
  const big = parseTopology('mincrit', 1026);
  assert.deepEqual(big.children(0), [1, 2]);
  assert.equal(big.children(1).length, 512);
  assert.equal(big.children(2).length, 511);
  assert.equal(maxLevel(big), 2);
});

test('parent, children and level for sizes 1, 4, 16, 64 and 1025 in every scheme', () => {
  for (const size of [1, 4, 16, 64, 1025]) {
    for (const spec of ['kary:2', 'kary:32', 'kary:0', 'binomial', 'mincrit', 'mincrit:3']) consistent(spec, size);
  }
  const b = parseTopology('binomial', 64);
  assert.deepEqual(b.children(0), [1, 2, 4, 8, 16, 32]);
  assert.deepEqual(b.children(32), [33, 34, 36, 40, 48]);
  assert.equal(b.parent(63), 62);
  assert.equal(level(b, 63), 6);
  assert.equal(maxLevel(b), 6);
  const b1025 = parseTopology('binomial', 1025);
  assert.deepEqual(b1025.children(1024), [], 'rank 1024 alone in the upper half');
  assert.equal(b1025.parent(1024), 0);
  assert.equal(maxLevel(b1025), 10);
  const k = parseTopology('kary:2', 1025);
  assert.equal(k.parent(1024), 511);
  assert.equal(maxLevel(k), 10);
  const one = parseTopology('mincrit:3', 1);
  assert.deepEqual([one.parent(0), one.children(0), maxLevel(one)], [undefined, [], 0]);
});
