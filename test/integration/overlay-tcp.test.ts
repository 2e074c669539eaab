import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { flux, startInstance, waitGone } from './helpers';
import { Flux } from '../../broker/src/common/libflux/handle';
import { FluxError } from '../../broker/src/common/libflux/errno';

const EHOSTUNREACH = 113;

async function attr(h: Flux, name: string, rank: number): Promise<string> {
  return (await h.rpc('attr.get', { name }, { nodeid: rank }).get<{ value: string }>()).value;
}

/** A TCP connection to `uri` (tcp://HOST:PORT) is accepted: something really listens there. */
function tcpListens(uri: string): Promise<boolean> {
  const m = /^tcp:\/\/([\d.]+):(\d+)$/.exec(uri);
  if (!m) return Promise.resolve(false);
  return new Promise((resolve) => {
    const s = net.connect(Number(m[2]), m[1], () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

test('-S tbon.endpoint=tcp://127.0.0.1:* : wildcard ports resolved, children connect to what the parent bound', async () => {
  // kary:2 of 4: 0:[1,2] 1:[3]
  const inst = await startInstance(4, ['tbon.topo=kary:2', 'tbon.endpoint=tcp://127.0.0.1:*'], ['--test-exit-mode=leader']);
  const h = await Flux.open(inst.uri);
  try {
    const ep0 = await attr(h, 'tbon.endpoint', 0);
    const ep1 = await attr(h, 'tbon.endpoint', 1);
    assert.match(ep0, /^tcp:\/\/127\.0\.0\.1:\d+$/);
    assert.match(ep1, /^tcp:\/\/127\.0\.0\.1:\d+$/);
    assert.notEqual(ep0, ep1);
    assert.ok(await tcpListens(ep0), `${ep0} accepts TCP connections`);
    assert.equal(await attr(h, 'tbon.parent-endpoint', 1), ep0);
    assert.equal(await attr(h, 'tbon.parent-endpoint', 2), ep0);
    assert.equal(await attr(h, 'tbon.parent-endpoint', 3), ep1);
    await assert.rejects(attr(h, 'tbon.endpoint', 3), (e: unknown) => e instanceof FluxError && e.errnum === 2, 'a leaf binds nothing');
    for (let r = 0; r < 4; r++) assert.equal((await h.rpc('broker.ping', {}, { nodeid: r }).get<{ rank: number }>()).rank, r);
    const st = await flux(['overlay', 'status', '-t', '10', '--no-pretty'], inst.env);
    assert.equal(st.stdout.split('\n').filter((l) => l.endsWith(': full')).length, 4, st.stdout);

    // A broker killed over TCP is lost like one over ipc://, and requests to it fail fast.
    const pid = Number(await attr(h, 'broker.pid', 3));
    process.kill(pid, 'SIGKILL');
    const t0 = Date.now();
    await assert.rejects(h.rpc('broker.ping', {}, { nodeid: 3 }).get(), (e: unknown) => e instanceof FluxError && e.errnum === EHOSTUNREACH);
    assert.ok(Date.now() - t0 < 1000, `EHOSTUNREACH after ${Date.now() - t0} ms`);
    assert.equal((await h.rpc('broker.ping', {}, { nodeid: 2 }).get<{ rank: number }>()).rank, 2);
  } finally {
    h.close();
    await inst.stop();
    await waitGone(inst.pids);
  }
});

test('tbon.prefertcp=1 binds tcp:// on the address tbon.interface-hint names', async () => {
  const r = await flux(['start', '-s3', '-S', 'tbon.prefertcp=1', '-S', 'tbon.interface-hint=lo', 'sh', '-c',
    'flux getattr tbon.endpoint; FLUX_URI=$(flux getattr rundir | sed "s|^|local://|")/local-2 flux getattr tbon.parent-endpoint; flux ping -c1 2 >/dev/null && echo pinged']);
  assert.equal(r.status, 0, r.stderr);
  const [ep, parentEp, pinged] = r.stdout.split('\n');
  assert.match(ep, /^tcp:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(parentEp, ep);
  assert.equal(pinged, 'pinged');
  // tcp://IFACE:PORT names an interface, as ZeroMQ allows; the attribute shows its address.
  const i = await flux(['start', '-s2', '-S', 'tbon.endpoint=tcp://lo:*', 'sh', '-c', 'flux getattr tbon.endpoint; flux ping -c1 1 >/dev/null && echo pinged']);
  assert.equal(i.status, 0, i.stderr);
  assert.match(i.stdout, /^tcp:\/\/127\.0\.0\.1:\d+\npinged\n$/);
});

test('a tcp:// endpoint that cannot be had fails flux start at once, children included', async () => {
  const t0 = Date.now();
  const r = await flux(['start', '-s3', '-S', 'tbon.prefertcp=1', '-S', 'tbon.interface-hint=nosuch0', 'true']);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /^flux-broker: could not find an IPv4 address for interface nosuch0$/m);
  assert.match(r.stderr, /^flux-broker: error decoding rank 0 business card$/m);
  assert.ok(Date.now() - t0 < 10_000, 'the children did not wait for an endpoint that will never come');
});
