import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { OverlayHealth, aggregate } from '../../broker/src/broker/overlay-health';
import { OverlayMonitor } from '../../broker/src/broker/overlay-monitor';
import { ServiceTable } from '../../broker/src/broker/service';
import { FluxError } from '../../broker/src/common/libflux/errno';
import { formatDuration, formatG, statusLines, type HealthChild, type StatusOptions } from '../../broker/src/cmd/overlay-tree';
import { encodeHostlist } from '../../broker/src/cmd/overlay-common';
import { encodeSize, TracePrinter } from '../../broker/src/cmd/overlay-trace';
import { OverlayTrace, globMatch } from '../../broker/src/broker/overlay-trace';
import { parseTopology, subtree } from '../../broker/src/broker/topology';
import {
  FLAG_NORESPONSE,
  FLAG_STREAMING,
  MSGTYPE_REQUEST,
  deriveErrorResponse,
  deriveResponse,
  getJson,
  newMessage,
  setJson,
} from '../../broker/src/common/libflux/message';

const REF = path.resolve(__dirname, '../../../shared/reference/flux-core-behaviour');

/** The output of the `$ cmd` block in a recorded file (without the exit status line). */
function recorded(file: string, cmd: string): string[] {
  const text = fs.readFileSync(path.join(REF, file), 'utf8');
  const start = text.indexOf(`$ ${cmd}\n`);
  assert.ok(start >= 0, `${cmd} not in ${file}`);
  const body = text.slice(start + cmd.length + 3);
  return body.slice(0, body.indexOf('[exit status:')).trimEnd().split('\n');
}

/**
 * A pretend instance for the status walk: `spec`/`size` tree on host `vm`, every
 * broker full unless `status` says otherwise; `unreachable` ranks fail their
 * health request with that text. Round trips come out as 0.500 ms.
 */
function fake(spec: string, size: number, f: {
  status?: Record<number, string>;
  reason?: Record<number, string>;
  unreachable?: Record<number, string>;
  duration?: (rank: number) => number;
} = {}): Pick<StatusOptions, 'host' | 'topology' | 'health' | 'now'> & { asked: number[] } {
  const t = parseTopology(spec, size);
  const st = (r: number): string => f.status?.[r] ?? 'full';
  const dur = f.duration ?? (() => 1);
  const asked: number[] = [];
  let clock = 0;
  return {
    asked,
    host: () => 'vm',
    topology: subtree(t, 0),
    now: () => (clock += 0.5),
    health: (rank) => {
      asked.push(rank);
      const err = f.unreachable?.[rank];
      if (err !== undefined) return Promise.resolve({ ok: false, error: err });
      const children: HealthChild[] = t.children(rank).map((c) => {
        const e: HealthChild = { rank: c, status: st(c), duration: dur(c) };
        if (f.reason?.[c]) e.error = f.reason[c];
        return e;
      });
      return Promise.resolve({ ok: true, reply: { rank, status: st(rank), duration: dur(rank), children } });
    },
  };
}

const base = { mode: 'all' as const, verbose: 0, color: false, pretty: true, ghost: true, highlight: new Set<number>() };

test('status aggregation: degraded beats partial beats full', () => {
  assert.equal(aggregate([]), 'full');
  assert.equal(aggregate(['full', 'full']), 'full');
  assert.equal(aggregate(['full', 'offline']), 'partial');
  assert.equal(aggregate(['partial', 'full']), 'partial');
  assert.equal(aggregate(['partial', 'lost']), 'degraded');
  assert.equal(aggregate(['degraded', 'offline']), 'degraded');
});

test('OverlayHealth: join, loss, durations and the report flux-core sends', () => {
  let now = 1000;
  const h = new OverlayHealth(1, [3, 4], () => now);
  assert.equal(h.status, 'partial', 'children not joined yet are offline');
  now = 2000;
  assert.equal(h.setChild(3, 'full', 'u3'), false, 'still partial');
  assert.equal(h.setChild(4, 'full', 'u4'), true);
  assert.equal(h.status, 'full');
  now = 3500;
  assert.deepEqual(h.report(), {
    rank: 1, status: 'full', duration: 1.5,
    children: [{ rank: 3, status: 'full', duration: 1.5 }, { rank: 4, status: 'full', duration: 1.5 }],
  });
  assert.deepEqual(h.silent(1000), [3, 4]);
  h.heard(3);
  assert.deepEqual(h.silent(1000), [4]);
  assert.equal(h.setChild(3, 'partial'), true);
  assert.equal(h.status, 'partial');
  now = 4000;
  assert.equal(h.setChild(4, 'lost'), true);
  assert.equal(h.status, 'degraded');
  assert.deepEqual(h.onlineChildren(), [{ rank: 3, uuid: 'u3' }]);
  assert.equal(h.rankOf('u4'), 4);
  now = 6000;
  assert.deepEqual(h.report().children, [{ rank: 3, status: 'partial', duration: 2.5 }, { rank: 4, status: 'lost', duration: 2 }]);
  assert.equal(h.report().duration, 2);
});

test('OverlayHealth: requests in flight through a child are handed back once', () => {
  const h = new OverlayHealth(0, [1, 2]);
  const req = (tag: number, routes: string[], flags = 0) => {
    const m = newMessage(MSGTYPE_REQUEST, 'x.y');
    m.aux2 = tag;
    m.routes = routes;
    m.flags |= flags;
    return m;
  };
  const a = req(1, ['client-a']);
  const b = req(1, ['client-b']);
  const quiet = req(0, ['client-a'], FLAG_NORESPONSE);
  const stream = req(2, ['client-a'], FLAG_STREAMING);
  for (const m of [a, b, quiet, stream]) h.track(1, m);
  assert.equal(h.pendingCount(1), 3, 'no-response requests are not tracked');
  h.answered(1, deriveResponse(a));
  h.answered(1, deriveResponse(stream));
  assert.equal(h.pendingCount(1), 2, 'a streaming request stays until its error/end');
  h.answered(1, deriveErrorResponse(stream, 61));
  const left = h.takePending(1);
  assert.deepEqual(left.map((m) => m.routes), [['client-b']]);
  assert.equal(h.takePending(1).length, 0);
});

test('formatDuration matches fsd_format_duration', () => {
  assert.equal(formatDuration(1.818671234), '1.81867s');
  assert.equal(formatDuration(0.188), '0.188s');
  assert.equal(formatDuration(90), '1.5m');
  assert.equal(formatDuration(7200), '2h');
  assert.equal(formatDuration(3 * 86400), '3d');
  assert.equal(formatDuration(Infinity), 'infinity');
  assert.equal(formatG(0.00001234), '1.234e-05');
});

test('the tree drawings flux-core printed (topology-examples.txt)', async () => {
  const cases: [string, number, string][] = [
    ['kary:2', 8, 'flux start --test-size=8 -Stbon.fanout=2 sh -c "flux getattr tbon.topo; flux overlay status"'],
    ['kary:3', 8, 'flux start --test-size=8 -Stbon.topo=kary:3 flux overlay status'],
    ['binomial', 8, 'flux start --test-size=8 -Stbon.topo=binomial sh -c "flux getattr tbon.topo; flux overlay status"'],
    ['kary:32', 16, 'flux start --test-size=16 flux overlay status'],
  ];
  for (const [spec, size, cmd] of cases) {
    const want = recorded('topology-examples.txt', cmd).filter((l) => /^[0-9│├└ ]/.test(l));
    const f = fake(spec, size);
    assert.deepEqual(await statusLines(0, { ...base, ...f }), want, spec);
    // Leaves are reported by their parent, not asked (flux-core asks only routers without -vv).
    assert.ok(f.asked.every((r) => r === 0 || parseTopology(spec, size).children(r).length > 0), `${spec}: only routers asked`);
  }
});

test('-v, -vv, --summary and --no-pretty lines (overlay-status.txt)', async () => {
  const durations = [1.81867, 1.82025, 1.81867, 1.81913];
  const f = fake('kary:32', 4, { duration: (r) => durations[r] });
  const strip = (l: string): string => l.replace(/ for \S+/, '').replace(/ \(\d+\.\d{3} ms\)/, ' (RTT)');
  assert.deepEqual(await statusLines(0, { ...base, ...f }), recorded('overlay-status.txt', 'flux overlay status'));
  assert.deepEqual(await statusLines(0, { ...base, ...f, verbose: 1 }), recorded('overlay-status.txt', 'flux overlay status --color=never -v'));
  const vv = await statusLines(0, { ...base, ...fake('kary:32', 4, { duration: (r) => durations[r] }), verbose: 2 });
  assert.deepEqual(vv.map(strip), recorded('overlay-status.txt', 'flux overlay status --color=never -vv').map(strip));
  assert.equal(vv[1], '├─ 1 vm: full for 1.82025s (0.500 ms)', '-vv asks the leaves too, for their round trips');
  assert.deepEqual(await statusLines(0, { ...base, ...f, pretty: false }), recorded('overlay-status.txt', 'flux overlay status --no-pretty'));
  assert.deepEqual(await statusLines(0, { ...base, ...f, mode: 'summary' }), ['full']);
  assert.deepEqual(await statusLines(0, { ...base, ...f, mode: 'summary', verbose: 2 }), ['full for 1.81867s (0.500 ms)']);
});

test('lost children show their reason, ghosts their presumed state, unreachable brokers the error', async () => {
  // kary:2 of 8: 0:[1,2] 1:[3,4] 2:[5,6] 3:[7]
  const f = fake('kary:2', 8, {
    status: { 0: 'degraded', 1: 'degraded', 3: 'lost', 2: 'partial', 6: 'offline' },
    reason: { 3: 'lost connection', 6: 'administrative shutdown' },
    unreachable: { 5: 'Connection timed out' },
  });
  assert.deepEqual(await statusLines(0, { ...base, ...f }), [
    '0 vm: degraded',
    '├─ 1 vm: degraded',
    '│  ├─ 3 vm: lost lost connection',
    '│  │  └─ 7 vm: lost',
    '│  └─ 4 vm: full',
    '└─ 2 vm: partial',
    '   ├─ 5 vm: full',
    '   └─ 6 vm: offline administrative shutdown',
  ]);
  assert.ok(!f.asked.includes(3) && !f.asked.includes(7), 'lost brokers and their subtrees are not asked');
  const noghost = await statusLines(0, { ...base, ...fake('kary:2', 8, { status: { 0: 'degraded', 1: 'degraded', 3: 'lost' } }), ghost: false });
  assert.ok(!noghost.some((l) => l.includes('7 vm')), '--no-ghost');
  const vv = await statusLines(0, { ...base, ...fake('kary:2', 8, { unreachable: { 2: 'Connection timed out' } }), verbose: 2 });
  assert.equal(vv[5], '└─ 2 vm: Connection timed out (0.500 ms)');
  assert.deepEqual(vv.length, 6, 'at -vv full ghosts are not printed (flux-core prints only what it asked, or lost/offline)');
  const v0 = await statusLines(0, { ...base, ...fake('kary:2', 8, { unreachable: { 2: 'Connection timed out' } }) });
  assert.deepEqual(v0.slice(5), ['└─ 2 vm: Connection timed out', '   ├─ 5 vm: full', '   └─ 6 vm: full'], 'ghosts below an unreachable router carry its last known state');
  const colored = await statusLines(0, { ...base, ...fake('kary:2', 8, { status: { 0: 'degraded', 1: 'degraded', 3: 'lost' } }), color: true });
  assert.equal(colored[2], '│  ├─ 3 vm: \x1b[31mlost\x1b[39m');
  assert.equal(colored[3], '│  │  └─ 7 vm: \x1b[90mlost\x1b[39m');
  await assert.rejects(statusLines(0, { ...base, ...fake('kary:2', 8, { unreachable: { 0: 'No route to host' } }) }), /^Error: No route to host$/);
});

test('--down follows only partial/degraded subtrees; -H marks targets and their ancestors', async () => {
  const f = () => fake('kary:2', 8, { status: { 0: 'degraded', 1: 'degraded', 3: 'lost' }, reason: { 3: 'lost connection' } });
  assert.deepEqual(await statusLines(0, { ...base, ...f(), mode: 'down' }), [
    '0 vm: degraded',
    '└─ 1 vm: degraded',
    '   ├─ 3 vm: lost lost connection',
    '   │  └─ 7 vm: lost',
  ].map((l, i) => (i === 1 ? '├─ 1 vm: degraded' : i > 1 ? `│  ${l.slice(3)}` : l)));
  assert.deepEqual(await statusLines(0, { ...base, ...fake('kary:2', 8), mode: 'down' }), [], 'nothing is down');
  const hl = await statusLines(0, { ...base, ...fake('kary:2', 8), highlight: new Set([7]) });
  assert.deepEqual(hl.filter((l) => l.includes('<<')), ['<<0 vm>>: full', '├─ <<1 vm>>: full', '│  ├─ <<3 vm>>: full', '│  │  └─ <<7 vm>>: full']);
  const hc = await statusLines(0, { ...base, ...fake('kary:2', 8), highlight: new Set([4]), color: true });
  assert.equal(hc[4], '│  └─ \x1b[01;34m4 vm\x1b[0m: full');
});

test('hostlists, sizes, trace lines and topic globs as flux-core writes them', () => {
  assert.equal(encodeHostlist(['vm', 'vm', 'vm']), 'vm,vm,vm');
  assert.equal(encodeHostlist(['test2', 'test5', 'test6', 'test7']), 'test[2,5-7]');
  assert.equal(encodeHostlist(['a1', 'b2', 'b3']), 'a1,b[2-3]');
  assert.equal(encodeSize(0), '0');
  assert.equal(encodeSize(1023), '1023');
  assert.equal(encodeSize(17469), '17.05957K');
  const p = new TracePrinter(false, false, false);
  const ts = new Date(2026, 10, 25, 0, 1, 2, 345).getTime() / 1000;
  assert.equal(p.format({ timestamp: ts, prefix: 'tx', rank: 1, type: 1, topic: 'kvs.ping', payload_size: 19 }), '2026-11-25T00:01:02.345 tx 1 > kvs.ping [19]');
  assert.equal(p.format({ timestamp: ts, prefix: 'rx', rank: 1, type: 2, topic: 'kvs.ping', payload_size: 19, errnum: 0 }), '2026-11-25T00:01:02.345 rx 1 < kvs.ping [19] success');
  assert.equal(p.format({ timestamp: ts, prefix: 'rx', rank: 2, type: 2, topic: 'x.y', payload_size: 0, errnum: 2, errstr: 'nope' }), '2026-11-25T00:01:02.345 rx 2 < x.y [0] ENOENT\nnope');
  assert.equal(p.format({ timestamp: ts, prefix: 'tx', rank: 3, type: 4, topic: 'heartbeat.pulse', payload_size: 2, payload: { a: 1 } }), '2026-11-25T00:01:02.345 tx 3 e heartbeat.pulse [2]\n{\n  "a": 1\n}');
  const hp = new TracePrinter(false, true, false);
  assert.equal(hp.format({ timestamp: ts, prefix: 'tx', rank: 1, type: 1, topic: 'a.b', payload_size: 0 }), '[Nov25 00:01] tx 1 > a.b [0]');
  assert.equal(hp.format({ timestamp: ts + 0.5, prefix: 'tx', rank: 1, type: 1, topic: 'a.b', payload_size: 0 }).slice(0, 14), '[  +2.845000] ');
  assert.ok(globMatch('*', 'kvs.ping') && globMatch('kvs.*', 'kvs.ping') && !globMatch('kvs.*', 'kvsx.ping'));
  assert.ok(globMatch('job-manager.[ks]ill', 'job-manager.kill') && globMatch('?.b', 'a.b') && !globMatch('[!a].b', 'a.b'));
});

test('OverlayTrace: filters by type, topic and peer; upkeep shows as control messages', () => {
  const tr = new OverlayTrace();
  tr.parentRank = 0;
  tr.rankOf = (uuid) => (uuid === 'u3' ? 3 : undefined);
  const got: Record<string, unknown>[][] = [[], [], []];
  const tracer = (i: number, payload: Record<string, unknown>, flags = FLAG_STREAMING) => {
    const req = newMessage(MSGTYPE_REQUEST, 'overlay.trace');
    req.flags |= flags;
    req.routes = [`client${i}`];
    setJson(req, payload);
    tr.request({ msg: req, json: <T>() => getJson<T>(req), respond: (o) => got[i].push(o), respondRaw: () => {}, respondError: () => {} });
  };
  assert.equal(tr.active, false);
  tracer(0, { typemask: 15, topic_glob: '*' });
  tracer(1, { typemask: 8, topic_glob: '*', nodeid: 3 });
  tracer(2, { typemask: 3, topic_glob: 'kvs.*', full: true });
  assert.throws(() => tracer(0, { typemask: 15, topic_glob: '*' }, 0), (e: unknown) => e instanceof FluxError && e.errnum === 71, 'not streaming: EPROTO');
  const ping = newMessage(MSGTYPE_REQUEST, 'kvs.ping');
  setJson(ping, { seq: 1 });
  tr.record('tx', 'u3', ping);
  const keepalive = newMessage(MSGTYPE_REQUEST, 'overlay.status');
  setJson(keepalive, { rank: 3, status: 'partial' });
  tr.record('rx', 'u3', keepalive);
  tr.record('rx', undefined, newMessage(MSGTYPE_REQUEST, 'overlay.trace'));
  const fail = deriveErrorResponse(ping, 2, 'no such key');
  tr.record('rx', 'u9', fail);
  assert.deepEqual(got[0].map((e) => [e.prefix, e.rank, e.type, e.topic]), [['tx', 3, 1, 'kvs.ping'], ['rx', 3, 8, 'status 2'], ['rx', -1, 2, 'kvs.ping']]);
  assert.deepEqual(got[1].map((e) => e.topic), ['status 2'], 'control messages with peer 3 only');
  assert.deepEqual(got[2].map((e) => [e.topic, e.payload, e.errnum, e.errstr]), [['kvs.ping', { seq: 1 }, 0, ''], ['kvs.ping', undefined, 2, 'no such key']]);
  assert.equal(got[0][0].payload, undefined, 'payloads only with full');
  tr.disconnect('client0');
  tr.record('tx', undefined, ping);
  assert.equal(got[0].length, 3, 'a disconnected client gets nothing more');
  assert.equal(got[2].at(-1)?.rank, 0, 'the parent is rank 0 here');
});

test('OverlayMonitor: probes after a disconnect, fails in-flight requests, reports upward', async () => {
  const gone = new Set<string>();
  const failed: [string[], number][] = [];
  const forgotten: number[] = [];
  const upward: unknown[] = [];
  let shutting = false;
  let lostParent = 0;
  const mon = new OverlayMonitor({
    rank: 1, parent: 0, children: [3, 4], uuid: 'me', owner: 0,
    shuttingDown: () => shutting,
    routeRequest: (m) => upward.push([m.topic, m.aux1, getJson(m)]),
    sendChild: (uuid) => (gone.has(uuid) ? Promise.reject(new FluxError(113)) : Promise.resolve()),
    failRequest: (m, e) => failed.push([m.routes, e]),
    forgetChild: (rank) => forgotten.push(rank),
    lostParent: () => lostParent++,
    requesterGone: () => false,
    isParent: () => false,
    logErr: () => {},
    logDebug: () => {},
  }, { probeDelays: [0], keepaliveMs: 60_000, lostMs: 60_000 });
  mon.register(new ServiceTable(() => {}, () => {}));
  mon.start();
  assert.deepEqual(upward, [['overlay.status', 0, { rank: 1, status: 'partial' }]], 'on start: the status now (children may have joined since the hello)');
  upward.length = 0;
  mon.childJoined(3, 'u3', 'full');
  mon.childJoined(4, 'u4', 'partial');
  assert.equal(mon.health.status, 'partial');
  assert.deepEqual(upward, [], 'still partial: nothing new to report');
  const req = newMessage(MSGTYPE_REQUEST, 'broker.ping');
  req.aux2 = 7;
  req.routes = ['client'];
  mon.forwarding(4, req);
  gone.add('u4');
  mon.childDisconnected();
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(mon.health.childStatus(4), 'lost');
  assert.equal(mon.health.childStatus(3), 'full');
  assert.deepEqual(forgotten, [4]);
  assert.deepEqual(failed, [[['client'], 113]]);
  assert.deepEqual(upward.at(-1), ['overlay.status', 0, { rank: 1, status: 'degraded' }]);
  shutting = true;
  mon.childShutdown(3);
  assert.equal(mon.health.childStatus(3), 'offline');
  mon.parentDisconnected();
  assert.equal(lostParent, 0, 'no panic while shutting down');
  shutting = false;
  mon.parentDisconnected();
  assert.equal(lostParent, 1);
  mon.stop();
});

test('OverlayMonitor: a child silent past the timeout is lost', async () => {
  const lost: number[] = [];
  const mon = new OverlayMonitor({
    rank: 0, parent: undefined, children: [1], uuid: 'me', owner: 0,
    shuttingDown: () => false,
    routeRequest: () => {},
    sendChild: () => Promise.resolve(),
    failRequest: () => {},
    forgetChild: (rank) => lost.push(rank),
    lostParent: () => {},
    requesterGone: () => false,
    isParent: () => false,
    logErr: () => {},
    logDebug: () => {},
  }, { lostMs: 50 });
  mon.start();
  mon.childJoined(1, 'u1', 'full');
  const t0 = Date.now();
  while (lost.length === 0 && Date.now() - t0 < 2000) await new Promise((r) => setTimeout(r, 10));
  mon.stop();
  assert.deepEqual(lost, [1]);
  assert.equal(mon.health.status, 'degraded');
});

test('OverlayMonitor: streaming overlay.health until the client disconnects', () => {
  const sent: { routes: string[]; status: string }[] = [];
  const services = new ServiceTable((m) => sent.push({ routes: m.routes, status: getJson<{ status: string }>(m).status }), () => {});
  const mon = new OverlayMonitor({
    rank: 0, parent: undefined, children: [1, 2], uuid: 'me', owner: 0,
    shuttingDown: () => false,
    routeRequest: () => {},
    sendChild: () => Promise.resolve(),
    failRequest: () => {},
    forgetChild: () => {},
    lostParent: () => {},
    requesterGone: () => false,
    isParent: () => false,
    logErr: () => {},
    logDebug: () => {},
  });
  mon.register(services);
  const req = (topic: string, client: string, flags = 0) => {
    const m = newMessage(MSGTYPE_REQUEST, topic);
    m.routes = [client];
    m.flags |= flags;
    return m;
  };
  services.dispatch(req('overlay.health', 'a', FLAG_STREAMING), () => {});
  services.dispatch(req('overlay.health', 'b', FLAG_STREAMING), () => {});
  services.dispatch(req('overlay.health', 'c'), () => {});
  assert.deepEqual(sent.map((s) => s.routes[0] + s.status), ['apartial', 'bpartial', 'cpartial']);
  sent.length = 0;
  mon.childJoined(1, 'u1', 'full');
  assert.deepEqual(sent.map((s) => s.routes[0] + s.status), ['apartial', 'bpartial'], 'a child changed: streams hear');
  services.dispatch(req('overlay.disconnect', 'a', FLAG_NORESPONSE), () => {});
  sent.length = 0;
  mon.childJoined(2, 'u2', 'full');
  assert.deepEqual(sent.map((s) => s.routes[0] + s.status), ['bfull']);
  mon.stop();
});
