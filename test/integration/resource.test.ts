/**
 * The resource module: every rank reports its machine, rank 0 writes
 * resource.R (RFC 20) and a resource-define event, as a flux-core test
 * instance's `flux kvs get resource.R` shows.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as os from 'node:os';
import { startInstance } from './helpers';
import { Flux } from '../../broker/src/common/libflux/handle';
import { decodeVal, type TreeObj } from '../../broker/src/common/libkvs/treeobj';
import { probeMachine } from '../../broker/src/common/librlist/probe';

async function kvsGet(h: Flux, key: string): Promise<string> {
  const { val } = await h.rpc('kvs.lookup', { key, namespace: 'primary', flags: 0 }).get<{ val: TreeObj }>();
  return decodeVal(val).toString('utf8');
}

async function eventually<T>(what: string, f: () => Promise<T>, ms = 10_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    try {
      return await f();
    } catch (e) {
      if (Date.now() - t0 > ms) throw new Error(`${what}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('resource.R holds every rank with this machine\'s cores, in flux-core\'s text; resource-define is logged', async () => {
  const inst = await startInstance(4, ['tbon.fanout=2']);
  const h = await Flux.open(inst.uri);
  try {
    const text = await eventually('resource.R', () => kvsGet(h, 'resource.R'));
    const ncores = (await probeMachine()).cores.length;
    const cores = ncores > 1 ? `0-${ncores - 1}` : '0';
    const host = os.hostname();
    assert.equal(text, `{"version":1,"execution":{"R_lite":[{"rank":"0-3","children":{"core":"${cores}"}}],"starttime":0.0,"expiration":0.0,"nodelist":["${host},${host},${host},${host}"]}}`);
    const log = (await kvsGet(h, 'resource.eventlog')).trim().split('\n').map((l) => JSON.parse(l) as { name: string; context: unknown; timestamp: number });
    assert.equal(log.length, 1);
    assert.equal(log[0].name, 'resource-define');
    assert.deepEqual(log[0].context, { method: 'dynamic-discovery' });
    assert.ok(Math.abs(log[0].timestamp - Date.now() / 1000) < 60);
    const got = await h.rpc('resource.get', {}, { nodeid: 0 }).get<{ R: { version: number } }>();
    assert.equal(got.R.version, 1);
    const topo = await h.rpc('resource.topology', {}, { nodeid: 0 }).get<{ ranks: Record<string, { sockets: number[]; coreSockets: number[]; numaNodes: number[] }> }>();
    const m = await probeMachine();
    assert.deepEqual(Object.keys(topo.ranks).sort(), ['0', '1', '2', '3']);
    assert.deepEqual(topo.ranks['3'].coreSockets, m.cores.map((c) => c.socket));
    assert.deepEqual(topo.ranks['3'].numaNodes, m.numaNodes);
  } finally {
    h.close();
    assert.equal(await inst.stop(), 0);
  }
});
