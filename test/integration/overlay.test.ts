import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { FLUX, alive, flux, startInstance, waitGone, type Instance } from './helpers';
import { Flux } from '../../broker/src/common/libflux/handle';
import { FluxError } from '../../broker/src/common/libflux/errno';
import { FLAG_STREAMING, getJson, type Message } from '../../broker/src/common/libflux/message';

const EHOSTUNREACH = 113;
const HOST = os.hostname();
const REF = path.resolve(__dirname, '../../../shared/reference/flux-core-behaviour');

// 0:[1,2] 1:[3,4] 2:[5,6] 3:[7]. Losing a broker must not end the instance (exit mode leader).
let inst: Instance;
let h: Flux;
const pids: number[] = [];
before(async () => {
  inst = await startInstance(8, ['tbon.topo=kary:2'], ['--test-exit-mode=leader']);
  h = await Flux.open(inst.uri);
  for (let r = 0; r < 8; r++) {
    pids.push(Number((await h.rpc('attr.get', { name: 'broker.pid' }, { nodeid: r }).get<{ value: string }>()).value));
  }
});
after(async () => {
  h?.close();
  assert.equal(await inst.stop(), 0);
  await waitGone(pids);
});

interface Health {
  rank: number;
  status: string;
  duration: number;
  children: { rank: number; status: string; duration: number }[];
}

const health = (rank: number): Promise<Health> => h.rpc('overlay.health', undefined, { nodeid: rank }).get<Health>();

/** Poll `cond` until it holds or `ms` passes (then fail naming `what`). */
async function until(what: string, cond: () => Promise<boolean>, ms = 5000): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    if (await cond()) return Date.now() - t0;
    if (Date.now() - t0 > ms) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** `p`, or a plain Error (not EHOSTUNREACH) once `ms` passed. */
function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_res, rej) => (t = setTimeout(() => rej(new Error(`no answer within ${ms} ms`)), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(t));
}

const unreachable = (e: unknown): boolean => e instanceof FluxError && e.errnum === EHOSTUNREACH;

test('flux overlay status draws the kary:2 tree as flux-core does', async () => {
  const text = fs.readFileSync(path.join(REF, 'topology-examples.txt'), 'utf8');
  const block = text.split('$ ').find((b) => b.includes('tbon.fanout=2'))!;
  const want = block.split('\n').filter((l) => /^[0-9│├└ ]/.test(l) && l.includes(':')).map((l) => l.replace(' vm:', ` ${HOST}:`));
  assert.equal(want.length, 8);
  const r = await flux(['overlay', 'status', '-t', '10'], inst.env);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stdout.trimEnd().split('\n'), want);

  const vv = await flux(['overlay', 'status', '-t', '10', '--color=never', '-vv'], inst.env);
  const lines = vv.stdout.trimEnd().split('\n');
  assert.equal(lines.length, 8);
  for (const l of lines) assert.match(l, /^[│├└─ ]*\d+ \S+: full for \d+(\.\d+)?[smhd] \(\d+\.\d{3} ms\)$/);
  assert.equal((await flux(['overlay', 'status', '-t', '10', '--summary'], inst.env)).stdout, 'full\n');
  const np = await flux(['overlay', 'status', '-t', '10', '--no-pretty', '-r', '2'], inst.env);
  assert.equal(np.stdout, `2 ${HOST}: full\n5 ${HOST}: full\n6 ${HOST}: full\n`);
  assert.equal((await flux(['overlay', 'lookup', '0-3'], inst.env)).stdout, `${Array(4).fill(HOST).join(',')}\n`);
  const hv = await flux(['overlay', '--help'], inst.env);
  assert.equal(hv.stdout, fs.readFileSync(path.join(REF, 'overlay-help.txt'), 'utf8').split('\n').slice(1, -2).join('\n') + '\n');
});

test('overlay.health has flux-core\'s shape', async () => {
  const r = await health(1);
  assert.deepEqual(Object.keys(r).sort(), ['children', 'duration', 'rank', 'status']);
  assert.equal(r.rank, 1);
  assert.equal(r.status, 'full');
  assert.ok(r.duration > 0);
  assert.deepEqual(r.children.map((c) => [c.rank, c.status]), [[3, 'full'], [4, 'full']]);
  assert.deepEqual((await health(7)).children, []);
});

test('flux overlay trace shows the messages crossing rank 0\'s links, until interrupted', async () => {
  const t = spawn(process.execPath, [FLUX, 'overlay', 'trace', '-t', 'request,response', 'broker.*'], { env: inst.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  t.stdout.on('data', (d: Buffer) => (text += d.toString()));
  const exited = new Promise<number | null>((res) => t.once('exit', (code) => res(code)));
  try {
    // The tracer registers asynchronously: ping until its stream shows a ping both ways.
    await until('the trace to show a ping to rank 1 and its response', async () => {
      await h.rpc('broker.ping', {}, { nodeid: 1 }).get();
      await h.rpc('attr.get', { name: 'rank' }, { nodeid: 1 }).get();
      return / tx 1 > broker\.ping /.test(text) && / rx 1 < broker\.ping .* success/.test(text);
    });
  } finally {
    t.kill('SIGTERM');
  }
  assert.equal(await exited, 0, 'SIGTERM ends the trace normally');
  const ts = '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}';
  assert.match(text, new RegExp(`^${ts} tx 1 > broker\\.ping \\[\\d+\\]$`, 'm'));
  assert.match(text, new RegExp(`^${ts} rx 1 < broker\\.ping \\[\\d+\\] success$`, 'm'));
  assert.ok(!text.includes('attr.get'), 'the topic glob filters');
  assert.ok(!/ e /.test(text), 'the type filter leaves events out');
  const bad = await flux(['overlay', 'trace', '-t', 'foo,bar'], inst.env);
  assert.deepEqual([bad.stderr, bad.status], ['flux-overlay: valid types: request, response, event, control\n', 1]);
  assert.equal((await flux(['overlay', 'trace', 'x', 'y'], inst.env)).status, 1);
});

test('flux overlay errors is empty and parentof follows the tree while all is well', async () => {
  const e = await flux(['overlay', 'errors'], inst.env);
  assert.deepEqual([e.stdout, e.stderr, e.status], ['', '', 0], 'as recorded in overlay-errors.txt');
  assert.equal((await flux(['overlay', 'parentof', '7'], inst.env)).stdout, '3\n');
  assert.equal((await flux(['overlay', 'parentof', '2'], inst.env)).stdout, '0\n');
  const root = await flux(['overlay', 'parentof', '0'], inst.env);
  assert.deepEqual([root.stderr, root.status], ['flux-overlay: 0 has no parent\n', 1]);
  const big = await flux(['overlay', 'parentof', '8'], inst.env);
  assert.deepEqual([big.stderr, big.status], ['flux-overlay: 8 is not a valid rank in this instance\n', 1]);
  const hl = await flux(['overlay', 'status', '-t', '10', '-H', '4'], inst.env);
  assert.deepEqual(hl.stdout.split('\n').filter((l) => l.includes('<<')), [`<<0 ${HOST}>>: full`, `├─ <<1 ${HOST}>>: full`, `│  └─ <<4 ${HOST}>>: full`]);
  const out = await flux(['overlay', 'status', '-H', '9'], inst.env);
  assert.deepEqual([out.stderr, out.status], ['flux-overlay: --highlight: rank 9 not in set 0-7\n', 1]);
  assert.equal((await flux(['overlay', 'status', '--down'], inst.env)).stdout, '', '--down: nothing is down');
});

test('a killed leaf is lost: in-flight and new RPCs fail fast, the rest keeps serving', async () => {
  const leaf = 6;
  // Freeze the leaf so a request to it stays in flight, then kill it.
  process.kill(pids[leaf], 'SIGSTOP');
  const inflight = h.rpc('broker.ping', {}, { nodeid: leaf }).get();
  inflight.catch(() => {});
  // Same path, sent after it: once rank 2 answers this, it has forwarded the ping to rank 6.
  assert.equal((await health(2)).status, 'full');
  process.kill(pids[leaf], 'SIGKILL');
  await assert.rejects(within(inflight, 5000), unreachable);
  await until('rank 2 to report rank 6 lost', async () => (await health(2)).children.find((c) => c.rank === leaf)?.status === 'lost');
  const t1 = Date.now();
  await assert.rejects(within(h.rpc('broker.ping', {}, { nodeid: leaf }).get(), 1000), unreachable);
  assert.ok(Date.now() - t1 < 1000, 'a new request into the lost subtree fails at once');
  assert.equal((await health(0)).status, 'degraded');
  assert.equal((await health(2)).status, 'degraded');
  assert.equal((await health(1)).status, 'full');
  for (const r of [0, 1, 2, 3, 4, 5, 7]) {
    assert.equal((await h.rpc('broker.ping', {}, { nodeid: r }).get<{ rank: number }>()).rank, r);
  }
  const st = await flux(['overlay', 'status', '-t', '10'], inst.env);
  assert.equal(st.status, 0, st.stderr);
  assert.match(st.stdout, new RegExp(`^0 ${HOST}: degraded$`, 'm'));
  assert.match(st.stdout, new RegExp(`^└─ 2 ${HOST}: degraded$`, 'm'));
  assert.match(st.stdout, new RegExp(`^   └─ 6 ${HOST}: lost lost connection$`, 'm'));
  assert.match(st.stdout, new RegExp(`^├─ 1 ${HOST}: full$`, 'm'));
  assert.equal((await flux(['overlay', 'status', '-t', '10', '--summary'], inst.env)).stdout, 'degraded\n');
  const ping = await flux(['ping', '-c1', String(leaf)], inst.env);
  assert.equal(ping.stderr, `flux-ping: ${leaf}!broker.ping: No route to host\n`);
});

test('killing a router loses its subtree: the orphan exits (lost parent)', async () => {
  // A streaming overlay.health request follows the change.
  const stream = h.rpc('overlay.health', undefined, { nodeid: 1, flags: FLAG_STREAMING });
  const it = stream[Symbol.asyncIterator]();
  const first = await it.next();
  assert.equal(first.done, false);
  assert.equal(getJson<Health>(first.value as Message).status, 'full');
  // The broker's pid, as an admin would get it: flux getattr on that rank's own socket.
  const g = await flux(['getattr', 'broker.pid'], { ...inst.env, FLUX_URI: `local://${inst.rundir}/local-3` });
  assert.equal(Number(g.stdout), pids[3]);
  process.kill(Number(g.stdout), 'SIGKILL');
  const t0 = Date.now();
  // Requests to it and below it fail fast: in flight when it died, or refused once it is known lost.
  for (const rank of [3, 7]) {
    for (;;) {
      const err = await within(h.rpc('broker.ping', {}, { nodeid: rank }).get(), 1000).then(() => undefined, (e: unknown) => e);
      if (err !== undefined) {
        assert.ok(unreachable(err), `rank ${rank}: ${String(err)}`);
        break;
      }
      assert.ok(Date.now() - t0 < 1000, `rank ${rank} still answers`);
    }
  }
  assert.ok(Date.now() - t0 < 1000, `EHOSTUNREACH within 1 s (took ${Date.now() - t0} ms)`);
  for (const rank of [0, 1, 2, 4, 5]) assert.equal((await h.rpc('broker.ping', {}, { nodeid: rank }).get<{ rank: number }>()).rank, rank);
  const next = await within(it.next(), 5000);
  assert.equal(getJson<Health>(next.value as Message).status, 'degraded');
  stream.cancelLocal();
  await until('rank 7 to exit', () => Promise.resolve(!alive(pids[7])));
  await until('rank 1 to report rank 3 lost', async () => (await health(1)).children.find((c) => c.rank === 3)?.status === 'lost');
  await assert.rejects(within(h.rpc('broker.ping', {}, { nodeid: 7 }).get(), 1000), unreachable);
  const st = await flux(['overlay', 'status', '-t', '10', '-v'], inst.env);
  assert.match(st.stdout, new RegExp(`^│  ├─ 3 ${HOST}: lost for \\S+s lost connection$`, 'm'));
  const errs = await flux(['overlay', 'errors'], inst.env);
  assert.deepEqual([errs.stdout, errs.status], [`${HOST},${HOST}: lost connection\n${HOST}: lost parent\n`, 0], 'ranks 3 and 6 lost, 7 cut off');
  const down = await flux(['overlay', 'status', '--down', '-t', '10'], inst.env);
  assert.deepEqual(down.stdout.split('\n').filter(Boolean), [
    `0 ${HOST}: degraded`,
    `├─ 1 ${HOST}: degraded`,
    `│  ├─ 3 ${HOST}: lost lost connection`,
    `│  │  └─ 7 ${HOST}: lost`,
    `└─ 2 ${HOST}: degraded`,
    `   └─ 6 ${HOST}: lost lost connection`,
  ]);
  assert.match(st.stdout, new RegExp(`^│  │  └─ 7 ${HOST}: lost$`, 'm'), 'ghost of the unreachable rank');
  assert.ok(alive(pids[0]) && alive(pids[1]) && alive(pids[4]));
  const w = await flux(['overlay', 'status', '--summary', '--wait=degraded', '-r', '1'], inst.env);
  assert.deepEqual([w.stdout, w.status], ['degraded\n', 0]);
  const late = await flux(['overlay', 'status', '--wait=full', '-t', '0.3', '-r', '1'], inst.env);
  assert.deepEqual([late.stderr, late.status], ['flux-overlay: Connection timed out\n', 1]);
});

test('a broker that leaves on its own says goodbye: offline, not lost', async () => {
  process.kill(pids[4], 'SIGTERM');
  await until('rank 4 to exit', () => Promise.resolve(!alive(pids[4])));
  await until('rank 1 to report rank 4 offline', async () => (await health(1)).children.find((c) => c.rank === 4)?.status === 'offline');
  await assert.rejects(within(h.rpc('broker.ping', {}, { nodeid: 4 }).get(), 1000), unreachable);
  const st = await flux(['overlay', 'status', '-t', '10'], inst.env);
  assert.match(st.stdout, new RegExp(`^│  └─ 4 ${HOST}: offline administrative shutdown$`, 'm'));
  assert.doesNotMatch((await flux(['overlay', 'errors'], inst.env)).stdout, /shutdown/, 'offline is not an error');
});

test('flux overlay disconnect drops a subtree: its parent marks it lost and it exits', async () => {
  const d = await flux(['overlay', 'disconnect', '5'], inst.env);
  assert.deepEqual([d.stderr, d.status], [`flux-overlay: asking ${HOST} (rank 2) to disconnect child ${HOST} (rank 5)\n`, 0]);
  assert.equal((await health(2)).children.find((c) => c.rank === 5)?.status, 'lost', 'lost at once');
  await assert.rejects(within(h.rpc('broker.ping', {}, { nodeid: 5 }).get(), 1000), unreachable);
  await until('rank 5 to exit', () => Promise.resolve(!alive(pids[5])));
  const st = await flux(['overlay', 'status', '-t', '10', '-r', '2'], inst.env);
  assert.match(st.stdout, new RegExp(`^├─ 5 ${HOST}: lost administrative disconnect$`, 'm'));
  assert.match((await flux(['overlay', 'errors'], inst.env)).stdout, new RegExp(`^${HOST}: administrative disconnect$`, 'm'));
  const again = await flux(['overlay', 'disconnect', '5'], inst.env);
  assert.equal(again.status, 1);
  assert.match(again.stderr, /^flux-overlay: overlay\.disconnect-subtree: rank 5 is already lost\n$/m);
  const wrong = await flux(['overlay', 'disconnect', '-r', '1', '2'], inst.env);
  assert.match(wrong.stderr, /overlay\.disconnect-subtree: requested rank is not this broker's direct child\n$/);
  const none = await flux(['overlay', 'disconnect', 'nosuchhost'], inst.env);
  assert.deepEqual([none.stderr, none.status], ['flux-overlay: TARGET must be a valid rank or hostname\n', 1]);
});

test('a child stopped past tbon.torpid_max is lost, and exits when it wakes up', async () => {
  const small = await startInstance(3, ['tbon.torpid_max=1s'], ['--test-exit-mode=leader']);
  const h2 = await Flux.open(small.uri);
  try {
    const pid = Number((await h2.rpc('attr.get', { name: 'broker.pid' }, { nodeid: 2 }).get<{ value: string }>()).value);
    process.kill(pid, 'SIGSTOP');
    await until('rank 0 to declare rank 2 lost', async () =>
      (await h2.rpc('overlay.health', undefined, { nodeid: 0 }).get<Health>()).children.find((c) => c.rank === 2)?.status === 'lost');
    await assert.rejects(within(h2.rpc('broker.ping', {}, { nodeid: 2 }).get(), 1000), unreachable);
    process.kill(pid, 'SIGCONT');
    await until('the woken child to exit', () => Promise.resolve(!alive(pid)));
    assert.equal((await h2.rpc('broker.ping', {}, { nodeid: 1 }).get<{ rank: number }>()).rank, 1);
  } finally {
    h2.close();
    assert.equal(await small.stop(), 0);
  }
});
