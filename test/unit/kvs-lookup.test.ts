import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyOps, emptyDir, type ContentStore } from '../../broker/src/common/libkvs/commit';
import { lookup, FLUX_KVS_READDIR, FLUX_KVS_READLINK, FLUX_KVS_TREEOBJ, type LookupResult } from '../../broker/src/common/libkvs/lookup';
import { KvsTxn } from '../../broker/src/common/libkvs/txn';
import * as treeobj from '../../broker/src/common/libkvs/treeobj';
import { blobrefHash } from '../../broker/src/common/libcontent/blobref';
import { FluxError } from '../../broker/src/common/libflux/errno';

class MemStore implements ContentStore {
  readonly blobs = new Map<string, Buffer>();
  async load(ref: string): Promise<Buffer> {
    const b = this.blobs.get(ref);
    if (!b) throw new FluxError(2);
    return b;
  }
  async store(data: Buffer): Promise<string> {
    const ref = blobrefHash('sha1', data);
    this.blobs.set(ref, Buffer.from(data));
    return ref;
  }
}

const ENOENT = 2, EISDIR = 21, ENOTDIR = 20, EINVAL = 22, ELOOP = 40;

async function setup(): Promise<{ s: MemStore; root: string; empty: string }> {
  const s = new MemStore();
  const e = emptyDir();
  await s.store(e.data);
  const txn = new KvsTxn()
    .put('a.b.c', '1')
    .put('a.b.d', 'hello')
    .put('big', 'abcdefghijklmnopqrstuvwxyz'.repeat(4))
    .append('log', 'one ')
    .symlink('l', 'a.b')
    .symlink('lc', 'a.b.c')
    .symlink('loop1', 'loop2')
    .symlink('loop2', 'loop1')
    .symlink('dangling', 'nowhere')
    .symlink('far', 'x.y', 'job-7')
    .symlink('chain0', 'chain1');
  for (let i = 1; i < 12; i++) txn.symlink(`chain${i}`, `chain${i + 1}`);
  txn.put('chain12', 'end');
  const r1 = await applyOps(s, e.blobref, txn.toOps(), { namespace: 'primary' });
  const r2 = await applyOps(s, r1.rootref, new KvsTxn().append('log', 'two').toOps());
  return { s, root: r2.rootref, empty: e.blobref };
}

async function val(p: Promise<LookupResult>): Promise<treeobj.TreeObj> {
  const r = await p;
  assert.ok('val' in r, 'value expected');
  return r.val;
}

async function str(p: Promise<LookupResult>): Promise<string> {
  return treeobj.decodeVal(await val(p)).toString();
}

async function rejectsWith(p: Promise<unknown>, errnum: number): Promise<void> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof FluxError, `FluxError expected, got ${String(e)}`);
    assert.equal(e.errnum, errnum, e.message);
    return;
  }
  assert.fail(`expected errno ${errnum}`);
}

test('values, valrefs and directories (kvs-put-abc recording)', async () => {
  const { s, root } = await setup();
  const o = { namespace: 'primary' };
  assert.equal(treeobj.encode(await val(lookup(s, root, 'a.b.c', o))), '{"data":"MQ==","type":"val","ver":1}');
  assert.equal(await str(lookup(s, root, 'a..b.d.', o)), 'hello', 'keys are normalized');
  assert.equal(await str(lookup(s, root, 'big', o)), 'abcdefghijklmnopqrstuvwxyz'.repeat(4), 'valref dereferenced');
  assert.equal(await str(lookup(s, root, 'log', o)), 'one two', 'appended blobs concatenated');
  await rejectsWith(lookup(s, root, 'a', o), EISDIR); // flux kvs get a: Is a directory
  await rejectsWith(lookup(s, root, 'a.b', o), EISDIR);
  await rejectsWith(lookup(s, root, 'a.nonexist', o), ENOENT);
  await rejectsWith(lookup(s, root, 'a.b.c.d', o), ENOENT); // through a value: ENOENT, as kvs.c answers
  await rejectsWith(lookup(s, root, 'big.x', o), ENOENT);
  const dir = await val(lookup(s, root, 'a.b', { ...o, flags: FLUX_KVS_READDIR }));
  assert.equal(dir.type, 'dir');
  assert.deepEqual(Object.keys(dir.data as object).sort(), ['c', 'd']);
  await rejectsWith(lookup(s, root, 'a.b.c', { ...o, flags: FLUX_KVS_READDIR }), ENOTDIR);
  await rejectsWith(lookup(s, root, 'big', { ...o, flags: FLUX_KVS_READDIR }), ENOTDIR);
});

test('TREEOBJ returns entries as stored; the root', async () => {
  const { s, root, empty } = await setup();
  assert.equal((await val(lookup(s, root, 'big', { flags: FLUX_KVS_TREEOBJ }))).type, 'valref');
  assert.equal((await val(lookup(s, root, 'a', { flags: FLUX_KVS_TREEOBJ }))).type, 'dirref');
  assert.equal((await val(lookup(s, root, 'l', { flags: FLUX_KVS_TREEOBJ }))).type, 'symlink');
  assert.deepEqual(await val(lookup(s, root, '.', { flags: FLUX_KVS_TREEOBJ })), treeobj.createDirref(root));
  await rejectsWith(lookup(s, root, '.'), EISDIR);
  const top = await val(lookup(s, empty, '.', { flags: FLUX_KVS_READDIR }));
  assert.equal(treeobj.encode(top), '{"data":{},"type":"dir","ver":1}');
  // lookupat with a "root" that is not a directory is the caller's error.
  const valblob = await s.store(Buffer.from('{"data":"MQ==","type":"val","ver":1}'));
  await rejectsWith(lookup(s, valblob, 'x'), EINVAL);
  await rejectsWith(lookup(s, valblob, '.', { flags: FLUX_KVS_READDIR }), 131);
});

test('symlinks: followed mid-path and at the end, READLINK, ELOOP at 10 levels', async () => {
  const { s, root } = await setup();
  const o = { namespace: 'primary' };
  assert.equal(await str(lookup(s, root, 'l.d', o)), 'hello');
  assert.equal(await str(lookup(s, root, 'lc', o)), '1');
  await rejectsWith(lookup(s, root, 'l', o), EISDIR);
  assert.equal((await val(lookup(s, root, 'l', { ...o, flags: FLUX_KVS_READDIR }))).type, 'dir');
  assert.deepEqual((await val(lookup(s, root, 'l', { ...o, flags: FLUX_KVS_READLINK }))).data, { target: 'a.b' });
  await rejectsWith(lookup(s, root, 'a.b.c', { ...o, flags: FLUX_KVS_READLINK }), EINVAL);
  await rejectsWith(lookup(s, root, 'l', { ...o, flags: FLUX_KVS_READLINK | FLUX_KVS_READDIR }), ENOTDIR);
  await rejectsWith(lookup(s, root, 'a', { ...o, flags: FLUX_KVS_READLINK | FLUX_KVS_READDIR }), EINVAL);
  await rejectsWith(lookup(s, root, 'loop1', o), ELOOP);
  await rejectsWith(lookup(s, root, 'dangling', o), ENOENT);
  // chainN -> chainN+1 -> ... -> chain12 = "end". Ten links resolve (chain2); the eleventh
  // would be followed at depth 10 = SYMLINK_CYCLE_LIMIT, which is ELOOP (chain1, chain0).
  assert.equal(await str(lookup(s, root, 'chain2', o)), 'end', 'ten links are fine');
  await rejectsWith(lookup(s, root, 'chain1', o), ELOOP);
  await rejectsWith(lookup(s, root, 'chain0', o), ELOOP);
});

test('a symlink into another namespace is reported for the caller to follow', async () => {
  const { s, root } = await setup();
  assert.deepEqual(await lookup(s, root, 'far', { namespace: 'primary' }), { redirect: { namespace: 'job-7', key: 'x.y', symlinkDepth: 1 } });
  assert.deepEqual(await lookup(s, root, 'far.z.w', { namespace: 'primary' }), { redirect: { namespace: 'job-7', key: 'x.y.z.w', symlinkDepth: 1 } });
  assert.deepEqual((await val(lookup(s, root, 'far', { namespace: 'primary', flags: FLUX_KVS_READLINK }))).data,
    { namespace: 'job-7', target: 'x.y' });
  // Continuing there with the depth carried over still ends cycles.
  await rejectsWith(lookup(s, root, 'loop1', { namespace: 'primary', symlinkDepth: 10 }), ELOOP);
  // The same namespace is followed locally.
  const r = await applyOps(s, root, new KvsTxn().symlink('self', 'a.b.c', 'primary').toOps());
  assert.equal(await str(lookup(s, r.rootref, 'self', { namespace: 'primary' })), '1');
});

test('corrupt objects inside the tree are ENOTRECOVERABLE; missing blobs pass the store error', async () => {
  const s = new MemStore();
  const junk = await s.store(Buffer.from('not json'));
  const dir = treeobj.createDir();
  treeobj.insertEntry(dir, 'bad', treeobj.createDirref(junk));
  treeobj.insertEntry(dir, 'gone', treeobj.createValref(blobrefHash('sha1', Buffer.from('never stored'))));
  treeobj.insertEntry(dir, 'inline', treeobj.createDir());
  const root = await s.store(treeobj.encodeBuffer(dir));
  await rejectsWith(lookup(s, root, 'bad.x'), 131);
  await rejectsWith(lookup(s, root, 'bad', { flags: FLUX_KVS_READDIR }), 131);
  await rejectsWith(lookup(s, root, 'gone'), ENOENT);
  await rejectsWith(lookup(s, root, 'inline.x'), 131); // stored trees never hold inline dirs
  await rejectsWith(lookup(s, root, 'missing', { flags: 0 }), ENOENT);
});
