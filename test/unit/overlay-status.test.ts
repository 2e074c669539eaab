import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { OverlayHealth, aggregate } from '../../broker/src/broker/overlay-health';
import { OverlayMonitor } from '../../broker/src/broker/overlay-monitor';
import { ServiceTable } from '../../broker/src/broker/service';
import { FluxError } from '../../broker/src/common/libflux/errno';
import { drawTree, formatDuration, formatG, type StatusNode } from '../../broker/src/cmd/overlay-tree';
import { parseTopology } from '../../broker/src/broker/topology';
import {
  FLAG_NORESPONSE,
  FLAG_STREAMING,
  MSGTYPE_REQUEST,
  deriveErrorResponse,
  deriveResponse,
  getJson,
  newMessage,
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

/** Every broker of a topology, full, on host `vm`. */
function fullTree(spec: string, size: number, extra: Partial<StatusNode> = {}): StatusNode {
  const t = parseTopology(spec, size);
  const mk = (r: number): StatusNode => ({ rank: r, host: 'vm', status: 'full', ...extra, children: t.children(r).map(mk) });
  return mk(0);
}

const plain = { pretty: true, verbose: 0, color: false };

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

test('the tree drawings flux-core printed (topology-examples.txt)', () => {
  const cases: [string, number, string][] = [
    ['kary:2', 8, 'flux start --test-size=8 -Stbon.fanout=2 sh -c "flux getattr tbon.topo; flux overlay status"'],
    ['kary:3', 8, 'flux start --test-size=8 -Stbon.topo=kary:3 flux overlay status'],
    ['binomial', 8, 'flux start --test-size=8 -Stbon.topo=binomial sh -c "flux getattr tbon.topo; flux overlay status"'],
    ['kary:32', 16, 'flux start --test-size=16 flux overlay status'],
  ];
  for (const [spec, size, cmd] of cases) {
    const want = recorded('topology-examples.txt', cmd).filter((l) => /^[0-9│├└ ]/.test(l));
    assert.deepEqual(drawTree(fullTree(spec, size), plain), want, spec);
  }
});

test('-v, -vv and --no-pretty lines (overlay-status.txt)', () => {
  const durations = [1.81867, 1.82025, 1.81867, 1.81913];
  const rtts = [0.361, 0.447, 0.359, 0.359];
  const tree = fullTree('kary:32', 4);
  const all = [tree, ...tree.children];
  all.forEach((n, i) => Object.assign(n, { duration: durations[i], rtt: rtts[i] }));
  assert.deepEqual(drawTree(tree, plain), recorded('overlay-status.txt', 'flux overlay status'));
  assert.deepEqual(drawTree(tree, { ...plain, verbose: 1 }), recorded('overlay-status.txt', 'flux overlay status --color=never -v'));
  assert.deepEqual(drawTree(tree, { ...plain, verbose: 2 }).map((l) => l.replace(/ for \S+/, '')),
    recorded('overlay-status.txt', 'flux overlay status --color=never -vv').map((l) => l.replace(/ for \S+/, '')));
  assert.deepEqual(drawTree(tree, { ...plain, pretty: false }), recorded('overlay-status.txt', 'flux overlay status --no-pretty'));
});

test('lost, ghost and error lines', () => {
  const tree: StatusNode = {
    rank: 0, host: 'h0', status: 'degraded', duration: 2, rtt: 0.5, children: [
      { rank: 1, host: 'h1', status: 'lost', duration: 1.5, children: [{ rank: 3, host: 'h3', status: 'lost', ghost: true, children: [] }] },
      { rank: 2, host: 'h2', error: 'Connection timed out', rtt: 500.25, children: [] },
    ],
  };
  assert.deepEqual(drawTree(tree, { ...plain, verbose: 2 }), [
    '0 h0: degraded for 2s (0.500 ms)',
    '├─ 1 h1: lost for 1.5s',
    '│  └─ 3 h3: lost',
    '└─ 2 h2: Connection timed out (500.250 ms)',
  ]);
  assert.equal(drawTree(tree, { ...plain, color: true })[1], '├─ 1 h1: \x1b[31mlost\x1b[39m');
  assert.equal(drawTree(tree, { ...plain, color: true })[2], '│  └─ 3 h3: \x1b[90mlost\x1b[39m');
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
  mon.childJoined(3, 'u3', 'full');
  mon.childJoined(4, 'u4', 'partial');
  assert.equal(mon.health.status, 'partial');
  assert.deepEqual(upward, [], 'still partial, as told in the hello: nothing to report');
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
