import { test } from 'node:test';
import assert from 'node:assert/strict';
import { flux, startInstance, waitGone } from './helpers';
import { Flux } from '../../broker/src/common/libflux/handle';
import { parseTopology, subtree, type TopologyNode } from '../../broker/src/broker/topology';

/** Start `size` brokers shaped by `spec`, check the tree they report, and ping every rank through it. */
async function pingAll(spec: string, size: number, maxlevel: number): Promise<void> {
  const inst = await startInstance(size, [`tbon.topo=${spec}`]);
  const h = await Flux.open(inst.uri);
  try {
    const topo = await h.rpc('overlay.topology', { rank: 0 }, { nodeid: 0 }).get<TopologyNode>();
    assert.deepEqual(topo, subtree(parseTopology(spec, size), 0), `${spec}: the brokers' tree is the computed one`);
    const attr = async (name: string, rank: number): Promise<string> =>
      (await h.rpc('attr.get', { name }, { nodeid: rank }).get<{ value: string }>()).value;
    assert.equal(await attr('tbon.topo', 0), spec);
    assert.equal(await attr('tbon.maxlevel', 0), String(maxlevel));
    // Every rank answers, each along its own path (the route grows one hop per level).
    const t = parseTopology(spec, size);
    const replies = await Promise.all(Array.from({ length: size }, (_, r) =>
      h.rpc('broker.ping', {}, { nodeid: r }).get<{ rank: number; route: string }>()));
    replies.forEach((p, r) => {
      assert.equal(p.rank, r);
      let hops = 0;
      for (let q = t.parent(r); q !== undefined; q = t.parent(q)) hops++;
      assert.equal(p.route.split('!').length, hops + 2, `rank ${r}: client, rank 0 and one hop per level`);
    });
    const deepest = replies.findIndex((_, r) => t.parent(r) !== undefined && t.parent(t.parent(r)!) !== undefined);
    if (deepest > 0) {
      const p = await flux(['ping', '-c1', String(deepest)], inst.env);
      assert.equal(p.status, 0, p.stderr);
      assert.match(p.stdout, new RegExp(`^${deepest}!broker\\.ping pad=0 seq=0 time=`, 'm'));
    }
  } finally {
    h.close();
    await inst.stop();
    await waitGone(inst.pids);
  }
}

test('64 brokers in mincrit:8 (8 routers under rank 0, leaves dealt out to them) all answer', async () => {
  await pingAll('mincrit:8', 64, 2);
});

test('64 brokers in a binomial tree all answer', async () => {
  await pingAll('binomial', 64, 6);
});

test('mincrit without K on a small instance is flat, as flux-core chooses', async () => {
  const r = await flux(['start', '-s4', '-S', 'tbon.topo=mincrit', 'sh', '-c', 'flux getattr tbon.maxlevel; flux getattr broker.critical-ranks; flux overlay parentof 3']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, '1\n0\n0\n');
});

test('bad tbon.topo values fail flux start with flux-core\'s topology messages', async () => {
  for (const [spec, text] of [
    ['kary:x', 'kary k value must be an integer >= 0'],
    ['kary', 'kary k value must be an integer >= 0'],
    ['mincrit:-2', 'mincrit k value must be an integer >= 0'],
    ['binomial:2', "unknown binomial topology directive: '2'"],
    ['star:2', "unknown topology scheme 'star'"],
  ]) {
    const r = await flux(['start', '-s2', '-S', `tbon.topo=${spec}`, 'true']);
    assert.deepEqual([r.status, r.stderr], [1, `flux-broker: error creating '${spec}' topology: ${text}\n`], spec);
  }
});
