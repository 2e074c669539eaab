import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import type * as os from 'node:os';
import { Attributes } from '../../broker/src/broker/attr';
import {
  PmiServer,
  bindEndpoint,
  bootOverlay,
  defaultRouteInterface,
  needsExchange,
  primaryAddress,
  type PmiClient,
} from '../../broker/src/broker/overlay-boot';
import { parseTopology } from '../../broker/src/broker/topology';
import { FluxError } from '../../broker/src/common/libflux/errno';

const ROUTES = [
  'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
  'eth1\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
  'eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0',
].join('\n');

const v4 = (address: string): os.NetworkInterfaceInfo =>
  ({ address, family: 'IPv4', netmask: '255.255.255.0', mac: '00:00:00:00:00:00', internal: false, cidr: `${address}/24` });
const IFS = { lo: [v4('127.0.0.1')], eth0: [v4('192.0.2.2')], eth1: [v4('10.0.2.15')] };

test('the primary address follows tbon.interface-hint as flux-core\'s ipaddr does', async () => {
  assert.equal(defaultRouteInterface(ROUTES), 'eth0');
  assert.equal(defaultRouteInterface(ROUTES.split('\n').slice(0, 2).join('\n')), undefined);
  assert.equal(await primaryAddress('default-route', IFS, ROUTES), '192.0.2.2');
  assert.equal(await primaryAddress('lo', IFS, ROUTES), '127.0.0.1');
  assert.equal(await primaryAddress('10.0.2.0/24', IFS, ROUTES), '10.0.2.15');
  await assert.rejects(primaryAddress('nosuch0', IFS, ROUTES), (e: unknown) => e instanceof FluxError && e.message === 'could not find an IPv4 address for interface nosuch0');
  await assert.rejects(primaryAddress('default-route', IFS, ROUTES.split('\n')[0]), /could not find an IPv4 address for default route$/);
});

test('what a router binds: ipc:// by default, tcp:// when asked', async () => {
  const a = new Attributes();
  assert.equal(await bindEndpoint(a, '/tmp/r', 3), 'ipc:///tmp/r/tbon-3');
  assert.equal(needsExchange(a), false);
  a.set('tbon.prefertcp', '0');
  assert.equal(needsExchange(a), false, 'prefertcp=0 is off');
  a.set('tbon.endpoint', 'tcp://127.0.0.1:*');
  assert.equal(await bindEndpoint(a, '/tmp/r', 3), 'tcp://127.0.0.1:*');
  assert.equal(needsExchange(a), true);
  const b = new Attributes();
  b.set('tbon.prefertcp', '1');
  b.set('tbon.interface-hint', 'lo');
  assert.equal(await bindEndpoint(b, '/tmp/r', 0), 'tcp://127.0.0.1:*');
});

/** A stand-in for a broker's IPC channel: collects what the launcher sends it. */
function fakeBroker(): ChildProcess & { got: unknown[] } {
  const got: unknown[] = [];
  return { connected: true, got, send: (m: unknown) => got.push(m) } as unknown as ChildProcess & { got: unknown[] };
}

test('PmiServer: a get waits for the put; puts answer every waiter; junk is ignored', () => {
  const pmi = new PmiServer();
  const child = fakeBroker();
  const other = fakeBroker();
  pmi.handle(child, { type: 'pmi-get', key: 'tbon.endpoint.0' });
  pmi.handle(other, { type: 'pmi-get', key: 'tbon.endpoint.0' });
  assert.deepEqual(child.got, []);
  pmi.handle(other, { type: 'run', uri: 'x' });
  pmi.handle(other, { type: 'pmi-put', key: 'k' });
  pmi.handle(fakeBroker(), { type: 'pmi-put', key: 'tbon.endpoint.0', value: 'tcp://127.0.0.1:5000' });
  const want = { type: 'pmi-value', key: 'tbon.endpoint.0', value: 'tcp://127.0.0.1:5000' };
  assert.deepEqual(child.got, [want]);
  assert.deepEqual(other.got, [want]);
  const late = fakeBroker();
  pmi.handle(late, { type: 'pmi-get', key: 'tbon.endpoint.0' });
  assert.deepEqual(late.got, [want], 'already known: answered at once');
});

test('bootOverlay: tcp routers publish the bound endpoint, children connect to their parent\'s', async () => {
  const topo = parseTopology('kary:2', 4); // 0:[1,2] 1:[3]
  const store = new Map<string, string>();
  const pmi = { put: (k: string, v: string) => store.set(k, v), get: (k: string) => Promise.resolve(store.get(k) ?? '') } as unknown as PmiClient;
  const ports = new Map([[0, 41000], [1, 41001]]);
  const actions: string[] = [];
  const boot = async (rank: number, attrs: Attributes): Promise<void> => {
    await bootOverlay({
      bindChildren: (spec) => {
        actions.push(`${rank} bind ${spec}`);
        return Promise.resolve(spec.replace('*', String(ports.get(rank))));
      },
      connectParent: (uri) => void actions.push(`${rank} connect ${uri}`),
    }, { rank, rundir: '/tmp/r', uuid: `u${rank}`, topo, attrs }, pmi);
  };
  const attrsOf = new Map<number, Attributes>();
  for (const rank of [0, 1, 3]) {
    const a = new Attributes();
    a.set('tbon.endpoint', 'tcp://127.0.0.1:*');
    attrsOf.set(rank, a);
    await boot(rank, a);
  }
  assert.deepEqual(actions, ['0 bind tcp://127.0.0.1:*', '1 bind tcp://127.0.0.1:*', '1 connect tcp://127.0.0.1:41000', '3 connect tcp://127.0.0.1:41001']);
  assert.equal(attrsOf.get(0)!.get('tbon.endpoint'), 'tcp://127.0.0.1:41000');
  assert.equal(attrsOf.get(1)!.get('tbon.parent-endpoint'), 'tcp://127.0.0.1:41000');
  assert.equal(attrsOf.get(3)!.get('tbon.endpoint'), undefined, 'a leaf binds nothing');
  assert.equal(attrsOf.get(3)!.get('tbon.parent-endpoint'), 'tcp://127.0.0.1:41001');

  // The default layout needs no exchange: the parent link first, then the bind.
  actions.length = 0;
  await boot(1, new Attributes());
  assert.deepEqual(actions, ['1 connect ipc:///tmp/r/tbon-0', '1 bind ipc:///tmp/r/tbon-1']);

  // A router that cannot bind leaves an empty card: its children fail instead of waiting.
  store.clear();
  const bad = new Attributes();
  bad.set('tbon.endpoint', 'tcp://127.0.0.1:*');
  await assert.rejects(bootOverlay({ bindChildren: () => Promise.reject(new Error('Address already in use')), connectParent: () => {} },
    { rank: 0, rundir: '/tmp/r', uuid: 'u0', topo, attrs: bad }, pmi), /^FluxError: error binding to tcp:\/\/127\.0\.0\.1:\*: Address already in use$/);
  const orphan = new Attributes();
  orphan.set('tbon.endpoint', 'tcp://127.0.0.1:*');
  await assert.rejects(bootOverlay({ bindChildren: () => Promise.resolve('x'), connectParent: () => {} },
    { rank: 2, rundir: '/tmp/r', uuid: 'u2', topo, attrs: orphan }, pmi), /error decoding rank 0 business card/);
});
