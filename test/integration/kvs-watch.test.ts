/**
 * The kvs-watch module on a real 4-rank instance (kary:2: 0:[1,2] 1:[3], so rank 3 is two hops
 * from the leader): streaming lookups that follow the setroot events, WAITCREATE, UNIQ, APPEND,
 * FULL, STREAM, cancel (ENODATA), cleanup when a client goes away, other namespaces, and the
 * errors flux-core gives (ENOENT for a key removed, ENOTSUP for a namespace removed or missing).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { ROOT, flux, startInstance, type Instance } from './helpers';
import { Flux } from '../../broker/src/common/libflux/handle';
import { FluxError, errno } from '../../broker/src/common/libflux/errno';
import { FLAG_NORESPONSE, FLAG_STREAMING } from '../../broker/src/common/libflux/message';
import * as kvs from '../../broker/src/common/libkvs/client';

const DEADLINE_MS = 10_000;

let inst: Instance;
const handles: Flux[] = [];
function rankUri(n: number): string {
  return inst.uri.replace(/local-0$/, `local-${n}`);
}
async function rank(n: number): Promise<Flux> {
  if (!handles[n]) handles[n] = await Flux.open(rankUri(n));
  return handles[n];
}

before(async () => {
  inst = await startInstance(4, ['tbon.topo=kary:2']);
});
after(async () => {
  for (const h of handles) h?.close();
  assert.equal(await inst.stop(), 0);
});

function put(h: Flux, key: string, value: string, opts: { namespace?: string; append?: boolean } = {}): Promise<kvs.CommitResult> {
  return kvs.commit(h, new kvs.KvsTxn().put(key, value, opts.append ? kvs.FLUX_KVS_APPEND : 0), { namespace: opts.namespace });
}

/**
 * Commit on rank 0, then wait until rank 3's kvs has that root: the KVS is eventually consistent,
 * and a watch started on rank 3 begins at rank 3's root, as in flux-core.
 */
async function putSeen(key: string, value: string, opts: { namespace?: string; append?: boolean } = {}): Promise<void> {
  const c = await put(await rank(0), key, value, opts);
  await kvs.waitVersion(await rank(3), c.rootseq, { namespace: opts.namespace });
}

/** Reads a watch one value at a time, each within the deadline (a stall fails the test). */
class Reader {
  private readonly it: AsyncIterator<kvs.KvsLookupResult>;
  constructor(readonly w: kvs.KvsWatch) {
    this.it = w[Symbol.asyncIterator]();
  }

  async next(): Promise<IteratorResult<kvs.KvsLookupResult>> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${this.w.key}: no answer within ${DEADLINE_MS} ms`)), DEADLINE_MS);
    });
    try {
      return await Promise.race([this.it.next(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async value(): Promise<string> {
    const r = await this.next();
    assert.ok(!r.done, `${this.w.key}: the watch ended early`);
    return r.value.string();
  }

  async values(n: number): Promise<string[]> {
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(await this.value());
    return out;
  }

  /** The stream's end: resolves quietly at ENODATA, rejects with the error otherwise. */
  async end(): Promise<void> {
    const r = await this.next();
    assert.ok(r.done, `${this.w.key}: expected the end, got ${r.done ? '' : r.value.string()}`);
  }
}

function watch(h: Flux, key: string, flags = 0, namespace?: string): Reader {
  return new Reader(kvs.watch(h, key, { flags, namespace }));
}

interface WatchStats {
  watchers: number;
  'namespace-count': number;
  namespace: Record<string, { owner: number; rootseq: number; watchers: number }>;
}

function stats(h: Flux, nodeid: number): Promise<WatchStats> {
  return h.rpc('kvs-watch.stats-get', {}, { nodeid }).get<WatchStats>();
}

/** Poll rank `nodeid`'s kvs-watch until `pred` holds on its stats (bounded). */
async function waitStats(nodeid: number, pred: (s: WatchStats) => boolean, what: string): Promise<WatchStats> {
  const h = await rank(0);
  const deadline = Date.now() + DEADLINE_MS;
  for (;;) {
    const s = await stats(h, nodeid);
    if (pred(s)) return s;
    if (Date.now() > deadline) throw new Error(`rank ${nodeid}: ${what}; stats ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function errnoIs(n: number): (e: unknown) => boolean {
  return (e: unknown) => e instanceof FluxError && e.errnum === n;
}

test('a watch on rank 3 sees every change committed on rank 0, in order, then those committed on rank 3', async () => {
  const [h0, h3] = [await rank(0), await rank(3)];
  await putSeen('order.k', 'v0');
  const r3 = watch(h3, 'order.k');
  const r0 = watch(h0, 'order.k');
  assert.equal(await r3.value(), 'v0');
  assert.equal(await r0.value(), 'v0');
  const expected: string[] = [];
  for (let i = 1; i <= 20; i++) {
    await put(h0, 'order.k', `v${i}`);
    expected.push(`v${i}`);
  }
  // Commits that touch other keys are not reported.
  await put(h0, 'order.other', 'x');
  for (let i = 21; i <= 25; i++) {
    await put(h3, 'order.k', `v${i}`);
    expected.push(`v${i}`);
  }
  assert.deepEqual(await r3.values(expected.length), expected);
  assert.deepEqual(await r0.values(expected.length), expected);
  r3.w.cancel();
  r0.w.cancel();
  await r3.end();
  await r0.end();
});

test('WAITCREATE: a missing key is waited for (stream and one-shot); without it ENOENT', async () => {
  const [h0, h3] = [await rank(0), await rank(3)];
  await assert.rejects(watch(h3, 'wc.missing').next(), errnoIs(errno.ENOENT));
  const r = watch(h3, 'wc.k', kvs.FLUX_KVS_WATCH | kvs.FLUX_KVS_WAITCREATE);
  const once = kvs.lookup(h3, 'wc.k', { flags: kvs.FLUX_KVS_WAITCREATE });
  // Both requests are registered on rank 3 before the key exists.
  await waitStats(3, (s) => (s.namespace.primary?.watchers ?? 0) >= 2, 'two waiting watchers');
  await put(h0, 'wc.k', 'born');
  assert.equal(await r.value(), 'born');
  assert.equal((await once).string(), 'born');
  await put(h0, 'wc.k', 'grown');
  assert.equal(await r.value(), 'grown');
  r.w.cancel();
  await r.end();
});

test('UNIQ answers only when the value changed; a plain watch answers every write', async () => {
  const h0 = await rank(0);
  await putSeen('uniq.k', 'a');
  const u = watch(await rank(3), 'uniq.k', kvs.FLUX_KVS_WATCH_UNIQ);
  const p = watch(await rank(3), 'uniq.k');
  assert.equal(await u.value(), 'a');
  assert.equal(await p.value(), 'a');
  for (const v of ['a', 'b', 'b', 'c']) await put(h0, 'uniq.k', v);
  assert.deepEqual(await p.values(4), ['a', 'b', 'b', 'c']);
  assert.deepEqual(await u.values(2), ['b', 'c']);
  await put(h0, 'uniq.k', 'd');
  assert.equal(await u.value(), 'd', 'nothing else was queued before d');
  u.w.cancel();
  p.w.cancel();
});

test('WATCH_APPEND: the value first (one response per blob), then only each appended part; overwriting is EINVAL', async () => {
  const h0 = await rank(0);
  // Three appends before the watch: a valref of three blobs.
  for (const line of ['one\n', 'two\n', 'three\n']) await putSeen('app.log', line, { append: true });
  const r = watch(await rank(3), 'app.log', kvs.FLUX_KVS_WATCH_APPEND);
  assert.deepEqual(await r.values(3), ['one\n', 'two\n', 'three\n']);
  await put(h0, 'app.log', 'four\n', { append: true });
  // Two appends in one commit are two blobs, two responses.
  await kvs.commit(h0, new kvs.KvsTxn().put('app.log', 'five\n', kvs.FLUX_KVS_APPEND).put('app.log', 'six\n', kvs.FLUX_KVS_APPEND));
  assert.deepEqual(await r.values(3), ['four\n', 'five\n', 'six\n']);
  await put(h0, 'app.log', 'overwritten\n');
  await assert.rejects(r.next(), errnoIs(errno.EINVAL));

  // A small first value is an inline val; the first append turns it into a valref of two blobs.
  await putSeen('app.small', 'x');
  const s = watch(await rank(3), 'app.small', kvs.FLUX_KVS_WATCH_APPEND);
  assert.equal(await s.value(), 'x');
  await put(h0, 'app.small', 'y', { append: true });
  await put(h0, 'app.small', 'z', { append: true });
  assert.deepEqual(await s.values(2), ['y', 'z']);
  s.w.cancel();
  await s.end();
});

test('WATCH_FULL sees a value change through its parent directory; a plain watch does not', async () => {
  const h0 = await rank(0);
  await putSeen('full.d.k', 'old');
  await put(h0, 'full.src.k', 'new');
  const f = watch(await rank(3), 'full.d.k', kvs.FLUX_KVS_WATCH_FULL);
  const p = watch(await rank(3), 'full.d.k');
  assert.equal(await f.value(), 'old');
  assert.equal(await p.value(), 'old');
  // Commits on other keys: FULL looks again each time but answers only a different value.
  await put(h0, 'full.unrelated', '1');
  await kvs.copy(h0, 'full.src', 'full.d'); // the commit names full.d, not full.d.k
  assert.equal(await f.value(), 'new');
  await put(h0, 'full.d.k', 'final');
  assert.equal(await f.value(), 'final');
  assert.equal(await p.value(), 'final', 'the plain watch never saw "new"');
  f.w.cancel();
  p.w.cancel();
});

test('STREAM without WATCH: a valref in one response per blob, then the end; a small value in one', async () => {
  for (const part of ['aa', 'bb', 'cc']) await putSeen('stream.k', part, { append: true });
  const r = watch(await rank(3), 'stream.k', kvs.FLUX_KVS_STREAM);
  assert.deepEqual(await r.values(3), ['aa', 'bb', 'cc']);
  await r.end();
  await putSeen('stream.small', 'tiny');
  const s = watch(await rank(3), 'stream.small', kvs.FLUX_KVS_STREAM);
  assert.equal(await s.value(), 'tiny');
  await s.end();
  await assert.rejects(watch(await rank(3), 'stream', kvs.FLUX_KVS_STREAM).next(), errnoIs(errno.EISDIR));
  const cli = await flux(['kvs', 'get', '-S', 'stream.k'], { ...inst.env, FLUX_URI: rankUri(3) });
  assert.deepEqual([cli.stdout, cli.status], ['aabbcc\n', 0]);
});

test('kvs-watch.cancel {matchtag} ends the stream with ENODATA; a non-streaming WATCH is EPROTO', async () => {
  const h3 = await rank(3);
  await putSeen('cancel.k', '1');
  const rpc = h3.rpc('kvs-watch.lookup', { key: 'cancel.k', namespace: 'primary', flags: kvs.FLUX_KVS_WATCH }, { flags: FLAG_STREAMING });
  assert.deepEqual((await rpc.get()).val, { data: 'MQ==', type: 'val', ver: 1 });
  h3.rpc('kvs-watch.cancel', { matchtag: rpc.matchtag }, { flags: FLAG_NORESPONSE });
  await assert.rejects(rpc.response(), errnoIs(errno.ENODATA));
  await assert.rejects(h3.rpc('kvs-watch.lookup', { key: 'cancel.k', namespace: 'primary', flags: kvs.FLUX_KVS_WATCH }).get(),
    errnoIs(errno.EPROTO));
  await assert.rejects(h3.rpc('kvs-watch.lookup', { key: 1, namespace: 'primary', flags: 0 }).get(), errnoIs(errno.EPROTO));
});

test('a client that goes away leaves no watcher behind; another client\'s watch goes on', async () => {
  await putSeen('disc.k', 'a');
  await waitStats(3, (s) => s.watchers === 0, 'no watchers left from earlier tests');
  const gone = await Flux.open(rankUri(3));
  const stays = watch(await rank(3), 'disc.k');
  const r1 = watch(gone, 'disc.k');
  const r2 = watch(gone, 'disc.k', kvs.FLUX_KVS_WATCH | kvs.FLUX_KVS_WAITCREATE | kvs.FLUX_KVS_WATCH_UNIQ);
  assert.equal(await r1.value(), 'a');
  assert.equal(await r2.value(), 'a');
  assert.equal(await stays.value(), 'a');
  assert.equal((await stats(await rank(0), 3)).watchers, 3);
  gone.close();
  const s = await waitStats(3, (x) => x.watchers === 1, 'the closed client\'s two watchers removed');
  assert.equal(s.namespace.primary.watchers, 1);
  await put(await rank(0), 'disc.k', 'b');
  assert.equal(await stays.value(), 'b');
  stays.w.cancel();
  await stays.end();
  const idle = await waitStats(3, (x) => x.watchers === 0, 'all watchers gone');
  assert.equal(idle['namespace-count'], 0, 'a namespace without watchers is no longer followed');
});

test('a key removed ends its watch with ENOENT', async () => {
  const h0 = await rank(0);
  await putSeen('gone.k', 'here');
  const r = watch(await rank(3), 'gone.k');
  assert.equal(await r.value(), 'here');
  await kvs.commit(h0, new kvs.KvsTxn().unlink('gone.k'));
  await assert.rejects(r.next(), errnoIs(errno.ENOENT));
});

test('other namespaces: isolated from primary, waited for with WAITCREATE, ENOTSUP when missing or removed', async () => {
  const [h0, h3] = [await rank(0), await rank(3)];
  await assert.rejects(watch(h3, 'k', 0, 'watch-ns').next(), errnoIs(errno.ENOTSUP));
  const early = watch(h3, 'k', kvs.FLUX_KVS_WATCH | kvs.FLUX_KVS_WAITCREATE, 'watch-ns');
  await waitStats(3, (s) => (s.namespace['watch-ns']?.watchers ?? 0) === 1, 'a watcher waiting for watch-ns');
  await kvs.namespaceCreate(h0, 'watch-ns');
  await putSeen('k', 'in-ns', { namespace: 'watch-ns' });
  assert.equal(await early.value(), 'in-ns');
  const r = watch(h3, 'k', 0, 'watch-ns');
  assert.equal(await r.value(), 'in-ns');
  await put(h0, 'k', 'in-primary');
  await put(h0, 'k', 'in-ns-2', { namespace: 'watch-ns' });
  assert.equal(await r.value(), 'in-ns-2', 'the commit to primary was not reported');
  assert.equal(await early.value(), 'in-ns-2');
  await kvs.namespaceRemove(h0, 'watch-ns');
  await assert.rejects(r.next(), errnoIs(errno.ENOTSUP));
  await assert.rejects(early.next(), errnoIs(errno.ENOTSUP));
});

/** Run `flux ARGS` against rank `n`; resolves each stdout line as it comes, then the exit. */
function startFlux(n: number, args: string[]): { lines: string[]; lineCount: (k: number) => Promise<void>; done: Promise<{ stdout: string; status: number | null }> } {
  const c = spawn(process.execPath, [path.join(ROOT, 'dist/flux.js'), ...args], { env: { ...inst.env, FLUX_URI: rankUri(n) }, stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  const lines: string[] = [];
  const waiters: { k: number; resolve: () => void }[] = [];
  c.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    lines.splice(0, lines.length, ...stdout.split('\n').slice(0, -1));
    for (const w of waiters.filter((x) => lines.length >= x.k)) w.resolve();
  });
  const done = new Promise<{ stdout: string; status: number | null }>((r) => c.on('exit', (status) => r({ stdout, status })));
  const lineCount = (k: number): Promise<void> => {
    if (lines.length >= k) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`flux ${args.join(' ')}: ${k} lines not seen; got ${JSON.stringify(stdout)}`)), DEADLINE_MS);
      waiters.push({ k, resolve: () => { clearTimeout(t); resolve(); } });
    });
  };
  return { lines, lineCount, done };
}

test('flux kvs eventlog get --watch and wait-event on rank 3 follow events appended on rank 0', async () => {
  const env0 = inst.env;
  assert.equal((await flux(['kvs', 'eventlog', 'append', '-t', '1', 'cli.log', 'start'], env0)).status, 0);
  const get = startFlux(3, ['kvs', 'eventlog', 'get', '--watch', '--count=3', 'cli.log']);
  const wait = startFlux(3, ['kvs', 'eventlog', 'wait-event', '-v', 'cli.log', 'finish']);
  await get.lineCount(1);
  await wait.lineCount(1);
  assert.equal((await flux(['kvs', 'eventlog', 'append', '-t', '2', 'cli.log', 'middle', '{"n":2}'], env0)).status, 0);
  await get.lineCount(2);
  assert.equal((await flux(['kvs', 'eventlog', 'append', '-t', '3', 'cli.log', 'finish'], env0)).status, 0);
  assert.deepEqual(await get.done, { stdout: '1.000000 start\n2.000000 middle n=2\n3.000000 finish\n', status: 0 });
  assert.deepEqual(await wait.done, { stdout: '1.000000 start\n2.000000 middle n=2\n3.000000 finish\n', status: 0 });
  // --waitcreate on a log that does not exist yet.
  const later = startFlux(3, ['kvs', 'eventlog', 'wait-event', '--waitcreate', 'cli.later', 'go']);
  await waitStats(3, (s) => (s.namespace.primary?.watchers ?? 0) >= 1, 'wait-event --waitcreate registered');
  assert.equal((await flux(['kvs', 'eventlog', 'append', '-t', '4', 'cli.later', 'go'], env0)).status, 0);
  assert.deepEqual(await later.done, { stdout: '4.000000 go\n', status: 0 });
  const missing = await flux(['kvs', 'eventlog', 'wait-event', 'cli.nolog', 'go'], { ...inst.env, FLUX_URI: rankUri(3) });
  assert.deepEqual([missing.stderr, missing.status], ['flux-kvs: eventlog path cli.nolog not found\n', 1]);
});
