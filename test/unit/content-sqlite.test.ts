import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { ContentSqliteStore } from '../../broker/src/modules/content-sqlite/store';
import { lz4DecompressBlock } from '../../broker/src/modules/content-sqlite/lz4';
import { blobrefHash, blobrefToDigest } from '../../broker/src/common/libcontent/blobref';
import { checkpointValue } from '../../broker/src/common/libkvs/checkpoint';
import { FluxError } from '../../broker/src/common/libflux/errno';
import { applyOps, emptyDir } from '../../broker/src/common/libkvs/commit';
import { lookup } from '../../broker/src/common/libkvs/lookup';
import { KvsTxn } from '../../broker/src/common/libkvs/txn';
import * as treeobj from '../../broker/src/common/libkvs/treeobj';

function tmpdir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'content-sqlite-test-'));
}

async function rejectsWith(p: Promise<unknown>, errnum: number): Promise<FluxError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof FluxError, `FluxError expected, got ${String(e)}`);
    assert.equal(e.errnum, errnum, e.message);
    return e;
  }
  assert.fail(`expected errno ${errnum}`);
}

function openFails(file: string): FluxError {
  try {
    ContentSqliteStore.open(file).close().catch(() => undefined);
  } catch (e) {
    assert.ok(e instanceof FluxError, `FluxError expected, got ${String(e)}`);
    return e;
  }
  assert.fail(`opening ${file} should fail`);
}

test('store/load round trip, dedupe, small and compressed blobs, flux-core row format', async () => {
  const dir = tmpdir();
  const file = path.join(dir, 'content.sqlite');
  const s = ContentSqliteStore.open(file);
  const small = Buffer.from('{"data":{},"type":"dir","ver":1}');
  const big = Buffer.from('abcdefghijklmnopqrstuvwxyz'.repeat(40)); // 1040 bytes >= 256: compressed
  const empty = Buffer.alloc(0);
  const [r1, r2, r3] = await Promise.all([s.store(small), s.store(big), s.store(empty)]);
  assert.equal(r1, 'sha1-c0a9faf907dda6216fd73bf81d0b3b21a1a8cb91');
  assert.equal(r2, blobrefHash('sha1', big));
  assert.deepEqual(await s.load(r1), small);
  assert.deepEqual(await s.load(r2), big);
  assert.deepEqual(await s.load(r3), empty);
  assert.equal(await s.store(big), r2, 'same blob, same name');
  assert.equal(s.objectCount(), 3, 'stored once');
  await s.validate(r2);
  await rejectsWith(s.validate(blobrefHash('sha1', Buffer.from('nope'))), 2);
  await rejectsWith(s.load(blobrefHash('sha1', Buffer.from('nope'))), 2);
  await rejectsWith(s.loadDigest(Buffer.alloc(32)), 71); // wrong digest size: EPROTO
  await s.close();

  // The rows are what flux-core writes: the digest as TEXT, size -1 or the uncompressed size,
  // and an LZ4 block for big blobs.
  const db = new Database(file, { readonly: true });
  const rows = db.prepare('SELECT hex(hash) AS h, typeof(hash) AS t, size, object FROM objects').all() as
    Array<{ h: string; t: string; size: number; object: Buffer | null }>;
  db.close();
  const byHash = new Map(rows.map((r) => [r.h.toLowerCase(), r]));
  const rowSmall = byHash.get(blobrefToDigest(r1).toString('hex'));
  const rowBig = byHash.get(blobrefToDigest(r2).toString('hex'));
  assert.ok(rowSmall && rowBig);
  assert.equal(rowSmall.t, 'text');
  assert.equal(rowSmall.size, -1);
  assert.deepEqual(rowSmall.object, small);
  assert.equal(rowBig.size, big.length);
  assert.ok(rowBig.object && rowBig.object.length < big.length);
  assert.deepEqual(lz4DecompressBlock(rowBig.object, big.length), big);

  // Reopen: data persists.
  const s2 = ContentSqliteStore.open(file);
  assert.deepEqual(await s2.load(r2), big);
  await s2.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a file written the way flux-core binds keys is readable, and vice versa', async () => {
  const dir = tmpdir();
  const file = path.join(dir, 'content.sqlite');
  // Emulate flux-core: digest bound as text bytes; a blob stored as a BLOB key would be invisible.
  const db = new Database(file);
  db.exec('CREATE TABLE objects(  hash BLOB PRIMARY KEY,  size INT,  object BLOB);');
  const blob = Buffer.from('hello');
  const digest = blobrefToDigest(blobrefHash('sha1', blob));
  db.prepare('INSERT INTO objects VALUES (CAST(? AS TEXT), -1, ?)').run(digest, blob);
  db.prepare('INSERT INTO objects VALUES (?, -1, ?)').run(blobrefToDigest(blobrefHash('sha1', Buffer.from('blobkey'))), Buffer.from('blobkey'));
  db.close();
  const s = ContentSqliteStore.open(file);
  assert.deepEqual(await s.load(blobrefHash('sha1', blob)), blob);
  await rejectsWith(s.load(blobrefHash('sha1', Buffer.from('blobkey'))), 2);
  await s.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('checkpoints: compact JSON kept in order, newest first, pruned to max_checkpoints', async () => {
  const dir = tmpdir();
  const file = path.join(dir, 'content.sqlite');
  const s = ContentSqliteStore.open(file, { maxCheckpoints: 2 });
  await rejectsWith(s.checkpointGet(), 2);
  const root = blobrefHash('sha1', Buffer.from('{"data":{},"type":"dir","ver":1}'));
  await s.checkpointPut(checkpointValue(root, 1, 1732491234.5));
  await s.checkpointPut(checkpointValue(root, 2, 1700000000));
  await s.checkpointPut(checkpointValue(root, 3, 0.1));
  const got = await s.checkpointGet();
  assert.deepEqual(got.map((c) => (c as { sequence: number }).sequence), [3, 2]);
  await s.close();
  const db = new Database(file, { readonly: true });
  const texts = (db.prepare('SELECT value FROM checkpt_v2 ORDER BY id').all() as Array<{ value: string }>).map((r) => r.value);
  db.close();
  assert.deepEqual(texts, [
    `{"version":1,"rootref":"${root}","sequence":2,"timestamp":1700000000.0}`,
    `{"version":1,"rootref":"${root}","sequence":3,"timestamp":0.10000000000000001}`,
  ]);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a legacy checkpt table is migrated into checkpt_v2', async () => {
  const dir = tmpdir();
  const file = path.join(dir, 'content.sqlite');
  const db = new Database(file);
  db.exec('CREATE TABLE checkpt(key TEXT UNIQUE, value TEXT)');
  db.prepare('INSERT INTO checkpt VALUES (?, ?)').run('kvs-primary', '{"version":1,"rootref":"sha1-c0a9faf907dda6216fd73bf81d0b3b21a1a8cb91","sequence":7,"timestamp":1.5}');
  db.close();
  const s = ContentSqliteStore.open(file);
  const got = await s.checkpointGet();
  assert.equal((got[0] as { sequence: number }).sequence, 7);
  await s.close();
  const db2 = new Database(file, { readonly: true });
  assert.equal((db2.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'checkpt'").get() as { n: number }).n, 0);
  db2.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('many stores in one burst are grouped into transactions and all committed', async () => {
  const dir = tmpdir();
  const file = path.join(dir, 'content.sqlite');
  const s = ContentSqliteStore.open(file, { journalMode: 'OFF', synchronous: 'OFF' });
  const blobs = Array.from({ length: 1500 }, (_, i) => Buffer.from(`blob ${i} `.repeat(i % 50 + 1)));
  const refs = await s.storeMany(blobs);
  assert.equal(refs.length, 1500);
  assert.equal(s.objectCount(), 1500);
  assert.deepEqual(await s.load(refs[1234]), blobs[1234]);
  await s.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a garbage file is refused with a clear error', () => {
  const dir = tmpdir();
  const file = path.join(dir, 'content.sqlite');
  fs.writeFileSync(file, Buffer.from('this is not a database, just some text that happens to be here\n'.repeat(100)));
  const e = openFails(file);
  assert.equal(e.errnum, 22);
  assert.match(e.message, /is not an SQLite database/);
  assert.match(e.message, /refusing to use it/);
  assert.equal(fs.readFileSync(file, 'utf8').startsWith('this is not'), true, 'the file is left alone');
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a truncated file is refused with a clear error; truncate starts afresh', async () => {
  const dir = tmpdir();
  const file = path.join(dir, 'content.sqlite');
  const s = ContentSqliteStore.open(file, { journalMode: 'DELETE' });
  let x = 1;
  const noise = (n: number): Buffer => {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      b[i] = x >>> 24;
    }
    return b;
  };
  await s.storeMany(Array.from({ length: 200 }, () => noise(1000)));
  await s.close();
  const size = fs.statSync(file).size;
  assert.ok(size > 16 * 4096, `database of ${size} bytes`);
  fs.truncateSync(file, Math.floor(size / 2));
  const e = openFails(file);
  assert.match(e.message, /content-sqlite: .*content\.sqlite (is damaged|failed its integrity check)/);
  assert.match(e.message, /refusing to use it/);

  fs.truncateSync(file, 50); // not even a whole header
  const e2 = openFails(file);
  assert.match(e2.message, /refusing to use it/);

  const fresh = ContentSqliteStore.open(file, { truncate: true });
  assert.equal(fresh.objectCount(), 0);
  await fresh.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('bad options are EINVAL', () => {
  const dir = tmpdir();
  const file = path.join(dir, 'content.sqlite');
  assert.throws(() => ContentSqliteStore.open(file, { maxCheckpoints: 0 }), (e: unknown) => e instanceof FluxError && e.errnum === 22);
  assert.throws(() => ContentSqliteStore.open(file, { journalMode: 'wal' as 'WAL' }), (e: unknown) => e instanceof FluxError && e.errnum === 22);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('the KVS commits and looks up over this store, and a reopened file serves the same root', async () => {
  const dir = tmpdir();
  const file = path.join(dir, 'content.sqlite');
  const s = ContentSqliteStore.open(file);
  const e = emptyDir();
  assert.equal(await s.store(e.data), e.blobref);
  const big = 'x'.repeat(5000);
  const r = await applyOps(s, e.blobref, new KvsTxn().put('a.b.c', '1').put('big', big).toOps());
  await s.checkpointPut(checkpointValue(r.rootref, 1, 1700000000.25));
  await s.close();
  const s2 = ContentSqliteStore.open(file);
  const [cp] = await s2.checkpointGet();
  const rootref = (cp as { rootref: string }).rootref;
  assert.equal(rootref, r.rootref);
  const got = await lookup(s2, rootref, 'big');
  assert.ok('val' in got);
  assert.equal(treeobj.decodeVal(got.val).toString(), big);
  await s2.close();
  fs.rmSync(dir, { recursive: true, force: true });
});
