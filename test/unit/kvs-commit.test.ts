import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyOps, emptyDir, type ContentStore } from '../../broker/src/common/libkvs/commit';
import { CommitManager } from '../../broker/src/common/libkvs/commit-manager';
import { lookup } from '../../broker/src/common/libkvs/lookup';
import { KvsTxn, FLUX_KVS_NO_MERGE, FLUX_KVS_SYNC } from '../../broker/src/common/libkvs/txn';
import * as treeobj from '../../broker/src/common/libkvs/treeobj';
import { blobrefHash } from '../../broker/src/common/libcontent/blobref';
import { FluxError } from '../../broker/src/common/libflux/errno';

/** An in-memory content store that also counts traffic. */
class MemStore implements ContentStore {
  readonly blobs = new Map<string, Buffer>();
  loads = 0;
  async load(ref: string): Promise<Buffer> {
    this.loads++;
    const b = this.blobs.get(ref);
    if (!b) throw new FluxError(2);
    return Buffer.from(b);
  }
  async store(data: Buffer): Promise<string> {
    const ref = blobrefHash('sha1', data);
    this.blobs.set(ref, Buffer.from(data));
    return ref;
  }
  obj(ref: string): treeobj.TreeObj {
    const b = this.blobs.get(ref);
    assert.ok(b, `blob ${ref} stored`);
    return treeobj.decode(b);
  }
}

async function fresh(): Promise<{ s: MemStore; root: string }> {
  const s = new MemStore();
  const e = emptyDir();
  await s.store(e.data);
  return { s, root: e.blobref };
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

async function get(s: MemStore, root: string, key: string): Promise<string> {
  const r = await lookup(s, root, key);
  assert.ok('val' in r);
  return treeobj.decodeVal(r.val).toString();
}

test('put a=hello: the new root is the hash of flux-core\'s text of {a: val}', async () => {
  const { s, root } = await fresh();
  const r = await applyOps(s, root, new KvsTxn().put('a', 'hello').toOps());
  const text = '{"data":{"a":{"data":"aGVsbG8=","type":"val","ver":1}},"type":"dir","ver":1}';
  assert.equal(r.rootref, blobrefHash('sha1', Buffer.from(text)));
  assert.equal(s.blobs.get(r.rootref)?.toString(), text);
  assert.deepEqual(r.keys, ['a']);
});

test('intermediate directories are created and stored as dirrefs, copy-on-write', async () => {
  const { s, root } = await fresh();
  const r1 = await applyOps(s, root, new KvsTxn().put('a.b.c', '1').toOps());
  const top = s.obj(r1.rootref);
  const a = treeobj.getEntry(top, 'a');
  assert.equal(a.type, 'dirref');
  const b = treeobj.getEntry(s.obj(treeobj.getBlobref(a, 0)), 'b');
  assert.equal(b.type, 'dirref');
  const c = treeobj.getEntry(s.obj(treeobj.getBlobref(b, 0)), 'c');
  assert.equal(treeobj.encode(c), '{"data":"MQ==","type":"val","ver":1}');
  // A second commit touching a.x rewrites the path to a, leaves a.b's blob shared.
  const r2 = await applyOps(s, r1.rootref, new KvsTxn().put('a.x', '2').toOps());
  const a2 = s.obj(treeobj.getBlobref(treeobj.getEntry(s.obj(r2.rootref), 'a'), 0));
  assert.deepEqual(treeobj.getEntry(a2, 'b'), b);
  assert.equal(await get(s, r1.rootref, 'a.b.c'), '1', 'old root still reads as before');
  assert.equal(await get(s, r2.rootref, 'a.x'), '2');
});

test('vals whose base64 exceeds 72 characters become valrefs (§12 item 16)', async () => {
  const { s, root } = await fresh();
  const az = 'abcdefghijklmnopqrstuvwxyz'.repeat(4); // 104 bytes, 140 base64 chars
  const r = await applyOps(s, root, new KvsTxn()
    .put('long', az)
    .put('edge72', 'x'.repeat(54)) // exactly 72 base64 characters: stays a val
    .put('edge76', 'x'.repeat(55)) // 76: valref
    .toOps());
  const top = s.obj(r.rootref);
  assert.deepEqual(treeobj.getEntry(top, 'long'), { ver: 1, type: 'valref', data: ['sha1-d8cc4fd0a57d0e0e96cdb3e74164f734c593ed65'] });
  assert.equal(s.blobs.get('sha1-d8cc4fd0a57d0e0e96cdb3e74164f734c593ed65')?.toString(), az, 'raw bytes, no NUL');
  assert.equal(treeobj.getEntry(top, 'edge72').type, 'val');
  assert.equal(treeobj.getEntry(top, 'edge76').type, 'valref');
  assert.equal(await get(s, r.rootref, 'long'), az);
});

test('a put through a value replaces it with a directory; unlink through one is a no-op', async () => {
  const { s, root } = await fresh();
  const r1 = await applyOps(s, root, new KvsTxn().put('a.b', '1').toOps());
  const r2 = await applyOps(s, r1.rootref, new KvsTxn().put('a.b.c', '2').toOps());
  assert.equal(await get(s, r2.rootref, 'a.b.c'), '2');
  await rejectsWith(lookup(s, r2.rootref, 'a.b'), 21); // now a directory
  const r3 = await applyOps(s, r1.rootref, new KvsTxn().unlink('a.b.c').unlink('nope.x').unlink('nope').toOps());
  assert.equal(r3.rootref, r1.rootref, 'nothing changed, same root');
  const r4 = await applyOps(s, r2.rootref, new KvsTxn().unlink('a').toOps());
  assert.equal(r4.rootref, root, 'back to the empty directory');
});

test('append: missing -> val, val -> valref [old,new], valref grows; errors as kvstxn_append()', async () => {
  const { s, root } = await fresh();
  const r1 = await applyOps(s, root, new KvsTxn().append('log', 'one\n').toOps());
  assert.equal(treeobj.getEntry(s.obj(r1.rootref), 'log').type, 'val');
  const r2 = await applyOps(s, r1.rootref, new KvsTxn().append('log', 'two\n').toOps());
  const e2 = treeobj.getEntry(s.obj(r2.rootref), 'log');
  assert.deepEqual(e2, treeobj.createValref(blobrefHash('sha1', Buffer.from('one\n')), blobrefHash('sha1', Buffer.from('two\n'))));
  const r3 = await applyOps(s, r2.rootref, new KvsTxn().append('log', 'three\n').append('log', 'four\n').toOps());
  assert.equal(treeobj.getCount(treeobj.getEntry(s.obj(r3.rootref), 'log')), 4);
  assert.equal(await get(s, r3.rootref, 'log'), 'one\ntwo\nthree\nfour\n');
  const r4 = await applyOps(s, r3.rootref, new KvsTxn().mkdir('d').symlink('l', 'log').toOps());
  await rejectsWith(applyOps(s, r4.rootref, new KvsTxn().append('d', 'x').toOps()), 21);
  await rejectsWith(applyOps(s, r4.rootref, new KvsTxn().append('l', 'x').toOps()), 95);
  await rejectsWith(applyOps(s, r4.rootref, [{ key: 'log', flags: 32, dirent: treeobj.createDir() }]), 71);
});

test('symlinks in the middle of a key are followed; other namespaces and cycles are refused', async () => {
  const { s, root } = await fresh();
  const r1 = await applyOps(s, root, new KvsTxn().mkdir('a').symlink('l', 'a').symlink('x', 'y', 'other')
    .symlink('c1', 'c2').symlink('c2', 'c1').toOps(), { namespace: 'primary' });
  const r2 = await applyOps(s, r1.rootref, new KvsTxn().put('l.k', 'v').toOps(), { namespace: 'primary' });
  assert.equal(await get(s, r2.rootref, 'a.k'), 'v');
  assert.equal(treeobj.getEntry(s.obj(r2.rootref), 'l').type, 'symlink', 'the link itself is untouched');
  await rejectsWith(applyOps(s, r1.rootref, new KvsTxn().put('x.k', 'v').toOps(), { namespace: 'primary' }), 22);
  await rejectsWith(applyOps(s, r1.rootref, new KvsTxn().put('c1.k', 'v').toOps(), { namespace: 'primary' }), 40);
  // A final symlink is replaced, not followed.
  const r3 = await applyOps(s, r1.rootref, new KvsTxn().put('l', 'v').toOps());
  assert.equal(treeobj.getEntry(s.obj(r3.rootref), 'l').type, 'val');
});

test('errors: root, bad dirents, bad ops; a failed commit stores nothing', async () => {
  const { s, root } = await fresh();
  const before = s.blobs.size;
  await rejectsWith(applyOps(s, root, new KvsTxn().put('ok', 'x'.repeat(500)).toOps().concat([{ key: '.', flags: 0, dirent: treeobj.createDir() }])), 22);
  await rejectsWith(applyOps(s, root, [{ key: 'a', flags: 0, dirent: { ver: 1, type: 'val' } }]), 22);
  await rejectsWith(applyOps(s, root, [{ key: 'a', flags: 0 }]), 71);
  await rejectsWith(applyOps(s, 'sha1-0000000000000000000000000000000000000000', new KvsTxn().put('a', 'b').toOps()), 2);
  assert.equal(s.blobs.size, before);
  const r = await applyOps(s, root, []);
  assert.deepEqual(r, { rootref: root, keys: [] });
});

test('keys: normalized and unique, in op order', async () => {
  const { s, root } = await fresh();
  const r = await applyOps(s, root, new KvsTxn().put('.b..c.', '1').put('a', '2').put('b.c', '3').unlink('zz').toOps());
  assert.deepEqual(r.keys, ['b.c', 'a', 'zz']);
});

test('the commit manager merges adjacent mergeable transactions into one root', async () => {
  const { s, root } = await fresh();
  const m = new CommitManager(s, { rootref: root, rootseq: 0, namespace: 'primary' });
  const results = await Promise.all([
    m.submit({ name: 't1', ops: new KvsTxn().put('a', '1').toOps(), flags: 0 }),
    m.submit({ name: 't2', ops: new KvsTxn().put('b', '2').toOps(), flags: 0 }),
    m.submit({ name: 't3', ops: new KvsTxn().put('c', '3').toOps(), flags: 0 }),
  ]);
  assert.equal(m.rootseq, 1, 'one new root for the three');
  for (const r of results) {
    assert.equal(r.rootseq, 1);
    assert.deepEqual(r.names, ['t1', 't2', 't3']);
    assert.deepEqual(r.keys, ['a', 'b', 'c']);
  }
  assert.equal(await get(s, m.rootref, 'c'), '3');

  // NO_MERGE (and SYNC) stand alone, and stop merging across them.
  const r2 = await Promise.all([
    m.submit({ name: 'u1', ops: new KvsTxn().put('a', 'x').toOps(), flags: 0 }),
    m.submit({ name: 'u2', ops: new KvsTxn().put('a', 'y').toOps(), flags: FLUX_KVS_NO_MERGE }),
    m.submit({ name: 'u3', ops: new KvsTxn().put('a', 'z').toOps(), flags: 0 }),
  ]);
  assert.deepEqual(r2.map((r) => r.rootseq), [2, 3, 4]);
  assert.equal(await get(s, m.rootref, 'a'), 'z', 'applied in order');
});

test('a failing member of a merged group fails alone; the others are replayed one by one', async () => {
  const { s, root } = await fresh();
  const m = new CommitManager(s, { rootref: root, rootseq: 10, namespace: 'primary' });
  const ps = [
    m.submit({ name: 'good1', ops: new KvsTxn().put('a', '1').toOps(), flags: 0 }),
    m.submit({ name: 'bad', ops: [{ key: '.', flags: 0, dirent: treeobj.createDir() }], flags: 0 }),
    m.submit({ name: 'good2', ops: new KvsTxn().put('b', '2').toOps(), flags: 0 }),
  ];
  const settled = await Promise.allSettled(ps);
  assert.equal(settled[0].status, 'fulfilled');
  assert.equal(settled[2].status, 'fulfilled');
  assert.equal(settled[1].status, 'rejected');
  if (settled[1].status === 'rejected') assert.equal((settled[1].reason as FluxError).errnum, 22);
  if (settled[0].status === 'fulfilled' && settled[2].status === 'fulfilled') {
    assert.deepEqual([settled[0].value.rootseq, settled[2].value.rootseq], [11, 12]);
    assert.deepEqual(settled[0].value.names, ['good1']);
  }
  assert.equal(await get(s, m.rootref, 'a'), '1');
  assert.equal(await get(s, m.rootref, 'b'), '2');
});

test('SYNC: only in the primary namespace; the sync hook runs before the root moves', async () => {
  const { s, root } = await fresh();
  const synced: Array<[string, number]> = [];
  const m = new CommitManager(s, { rootref: root, rootseq: 0, namespace: 'primary', sync: async (r, q) => { synced.push([r, q]); } });
  const r = await m.submit({ name: 's', ops: new KvsTxn().put('a', '1').toOps(), flags: FLUX_KVS_SYNC });
  assert.deepEqual(synced, [[r.rootref, 1]]);
  const other = new CommitManager(s, { rootref: root, rootseq: 0, namespace: 'job-1' });
  await rejectsWith(other.submit({ name: 's', ops: [], flags: FLUX_KVS_SYNC }), 22);
  const failing = new CommitManager(s, { rootref: root, rootseq: 0, namespace: 'primary', sync: async () => { throw new FluxError(5); } });
  await rejectsWith(failing.submit({ name: 's', ops: new KvsTxn().put('a', '1').toOps(), flags: FLUX_KVS_SYNC }), 5);
  assert.equal(failing.rootref, root);
  assert.equal(failing.rootseq, 0);
});
