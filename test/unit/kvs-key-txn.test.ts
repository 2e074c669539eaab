import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeKey, normalizeKeyEx, splitKey } from '../../broker/src/common/libkvs/key';
import { decodeOp, FLUX_KVS_APPEND, KvsTxn } from '../../broker/src/common/libkvs/txn';
import { FluxError } from '../../broker/src/common/libflux/errno';

function errnumOf(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof FluxError ? e.errnum : -1;
  }
  return undefined;
}

test('key normalization as kvs_util_normalize_key()', () => {
  const cases: Array<[string, string, boolean]> = [
    ['a.b.c', 'a.b.c', false], ['a..b', 'a.b', false], ['a...b....c', 'a.b.c', false],
    ['.', '.', true], ['..', '.', true], ['...', '.', true], ['.a', 'a', false], ['a.', 'a', true],
    ['.a.', 'a', true], ['..a..', 'a', true], ['a', 'a', false], ['', '', false], ['.a.b.', 'a.b', true],
  ];
  for (const [inp, key, dir] of cases) assert.deepEqual(normalizeKeyEx(inp), { key, wantDirectory: dir }, inp);
  assert.equal(normalizeKey('job..0000.'), 'job.0000');
  assert.deepEqual(splitKey('a.b.c'), ['a', 'b', 'c']);
  assert.deepEqual(splitKey('a..b'), ['a', '', 'b'], 'no cleanup when splitting (symlink targets)');
});

test('transaction ops have flux-core\'s kvs.commit shape', () => {
  const txn = new KvsTxn()
    .put('a.b.c', 'hello')
    .putRaw('raw', Buffer.from([0, 1, 2]))
    .pack('p', { x: 1, y: [1, 2] })
    .putJson('j', { x: 1, y: [1, 2] })
    .mkdir('d')
    .unlink('gone')
    .symlink('l', 'a.b')
    .symlink('l2', 'x', 'job-1')
    .append('log', 'line\n')
    .putTreeobj('t', '{"data":"MQ==","type":"val","ver":1}');
  const ops = txn.toOps();
  assert.deepEqual(JSON.parse(JSON.stringify(ops.slice(0, 1))), [{ key: 'a.b.c', flags: 0, dirent: { ver: 1, type: 'val', data: 'aGVsbG8=' } }]);
  assert.equal(ops[1].dirent?.data, 'AAEC');
  // flux_kvs_txn_pack() writes jansson's default separators; services' own compact text differs.
  assert.equal(Buffer.from(ops[2].dirent?.data as string, 'base64').toString(), '{"x": 1, "y": [1, 2]}');
  assert.equal(Buffer.from(ops[3].dirent?.data as string, 'base64').toString(), '{"x":1,"y":[1,2]}');
  assert.deepEqual(ops[4].dirent, { ver: 1, type: 'dir', data: {} });
  assert.equal(ops[5].dirent, null);
  assert.deepEqual(ops[6].dirent?.data, { target: 'a.b' });
  assert.deepEqual(ops[7].dirent?.data, { namespace: 'job-1', target: 'x' });
  assert.equal(ops[8].flags, FLUX_KVS_APPEND);
  assert.equal(ops[9].dirent?.data, 'MQ==');
  assert.equal(txn.length, 10);
});

test('builder refuses what flux-core refuses', () => {
  const txn = new KvsTxn();
  assert.equal(errnumOf(() => txn.put('', 'x')), 22, 'empty key');
  assert.equal(errnumOf(() => txn.mkdir('d', FLUX_KVS_APPEND)), 22, 'APPEND only on puts');
  assert.equal(errnumOf(() => txn.put('k', 'x', 64)), 22, 'unknown op flag');
  assert.equal(errnumOf(() => txn.putTreeobj('k', '{"ver":1}')), 71, 'bad treeobj text is EPROTO');
  assert.equal(txn.length, 0);
});

test('decodeOp() is txn_decode_op(): exactly key, flags, dirent', () => {
  assert.deepEqual(decodeOp({ key: 'a', flags: 0, dirent: null }), { key: 'a', flags: 0, dirent: null });
  for (const bad of [null, [], { key: 'a', flags: 0 }, { key: 1, flags: 0, dirent: null }, { key: 'a', flags: 0.5, dirent: null },
    { key: 'a', flags: 0, dirent: null, x: 1 }]) {
    assert.equal(errnumOf(() => decodeOp(bad)), 71, JSON.stringify(bad));
  }
});
