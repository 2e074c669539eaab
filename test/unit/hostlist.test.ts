import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeHostlist, encodeHostlist } from '../../broker/src/common/libhostlist/hostlist';

// Vectors from flux-core's libhostlist tests (decode, then encode).
const CODEC: [string, string, number][] = [
  ['foo-1a-2,foo-1a-3', 'foo-1a-[2-3]', 2],
  ['foo1,foo2,foo3,fooi', 'foo[1-3],fooi', 4],
  ['foo1,fooi,foo2,foo3', 'foo1,fooi,foo[2-3]', 4],
  ['fooi,foo1,foo2,foo3', 'fooi,foo[1-3]', 4],
  ['fooi,foo1,foo2,foo3,foo5,foo7,foo8', 'fooi,foo[1-3,5,7-8]', 7],
  ['1,2,3,4,5,9', '[1-5,9]', 6],
  [',1,2,3,4,5,9', '[1-5,9]', 6],
  [',1,2,3,4,5,9,', '[1-5,9]', 6],
  ['[1-5]', '[1-5]', 5],
  ['foo[1,3]-bar', 'foo1-bar,foo3-bar', 2],
  ['[00-03]p', '00p,01p,02p,03p', 4],
  ['p[00-3]p', 'p00p,p01p,p02p,p03p', 4],
  ['14636', '14636', 1],
  ['i[00-05]', 'i[00-05]', 6],
  ['foo[12,4,1-2],bar[26-30]', 'foo[12,4,1-2],bar[26-30]', 9],
  ['vm,vm,vm,vm', 'vm,vm,vm,vm', 4],
  ['', '', 0],
];

test('hostlists decode and encode as flux-core\'s libhostlist does', () => {
  for (const [input, output, count] of CODEC) {
    const hosts = decodeHostlist(input);
    assert.equal(hosts.length, count, input);
    assert.equal(encodeHostlist(hosts), output, input);
  }
  assert.deepEqual(decodeHostlist('node[1-3],login'), ['node1', 'node2', 'node3', 'login']);
});

test('bad hostlists are EINVAL; huge ranges ERANGE', () => {
  for (const bad of ['[]', 'foo[]', 'foo[', 'foo[1,3', 'foo[[1,3]', 'foo]', 'foo[x-y]', 'foo[0-1,2--5]']) {
    assert.throws(() => decodeHostlist(bad), (e: Error & { errnum?: number }) => e.errnum === 22, bad);
  }
  assert.throws(() => decodeHostlist('foo[0-1048576]'), (e: Error & { errnum?: number }) => e.errnum === 34);
});
