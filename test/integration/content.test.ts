/**
 * The content module (RFC 10) and its content-sqlite backing store on a real 4-rank instance,
 * topology kary:2 (0:[1,2] 1:[3]), through the client library.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { flux, startInstance, type Instance } from './helpers';
import { Flux } from '../../broker/src/common/libflux/handle';
import { errno } from '../../broker/src/common/libflux/errno';
import { encodeBlobBatch } from '../../broker/src/modules/content/batch';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  FLAG_USER1, MSGTYPE_REQUEST, ROLE_OWNER, ROLE_USER, newMessage, setJson, setRaw, type Message,
} from '../../broker/src/common/libflux/message';
import { encodeUsock } from '../../broker/src/common/libflux/usock';
import { RawClient } from './raw-client';

let inst: Instance;
const handles: Flux[] = [];

async function rank(n: number): Promise<Flux> {
  if (!handles[n]) handles[n] = await Flux.open(inst.uri.replace(/local-0$/, `local-${n}`));
  return handles[n];
}

function sha1(b: Buffer): Buffer {
  return createHash('sha1').update(b).digest();
}

/** module.load / module.remove / module.list on a given rank's broker. */
async function moduleLoad(h: Flux, nodeid: number, path: string, args: string[] = []): Promise<void> {
  await h.rpc('module.load', { path, args }, { nodeid }).get();
}
async function moduleRemove(h: Flux, nodeid: number, name: string): Promise<void> {
  await h.rpc('module.remove', { name, cancel: false }, { nodeid }).get();
}
async function moduleNames(h: Flux, nodeid: number): Promise<string[]> {
  const r = await h.rpc('module.list', {}, { nodeid }).get<{ mods: { name: string }[] }>();
  return r.mods.map((m) => m.name);
}

async function store(h: Flux, data: Buffer): Promise<Buffer> {
  return (await h.rpc('content.store', data).getRaw()) ?? Buffer.alloc(0);
}

async function load(h: Flux, digest: Buffer): Promise<Buffer> {
  return (await h.rpc('content.load', digest).getRaw()) ?? Buffer.alloc(0);
}

interface CacheStats { count: number; valid: number; dirty: number; size: number; faults: number }

async function stats(h: Flux, nodeid: number): Promise<CacheStats> {
  return h.rpc('content.stats-get', {}, { nodeid }).get<CacheStats>();
}

before(async () => {
  inst = await startInstance(4, ['tbon.topo=kary:2']);
});
after(async () => {
  for (const h of handles) h?.close();
  assert.equal(await inst.stop(), 0);
});

test('a blob stored on rank 3 loads on rank 0, and one stored on rank 0 loads on rank 3', async () => {
  const a = Buffer.from(`from rank 3 ${process.pid} ${Date.now()}`);
  const da = await store(await rank(3), a);
  assert.deepEqual(da, sha1(a), 'content.store answers the raw sha1 digest');
  assert.deepEqual(await load(await rank(0), da), a);
  const b = Buffer.alloc(5000, 'x'); // large enough to be LZ4-compressed by content-sqlite
  b.write(`from rank 0 ${Date.now()}`);
  const db = await store(await rank(0), b);
  assert.deepEqual(await load(await rank(3), db), b);
  assert.deepEqual(await load(await rank(2), db), b);
});

test('a miss on rank 3 faults through rank 1 once: the blob crosses each link once', async () => {
  const data = Buffer.from(`fault-once ${Date.now()} ${Math.random()}`);
  const h0 = await rank(0);
  const digest = await store(h0, data);
  const before1 = await stats(h0, 1);
  const h3 = await rank(3);
  // Concurrent and repeated loads on rank 3: one request to rank 1, one from rank 1 to rank 0.
  const got = await Promise.all([load(h3, digest), load(h3, digest), load(h3, digest)]);
  for (const g of got) assert.deepEqual(g, data);
  assert.deepEqual(await load(h3, digest), data);
  assert.deepEqual(await load(await rank(1), digest), data, 'rank 1 serves it from its cache');
  const after1 = await stats(h0, 1);
  assert.equal(after1.faults - before1.faults, 1, 'rank 1 asked its parent exactly once');
  assert.equal(after1.count - before1.count, 1, 'rank 1 now caches the blob');
  const s3 = await stats(h0, 3);
  assert.ok(s3.valid >= 1);
});

test('errors: unknown blob ENOENT, wrong digest size EPROTO', async () => {
  const h3 = await rank(3);
  await assert.rejects(load(h3, sha1(Buffer.from(`never stored ${Math.random()}`))), { errnum: errno.ENOENT });
  await assert.rejects(load(h3, Buffer.from('short')), { errnum: errno.EPROTO });
  await assert.rejects(load(await rank(0), Buffer.alloc(21)), { errnum: errno.EPROTO });
});

test('blob-size-limit: a store over the limit is EFBIG on every rank (content reloaded with the option)', async () => {
  const small = await startInstance(2, ['content.hash=sha256']);
  try {
    const h0 = await Flux.open(small.uri);
    try {
      for (const r of [1, 0]) await moduleRemove(h0, r, 'kvs');
      await moduleRemove(h0, 0, 'content-sqlite');
      for (const r of [1, 0]) await moduleRemove(h0, r, 'content');
      for (const r of [0, 1]) await moduleLoad(h0, r, 'content', ['blob-size-limit=16']);
    } finally {
      h0.close();
    }
    const h1 = await Flux.open(small.uri.replace(/local-0$/, 'local-1'));
    try {
      await assert.rejects(store(h1, Buffer.alloc(17)), { errnum: errno.EFBIG });
      const ok = Buffer.from('sixteen bytes ok');
      const d = await store(h1, ok);
      assert.deepEqual(d, createHash('sha256').update(ok).digest(), 'content.hash=sha256 selects the hash');
    } finally {
      h1.close();
    }
  } finally {
    assert.equal(await small.stop(), 0);
  }
});

test('content.flush writes rank 0 through to content-sqlite; dropcache keeps what the backing store has', async () => {
  const h0 = await rank(0);
  const blobs = Array.from({ length: 50 }, (_, i) => Buffer.from(`flush ${i} ${Date.now()}`));
  const digests = await Promise.all(blobs.map((b) => store(h0, b)));
  await h0.rpc('content.flush', {}).response();
  assert.equal((await stats(h0, 0)).dirty, 0);
  const sq = await h0.rpc('content-sqlite.stats-get', {}).get<{ object_count: number; config: { journal_mode: string } }>();
  assert.ok(sq.object_count >= 50, `object_count ${sq.object_count}`);
  assert.equal(sq.config.journal_mode, 'OFF', 'a temporary statedir trades durability for speed, as flux-core');
  await h0.rpc('content.dropcache', {}).response();
  assert.deepEqual(await load(h0, digests[7]), blobs[7], 'reloaded from the backing store');
  assert.deepEqual(await h0.rpc('content-backing.load', digests[8]).getRaw(), blobs[8]);
});

test('content.store-batch (ours, rank 0): digests in order, written back in batches; bad framing EPROTO; not on rank 3', async () => {
  const h0 = await rank(0);
  const before0 = await h0.rpc('content-sqlite.stats-get', {}).get<{ object_count: number }>();
  const blobs = Array.from({ length: 300 }, (_, i) => Buffer.from(`batch ${i} ${Date.now()} ${'x'.repeat(i)}`));
  const digests = (await h0.rpc('content.store-batch', encodeBlobBatch(blobs)).getRaw()) ?? Buffer.alloc(0);
  assert.equal(digests.length, 300 * 20);
  for (let i = 0; i < 300; i += 37) assert.deepEqual(digests.subarray(i * 20, i * 20 + 20), sha1(blobs[i]), `digest ${i}`);
  await h0.rpc('content.flush', {}).response();
  const after0 = await h0.rpc('content-sqlite.stats-get', {}).get<{ object_count: number }>();
  assert.equal(after0.object_count - before0.object_count, 300, 'every blob reached the backing store (one SQLite transaction per batch)');
  await h0.rpc('content.dropcache', {}).response();
  assert.deepEqual(await load(await rank(3), sha1(blobs[299])), blobs[299], 'a batch-stored blob faults down to rank 3');
  await assert.rejects(h0.rpc('content.store-batch', Buffer.from([0, 0, 0, 9, 1, 2])).getRaw(), (e: { errnum?: number }) => e.errnum === errno.EPROTO);
  await assert.rejects((await rank(3)).rpc('content.store-batch', encodeBlobBatch([Buffer.from('x')])).getRaw(), /served on rank 0 only/);
});

test('checkpoints go through content to the backing store; content.hash and statedir attributes are set', async () => {
  const h3 = await rank(3);
  const value = { version: 1, rootref: `sha1-${'0'.repeat(40)}`, sequence: 42, timestamp: 1.5 };
  await h3.rpc('content.checkpoint-put', { value }).response();
  const got = await h3.rpc('content.checkpoint-get', {}).get<{ value: unknown }>();
  assert.deepEqual(got.value, value);
  assert.equal((await flux(['getattr', 'content.hash'], inst.env)).stdout.trim(), 'sha1');
  assert.equal((await flux(['getattr', 'content.backing-module'], inst.env)).stdout.trim(), 'content-sqlite');
  assert.equal((await flux(['getattr', 'statedir-cleanup'], inst.env)).stdout.trim(), '1');
  const sd = (await flux(['getattr', 'statedir'], inst.env)).stdout.trim();
  assert.ok(sd.startsWith(inst.rundir), `temporary statedir ${sd} lives in the rundir`);
  const dmesg = (await flux(['dmesg'], inst.env)).stdout;
  assert.match(dmesg, /content\.debug\[0\]: content backing store: enabled content-sqlite/);
  assert.match(dmesg, /content-sqlite\.debug\[0\]: \S+\/content\.sqlite \(\d+ objects\) journal_mode=OFF synchronous=OFF/);
});

test('flux module list: content everywhere, content-sqlite on rank 0 only with service content-backing, kvs and kvs-watch everywhere', async () => {
  const r0 = await flux(['module', 'list'], inst.env);
  assert.match(r0.stdout, /^content-sqlite\s+\d+\s+R\s+\d+\s+\d+\s+content-backing$/m);
  assert.match(r0.stdout, /^content\s+\d+\s+R/m);
  assert.match(r0.stdout, /^kvs\s+\d+\s+R/m);
  assert.match(r0.stdout, /^kvs-watch\s+\d+\s+R/m);
  const on3 = await moduleNames(await rank(0), 3);
  assert.ok(on3.includes('content') && on3.includes('kvs') && on3.includes('kvs-watch'), on3.join(' '));
  assert.ok(!on3.includes('content-sqlite'), 'content-sqlite is on rank 0 only');
  assert.ok(!(await moduleNames(await rank(0), 1)).includes('content-sqlite'));
});

test('mmap: rank 0 serves a mapped file\'s blobs marked ephemeral; a store of one on rank 3 reaches rank 0 anyway', async () => {
  const h0 = await rank(0);
  const h3 = await rank(3);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flux-content-mmap-'));
  try {
    const file = path.join(dir, 'data');
    const data = randomBytes(3 * 1024 * 1024 + 17);
    fs.writeFileSync(file, data);
    await h0.rpc('content.mmap-add', { path: file, chunksize: 1024 * 1024, tag: 'eph' }, { nodeid: 0 }).response();
    const chunk = (i: number): Buffer => data.subarray(i * 1024 * 1024, Math.min(data.length, (i + 1) * 1024 * 1024));
    const before = await stats(h0, 0);
    // rank 0: read from the file, flagged ephemeral (FLAG_USER1), not cached
    let m = await h0.rpc('content.load', sha1(chunk(1)), { nodeid: 0 }).response();
    assert.deepEqual(m.payload, chunk(1));
    assert.equal(m.flags & FLAG_USER1, FLAG_USER1);
    assert.equal((await stats(h0, 0)).count, before.count, 'nothing entered rank 0\'s cache');
    // rank 3 (through rank 1): cached there, still flagged
    m = await h3.rpc('content.load', sha1(chunk(1))).response();
    assert.deepEqual(m.payload, chunk(1));
    assert.equal(m.flags & FLAG_USER1, FLAG_USER1);
    m = await h3.rpc('content.load', sha1(chunk(3))).response();
    assert.deepEqual(m.payload, chunk(3));
    // storing chunk 1 on rank 3 must not be answered from the ephemeral copy: it goes up to rank 0
    assert.deepEqual(await store(h3, chunk(1)), sha1(chunk(1)));
    await h0.rpc('content.mmap-remove', { tag: 'eph' }, { nodeid: 0 }).response();
    await h0.rpc('content.flush', {}).response();
    await h0.rpc('content.dropcache', {}).response();
    m = await h0.rpc('content.load', sha1(chunk(1)), { nodeid: 0 }).response();
    assert.deepEqual(m.payload, chunk(1), 'stored for real: in the backing store after unmap');
    assert.equal(m.flags & FLAG_USER1, 0);
    // chunk 2 was only ever mapped: gone with the mapping
    await assert.rejects(h0.rpc('content.load', sha1(chunk(2)), { nodeid: 0 }).getRaw(), (e: { errnum?: number }) => e.errnum === errno.ENOENT);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/** One request with the given credentials through a raw connection to rank 0; its response. */
async function asUser(topic: string, payload: Buffer | Record<string, unknown> | undefined, userid: number, rolemask: number): Promise<Message> {
  const c = await RawClient.connect(inst.uri.slice('local://'.length));
  try {
    const m = newMessage(MSGTYPE_REQUEST, topic);
    m.userid = userid;
    m.rolemask = rolemask;
    m.aux1 = 0;
    m.aux2 = 7;
    if (Buffer.isBuffer(payload)) setRaw(m, payload);
    else if (payload) setJson(m, payload);
    c.write(encodeUsock(m));
    return await c.next();
  } finally {
    c.close();
  }
}

test('only the instance owner may use the content service: a guest\'s requests get EPERM, nothing is stored', async () => {
  const h0 = await rank(0);
  const guest = (process.getuid?.() ?? 1000) + 4242;
  const blob = Buffer.from(`guest blob ${process.pid} ${Date.now()}`);
  const requests: [string, Buffer | Record<string, unknown> | undefined][] = [
    ['content.store', blob],
    ['content.store-batch', encodeBlobBatch([blob])],
    ['content.load', sha1(Buffer.from('x'))],
    ['content.flush', {}],
    ['content.dropcache', {}],
    ['content.stats-get', {}],
    ['content.checkpoint-put', { value: { version: 1 } }],
    ['content.checkpoint-get', {}],
    ['content.register-backing', { name: 'evil' }],
    ['content.unregister-backing', {}],
    ['content.mmap-add', { path: '/etc/hostname', chunksize: 0, tag: 'evil' }],
    ['content.mmap-remove', { tag: 'main' }],
  ];
  for (const [topic, payload] of requests) {
    const r = await asUser(topic, payload, guest, ROLE_USER);
    assert.equal(r.aux1, errno.EPERM, `${topic}: EPERM`);
    assert.equal(r.aux2, 7);
    assert.equal(r.payload, undefined, `${topic}: no error text, as flux-core's dispatcher`);
  }
  await assert.rejects(h0.rpc('content.load', sha1(blob), { nodeid: 0 }).getRaw(), (e: { errnum?: number }) => e.errnum === errno.ENOENT, 'the guest store stored nothing');
  // the same request with the owner's role is served
  const ok = await asUser('content.store', blob, process.getuid?.() ?? 0, ROLE_OWNER);
  assert.equal(ok.aux1, 0);
  assert.deepEqual(ok.payload, sha1(blob));
});

test('a statedir in use by a running instance is refused by a second one, with the reason', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flux-statedir-busy-'));
  const first = await startInstance(1, [`statedir=${dir}`]);
  try {
    // The first broker holds content.sqlite (exclusive locking): the second cannot load its store.
    const r = await flux(['start', '-s1', '-S', `statedir=${dir}`, 'true'], process.env, 60_000);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /content\.sqlite is in use by another Flux instance .*stop that instance first, or start this one with another -S statedir/);
    // And the first instance was not disturbed.
    const h = await Flux.open(first.uri);
    try {
      await h.rpc('kvs.getroot', { namespace: 'primary' }).get();
    } finally {
      h.close();
    }
  } finally {
    await first.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
