/**
 * The kvs module on real instances (4 ranks, kary:2: 0:[1,2] 1:[3]) through the client library:
 * read-your-writes on the committing rank, eventual consistency elsewhere (kvs.wait-version),
 * merged concurrent commits, namespaces, lookups at an older root, and persistence through
 * content-sqlite (restart, kill -9, module reload, corrupt file).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { flux, startInstance, waitGone, type Instance } from './helpers';
import { Flux } from '../../broker/src/common/libflux/handle';
import { errno } from '../../broker/src/common/libflux/errno';
import { KvsTxn, FLUX_KVS_SYNC, FLUX_KVS_NO_MERGE } from '../../broker/src/common/libkvs/txn';
import { emptyDir } from '../../broker/src/common/libkvs/commit';
import { decodeVal, type TreeObj } from '../../broker/src/common/libkvs/treeobj';

interface CommitReply { rootref: string; rootseq: number }

function rankUri(inst: Instance, n: number): string {
  return inst.uri.replace(/local-0$/, `local-${n}`);
}

function commit(h: Flux, txn: KvsTxn, namespace = 'primary', flags = 0): Promise<CommitReply> {
  return h.rpc('kvs.commit', { ops: txn.toOps(), namespace, flags }).get<CommitReply>();
}

async function get(h: Flux, key: string, namespace = 'primary'): Promise<string> {
  const r = await h.rpc('kvs.lookup', { key, flags: 0, namespace }).get<{ val: TreeObj }>();
  return decodeVal(r.val).toString();
}

async function waitVersion(h: Flux, rootseq: number, namespace = 'primary'): Promise<CommitReply> {
  return h.rpc('kvs.wait-version', { rootseq, namespace }).get<CommitReply>();
}

async function getroot(h: Flux, namespace = 'primary'): Promise<CommitReply & { owner: number; namespace: string }> {
  return h.rpc('kvs.getroot', { namespace }).get();
}

function tmpdir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** SIGKILL the launcher and every broker at once, as a crash of the whole instance would. */
async function killAll(inst: Instance): Promise<void> {
  for (const pid of [inst.launcher.pid ?? 0, ...inst.pids]) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch { /* already gone */ }
  }
  await waitGone(inst.pids);
}

let inst: Instance;
const handles: Flux[] = [];
async function rank(n: number): Promise<Flux> {
  if (!handles[n]) handles[n] = await Flux.open(rankUri(inst, n));
  return handles[n];
}

before(async () => {
  inst = await startInstance(4, ['tbon.topo=kary:2']);
});
after(async () => {
  for (const h of handles) h?.close();
  assert.equal(await inst.stop(), 0);
});

test('a commit on rank 3 is visible on rank 3 at once and on every rank after kvs.wait-version', async () => {
  const h3 = await rank(3);
  const value = `v-${Date.now()}`;
  const c = await commit(h3, new KvsTxn().put('rank3.key', value));
  assert.ok(c.rootseq >= 1 && c.rootref.startsWith('sha1-'));
  assert.equal(await get(h3, 'rank3.key'), value, 'read-your-writes on the committing rank');
  assert.equal((await getroot(h3)).rootseq, c.rootseq);
  for (const n of [0, 1, 2]) {
    const h = await rank(n);
    const w = await waitVersion(h, c.rootseq);
    assert.ok(w.rootseq >= c.rootseq);
    assert.equal(await get(h, 'rank3.key'), value, `rank ${n}`);
  }
  // The same the other way round: rank 0 writes, rank 3 waits for the version.
  const c0 = await commit(await rank(0), new KvsTxn().put('rank0.key', 'zero'));
  await waitVersion(h3, c0.rootseq);
  assert.equal(await get(h3, 'rank0.key'), 'zero');
});

test('lookup errors: missing key ENOENT, directory EISDIR, bad rootdir EINVAL, no namespace EPROTO', async () => {
  const h2 = await rank(2);
  const c = await commit(h2, new KvsTxn().put('errs.dir.val', 'x'));
  await waitVersion(h2, c.rootseq);
  await assert.rejects(h2.rpc('kvs.lookup', { key: 'errs.nope', flags: 0, namespace: 'primary' }).get(), { errnum: errno.ENOENT });
  await assert.rejects(h2.rpc('kvs.lookup', { key: 'errs.dir', flags: 0, namespace: 'primary' }).get(), { errnum: errno.EISDIR });
  await assert.rejects(h2.rpc('kvs.lookup', { key: 'errs.dir', flags: 0, rootdir: { ver: 1, type: 'val', data: '' } }).get(), { errnum: errno.EINVAL });
  await assert.rejects(h2.rpc('kvs.lookup', { key: 'errs.dir', flags: 0 }).get(), { errnum: errno.EPROTO });
  const dir = await h2.rpc('kvs.lookup', { key: 'errs.dir', flags: 1 /* READDIR */, namespace: 'primary' }).get<{ val: TreeObj }>();
  assert.equal(dir.val.type, 'dir');
});

test('lookup at an older root (rootdir) sees the value as it was', async () => {
  const h1 = await rank(1);
  const first = await commit(h1, new KvsTxn().put('history.v', 'one'));
  await commit(h1, new KvsTxn().put('history.v', 'two'));
  assert.equal(await get(h1, 'history.v'), 'two');
  const old = await h1.rpc('kvs.lookup', { key: 'history.v', flags: 0, rootdir: { ver: 1, type: 'dirref', data: [first.rootref] } }).get<{ val: TreeObj }>();
  assert.equal(decodeVal(old.val).toString(), 'one');
});

test('20 concurrent committers on all ranks all land; commits sent together on one rank are merged', async () => {
  const before0 = (await getroot(await rank(0))).rootseq;
  const hs = await Promise.all([0, 1, 2, 3].map((n) => rank(n)));
  const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => commit(hs[i % 4], new KvsTxn().put(`conc.k${i}`, `${i}`))));
  const last = Math.max(...replies.map((r) => r.rootseq));
  assert.ok(last - before0 <= 20);
  for (const h of hs) await waitVersion(h, last);
  for (let i = 0; i < 20; i++) assert.equal(await get(hs[(i + 1) % 4], `conc.k${i}`), `${i}`);
  // Sent in one burst on rank 0: fewer new versions than commits (merged), unless NO_MERGE.
  const start = (await getroot(hs[0])).rootseq;
  const burst = await Promise.all(Array.from({ length: 20 }, (_, i) => commit(hs[0], new KvsTxn().put(`burst.k${i}`, 'b'))));
  const versions = new Set(burst.map((r) => r.rootseq));
  assert.ok(versions.size < 20, `20 commits made ${versions.size} versions`);
  assert.equal(Math.max(...burst.map((r) => r.rootseq)) - start, versions.size);
  const start2 = (await getroot(hs[0])).rootseq;
  const solo = await Promise.all(Array.from({ length: 5 }, (_, i) => commit(hs[0], new KvsTxn().put(`solo.k${i}`, 's'), 'primary', FLUX_KVS_NO_MERGE)));
  assert.equal(new Set(solo.map((r) => r.rootseq)).size, 5, 'NO_MERGE commits get a version each');
  assert.equal(Math.max(...solo.map((r) => r.rootseq)) - start2, 5);
});

test('namespaces isolate; an unknown namespace is ENOTSUP on every rank; remove makes it unknown', async () => {
  const h0 = await rank(0);
  const h3 = await rank(3);
  const ns = `test-${process.pid}`;
  await h3.rpc('kvs.namespace-create', { namespace: ns, rootref: emptyDir('sha1').blobref, owner: process.getuid?.() ?? 0, flags: 0 }).get();
  await assert.rejects(h0.rpc('kvs.namespace-create', { namespace: ns, rootref: emptyDir('sha1').blobref, owner: 0, flags: 0 }).get(), { errnum: errno.EEXIST });
  const list = await h0.rpc('kvs.namespace-list', {}).get<{ namespaces: { namespace: string }[] }>();
  assert.deepEqual(list.namespaces.map((n) => n.namespace).sort(), [ns, 'primary'].sort());
  const c = await commit(h3, new KvsTxn().put('iso.key', 'in-ns'), ns);
  assert.equal(c.rootseq, 1, 'a new namespace starts at version 0');
  assert.equal(await get(h3, 'iso.key', ns), 'in-ns');
  await assert.rejects(h3.rpc('kvs.lookup', { key: 'iso.key', flags: 0, namespace: 'primary' }).get(), { errnum: errno.ENOENT });
  await commit(h0, new KvsTxn().put('iso.other', 'primary-only'));
  await waitVersion(h0, 1, ns);
  await assert.rejects(h0.rpc('kvs.lookup', { key: 'iso.other', flags: 0, namespace: ns }).get(), { errnum: errno.ENOENT });
  // A symlink from primary into the namespace resolves there.
  const l = await commit(h0, new KvsTxn().symlink('iso.link', 'iso.key', ns));
  await waitVersion(h3, l.rootseq);
  assert.equal(await get(h3, 'iso.link'), 'in-ns');
  for (const h of [h0, h3]) {
    await assert.rejects(h.rpc('kvs.lookup', { key: 'a', flags: 0, namespace: 'no-such-ns' }).get(), { errnum: errno.ENOTSUP });
    await assert.rejects(commit(h, new KvsTxn().put('a', 'b'), 'no-such-ns'), { errnum: errno.ENOTSUP });
    await assert.rejects(getroot(h, 'no-such-ns'), { errnum: errno.ENOTSUP });
  }
  await assert.rejects(h0.rpc('kvs.namespace-remove', { namespace: 'primary' }).get(), { errnum: errno.ENOTSUP });
  await h0.rpc('kvs.namespace-remove', { namespace: ns }).get();
  await assert.rejects(getroot(h0, ns), { errnum: errno.ENOTSUP });
  // Rank 3 learns of the removal from the -removed event.
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      await getroot(h3, ns);
    } catch (e) {
      assert.equal((e as { errnum?: number }).errnum, errno.ENOTSUP);
      break;
    }
    assert.ok(Date.now() < deadline, 'rank 3 still knows the removed namespace');
    await new Promise((r) => setTimeout(r, 20));
  }
  await assert.rejects(commit(h3, new KvsTxn().put('a', 'b'), ns), { errnum: errno.ENOTSUP });
});

test('a bad commit is refused (EINVAL for the root key, EPROTO for bad ops) and changes nothing', async () => {
  const h0 = await rank(0);
  const v = (await getroot(h0)).rootseq;
  await assert.rejects(commit(h0, new KvsTxn().put('x', 'y'), 'primary', 0).then(() =>
    h0.rpc('kvs.commit', { ops: [{ key: '.', flags: 0, dirent: { ver: 1, type: 'val', data: '' } }], namespace: 'primary', flags: 0 }).get()), { errnum: errno.EINVAL });
  assert.equal((await getroot(h0)).rootseq, v + 1, 'only the good commit made a version');
  await assert.rejects(h0.rpc('kvs.commit', { ops: 'nope', namespace: 'primary', flags: 0 }).get(), { errnum: errno.EPROTO });
});

test('flux module remove kvs then flux module load kvs: the tree survives (checkpointed on unload)', async () => {
  const h0 = await rank(0);
  const c = await commit(h0, new KvsTxn().put('reload.key', 'kept'));
  const r1 = await flux(['module', 'remove', 'kvs'], inst.env);
  assert.equal(r1.status, 0, r1.stderr);
  await assert.rejects(h0.rpc('kvs.lookup', { key: 'reload.key', flags: 0, namespace: 'primary' }).get(), { errnum: errno.ENOSYS });
  const r2 = await flux(['module', 'load', 'kvs'], inst.env);
  assert.equal(r2.status, 0, r2.stderr);
  assert.equal(await get(h0, 'reload.key'), 'kept');
  assert.equal((await getroot(h0)).rootseq, c.rootseq, 'the version is restored too');
  assert.match((await flux(['dmesg'], inst.env)).stdout, /kvs\.info\[0\]: restored KVS from checkpoint on \d{4}-\d\d-\d\dT/);
});

test('restart with the same statedir restores the tree', async () => {
  const statedir = tmpdir('kvs-statedir-');
  try {
    const a = await startInstance(2, [`statedir=${statedir}`]);
    let seq: number;
    try {
      const h1 = await Flux.open(rankUri(a, 1));
      const big = 'x'.repeat(1000); // stored as a valref blob
      seq = (await commit(h1, new KvsTxn().put('persist.small', 'hello').put('persist.big', big).mkdir('persist.empty'))).rootseq;
      h1.close();
      assert.equal((await flux(['getattr', 'statedir-cleanup'], a.env)).stdout.trim(), '0');
    } finally {
      assert.equal(await a.stop(), 0);
    }
    assert.ok(fs.existsSync(path.join(statedir, 'content.sqlite')), 'content.sqlite is kept in the statedir');
    const b = await startInstance(2, [`statedir=${statedir}`]);
    try {
      const h1 = await Flux.open(rankUri(b, 1));
      assert.equal(await get(h1, 'persist.small'), 'hello');
      assert.equal(await get(h1, 'persist.big'), 'x'.repeat(1000));
      // The version goes on from the checkpoint (modules loaded at start, e.g. resource, may commit more).
      assert.ok((await getroot(h1)).rootseq >= seq, 'the version is restored, not restarted at 0');
      h1.close();
    } finally {
      assert.equal(await b.stop(), 0);
    }
  } finally {
    fs.rmSync(statedir, { recursive: true, force: true });
  }
});

test('kill -9 of the whole instance during many commits: the next start loads the last checkpoint', async () => {
  const statedir = tmpdir('kvs-kill9-');
  const conf = tmpdir('kvs-modprobe-');
  fs.writeFileSync(path.join(conf, 'kvs.toml'), '[kvs]\nargs = ["checkpoint-period=0.1s"]\n');
  const env = { FLUX_MODPROBE_PATH: conf };
  const saved = process.env.FLUX_MODPROBE_PATH;
  process.env.FLUX_MODPROBE_PATH = env.FLUX_MODPROBE_PATH;
  try {
    for (let round = 0; round < 2; round++) {
      const a = await startInstance(2, [`statedir=${statedir}`]);
      const h1 = await Flux.open(rankUri(a, 1));
      let lastSynced = -1;
      let n = 0;
      let stop = false;
      const writer = (async () => {
        while (!stop) {
          const sync = n % 25 === 24;
          try {
            await commit(h1, new KvsTxn().put(`crash.r${round}.k${n}`, `${n}`), 'primary', sync ? FLUX_KVS_SYNC : 0);
          } catch {
            return;
          }
          if (sync) lastSynced = n;
          n++;
        }
      })();
      const deadline = Date.now() + 10_000;
      while (lastSynced < 100 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.ok(lastSynced >= 100, `only ${lastSynced} synced commits`);
      await killAll(a);
      stop = true;
      h1.close();
      await writer;
      const b = await startInstance(2, [`statedir=${statedir}`]);
      try {
        const h0 = await Flux.open(b.uri);
        for (let i = 0; i <= lastSynced; i++) assert.equal(await get(h0, `crash.r${round}.k${i}`), `${i}`, `key ${i} of round ${round}`);
        h0.close();
        assert.match((await flux(['dmesg'], b.env)).stdout, /restored KVS from checkpoint/);
      } finally {
        assert.equal(await b.stop(), 0);
      }
    }
  } finally {
    if (saved === undefined) delete process.env.FLUX_MODPROBE_PATH;
    else process.env.FLUX_MODPROBE_PATH = saved;
    fs.rmSync(statedir, { recursive: true, force: true });
    fs.rmSync(conf, { recursive: true, force: true });
  }
});

test('a corrupt content.sqlite: content-sqlite refuses it with a clear error in dmesg, the broker keeps serving', async () => {
  const statedir = tmpdir('kvs-corrupt-');
  try {
    const a = await startInstance(1, [`statedir=${statedir}`]);
    try {
      const h0 = await Flux.open(a.uri);
      await commit(h0, new KvsTxn().put('before', 'corruption'), 'primary', FLUX_KVS_SYNC);
      for (const m of ['kvs', 'content-sqlite']) assert.equal((await flux(['module', 'remove', m], a.env)).status, 0);
      const file = path.join(statedir, 'content.sqlite');
      const size = fs.statSync(file).size;
      const fd = fs.openSync(file, 'r+');
      fs.writeSync(fd, Buffer.alloc(Math.min(size, 4096), 0x5a), 0, Math.min(size, 4096), 0);
      fs.closeSync(fd);
      const r = await flux(['module', 'load', 'content-sqlite'], a.env);
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /content\.sqlite/);
      const dmesg = (await flux(['dmesg'], a.env)).stdout;
      assert.match(dmesg, /content-sqlite\.err\[0\]: content-sqlite: \S+content\.sqlite (is not an SQLite database|is damaged)/);
      // Still serving: ping, and the content cache answers (no backing store now).
      assert.equal((await flux(['ping', '-c', '1', 'content'], a.env)).status, 0);
      const d = await h0.rpc('content.store', Buffer.from('still here')).getRaw();
      assert.equal(d?.length, 20);
      await assert.rejects(h0.rpc('content.flush', {}).get(), { errnum: errno.ENOSYS });
      h0.close();
    } finally {
      assert.equal(await a.stop(), 0);
    }
  } finally {
    fs.rmSync(statedir, { recursive: true, force: true });
  }
});

test('a truncated content.sqlite at start: rc1 fails with the reason, as flux-core refuses a bad store', async () => {
  const statedir = tmpdir('kvs-truncated-');
  try {
    const a = await startInstance(1, [`statedir=${statedir}`]);
    try {
      const h0 = await Flux.open(a.uri);
      const t = new KvsTxn();
      for (let i = 0; i < 2000; i++) t.put(`k${i}`, `${'x'.repeat(100)}${i}`);
      await commit(h0, t, 'primary', FLUX_KVS_SYNC);
      h0.close();
    } finally {
      assert.equal(await a.stop(), 0);
    }
    const file = path.join(statedir, 'content.sqlite');
    fs.truncateSync(file, Math.floor(fs.statSync(file).size / 10));
    const r = await flux(['start', '-s1', '-S', `statedir=${statedir}`, 'true']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /content-sqlite\.err\[0\]: content-sqlite: \S+content\.sqlite is damaged: .*refusing to use it/);
    assert.match(r.stderr, /load kvs: skipped: content-sqlite failed/);
  } finally {
    fs.rmSync(statedir, { recursive: true, force: true });
  }
});

test('content.hash=sha256: the whole tree is named with sha256 blobrefs and works across ranks', async () => {
  const a = await startInstance(2, ['content.hash=sha256']);
  try {
    const h1 = await Flux.open(rankUri(a, 1));
    const c = await commit(h1, new KvsTxn().put('h.small', 'abc').put('h.big', 'y'.repeat(500)));
    assert.match(c.rootref, /^sha256-[0-9a-f]{64}$/);
    assert.equal(await get(h1, 'h.big'), 'y'.repeat(500));
    const t = await h1.rpc('kvs.lookup', { key: 'h.big', flags: 16 /* TREEOBJ */, namespace: 'primary' }).get<{ val: TreeObj }>();
    assert.equal(t.val.type, 'valref');
    assert.match((t.val.data as string[])[0], /^sha256-/);
    h1.close();
    const h0 = await Flux.open(a.uri);
    await waitVersion(h0, c.rootseq);
    assert.equal(await get(h0, 'h.small'), 'abc');
    assert.equal((await getroot(h0)).rootref, c.rootref);
    h0.close();
  } finally {
    assert.equal(await a.stop(), 0);
  }
});
