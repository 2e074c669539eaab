/**
 * GRUG recipes (flux-sched's `load-format=grug`) expanded into the resource graph,
 * memory vertices (pools counted by size) and matching against them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadGrug } from '../../broker/src/common/libfluxion/grug';
import { ResourceGraph } from '../../broker/src/common/libfluxion/graph';
import { Matcher } from '../../broker/src/common/libfluxion/match';
import { parsePolicy } from '../../broker/src/common/libfluxion/policy';
import { runMatch } from '../../broker/src/common/libfluxion/match-cmd';
import { toJgf } from '../../broker/src/common/libfluxion/jgf';

/** A recipe of our own: cluster "mini" → 3 nodes → 2 sockets → 4 cores (ids per node) and 2 × 4 GB memory. */
function recipe(extra = '', edgesExtra = ''): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<graphml xmlns="http://graphml.graphdrawing.org/xmlns">
  <key id="root" for="node" attr.name="root" attr.type="int"><default>0</default></key>
  <key id="type" for="node" attr.name="type" attr.type="string"/>
  <key id="basename" for="node" attr.name="basename" attr.type="string"/>
  <key id="unit" for="node" attr.name="unit" attr.type="string"/>
  <key id="size" for="node" attr.name="size" attr.type="long"><default>1</default></key>
  <key id="e_subsystem" for="edge" attr.name="e_subsystem" attr.type="string"><default>containment</default></key>
  <key id="id_scope" for="edge" attr.name="id_scope" attr.type="int"><default>0</default></key>
  <key id="multi_scale" for="edge" attr.name="multi_scale" attr.type="int"><default>1</default></key>
  <graph id="mini" edgedefault="directed">
    <node id="c"><data key="root">1</data><data key="type">cluster</data><data key="basename">mini</data></node>
    <node id="n"><data key="type">node</data><data key="basename">node</data></node>
    <node id="s"><data key="type">socket</data></node>
    <node id="k"><data key="type">core</data></node>
    <node id="m"><data key="type">memory</data><data key="size">4</data><data key="unit">GB</data></node>
    ${extra}
    <edge source="c" target="n"><data key="multi_scale">3</data></edge>
    <edge source="n" target="s"><data key="multi_scale">2</data></edge>
    <edge source="s" target="k"><data key="id_scope">1</data><data key="multi_scale">4</data></edge>
    <edge source="s" target="m"><data key="id_scope">1</data><data key="multi_scale">2</data></edge>
    ${edgesExtra}
  </graph>
</graphml>`;
}

const find = (g: ResourceGraph, path: string): number => Array.from({ length: g.size }, (_, v) => v).find((v) => g.path(v) === path) ?? -1;

test('GRUG: the recipe expands depth first with flux-sched names, paths and scoped ids', () => {
  const g = loadGrug(recipe());
  assert.deepEqual(g.countByType(), { cluster: 1, node: 3, socket: 6, core: 24, memory: 12 });
  assert.equal(g.edges, g.size - 1);
  assert.equal(g.name(g.root), 'mini0');
  // id_scope 1: ids run across the node (socket1 holds core4-7), not 0-3 again
  assert.ok(find(g, '/mini0/node2/socket1/core7') >= 0);
  assert.equal(find(g, '/mini0/node2/socket1/core3'), -1);
  assert.ok(find(g, '/mini0/node0/socket1/memory3') >= 0);
  const mem = find(g, '/mini0/node0/socket0/memory0');
  assert.equal(g.sizeOf(mem), 4);
  assert.equal(g.unitOf(mem), 'GB');
  // generated vertices are not brokers: rank -1, as flux-sched's GRUG reader sets them
  assert.equal(g.rank[mem], -1);
  const jgf = toJgf(g) as { graph: { nodes: { metadata: { name: string; size: number; unit: string; basename: string } }[] } };
  const m = jgf.graph.nodes.find((n) => n.metadata.name === 'memory0')!;
  assert.equal(m.metadata.size, 4);
  assert.equal(m.metadata.unit, 'GB');
  assert.equal(jgf.graph.nodes[0].metadata.basename, 'mini');
});

test('GRUG: the allowlist drops types, children hang from the nearest kept ancestor', () => {
  const g = loadGrug(recipe(), ['node', 'core']);
  assert.deepEqual(g.countByType(), { cluster: 1, node: 3, core: 24 });
  assert.ok(find(g, '/mini0/node1/core6') >= 0);
});

test('GRUG: bad recipes are refused with what is wrong', () => {
  assert.throws(() => loadGrug('<graphml><graph>'), /GRUG: (not valid XML|no <graph>)/);
  assert.throws(() => loadGrug('<graphml></graphml>'), /GRUG: no <graph> element/);
  const twoRoots = recipe('<node id="c2"><data key="root">1</data><data key="type">cluster</data></node>');
  assert.throws(() => loadGrug(twoRoots), /exactly one root vertex \(root=1\), found 2/);
  assert.throws(() => loadGrug(recipe('', '<edge source="k" target="zz"/>')), /names an unknown vertex/);
  assert.throws(() => loadGrug(recipe('', '<edge source="k" target="n"/>')), /cycle through n/);
  assert.throws(() => loadGrug(recipe('<node id="x"/>')), /vertex x has no type/);
  assert.throws(() => loadGrug(recipe('', '<edge source="k" target="m"><data key="multi_scale">two</data></edge>')), /multi_scale must be an integer/);
});

function memSpec(cores: number, gb: number): Record<string, unknown> {
  return {
    version: 1,
    resources: [{ type: 'node', count: 1, with: [{ type: 'slot', count: 1, label: 'task', with: [{ type: 'core', count: cores }, { type: 'memory', count: gb }] }] }],
    tasks: [{ command: ['true'], slot: 'task', count: { per_slot: 1 } }],
    attributes: { system: { duration: 0 } },
  };
}

test('memory: a request for N GB takes pool vertices until their sizes add up; none left, the job waits', () => {
  const g = loadGrug(recipe());
  const m = new Matcher(g, parsePolicy('low'));
  const now = 1000;
  // 6 GB from 4 GB vertices: two of them, both on the node chosen for the slot
  const a = runMatch(m, 'allocate', 1n, memSpec(1, 6), now);
  const mems = a.match.vertices.filter((v) => g.typeOf(v) === 'memory');
  assert.equal(mems.length, 2);
  assert.equal(new Set(mems.map((v) => g.nodeOf(v))).size, 1);
  // node0 has 16 GB: 10 GB left there, so 12 GB goes to node1
  const b = runMatch(m, 'allocate', 2n, memSpec(1, 12), now);
  assert.notEqual(g.nodeOf(b.match.vertices[0]), g.nodeOf(a.match.vertices[0]));
  // more memory than any node holds: never
  assert.throws(() => runMatch(m, 'allocate_with_satisfiability', 3n, memSpec(1, 17), now), /No such device/);
});

test('memory: the machine description adds one pool vertex per NUMA node (size in GB) under its socket', () => {
  const g = ResourceGraph.build([{ rank: 0, hostname: 'h', cores: [0, 1, 2, 3], gpus: [], coreSockets: [0, 0, 1, 1], memory: [{ gb: 2, socket: 0 }, { gb: 3, socket: 1 }] }]);
  assert.deepEqual(g.countByType(), { cluster: 1, node: 1, socket: 2, core: 4, memory: 2 });
  const m1 = find(g, '/cluster0/node0/socket1/memory1');
  assert.equal(g.sizeOf(m1), 3);
  const m = new Matcher(g, parsePolicy('first'));
  // 4 GB: 3 from one pool and 1 from the other; then 1 GB is left, and a 2 GB job must wait
  const a = runMatch(m, 'allocate', 1n, memSpec(1, 4), 0);
  assert.equal(a.match.vertices.filter((v) => g.typeOf(v) === 'memory').length, 2);
  assert.throws(() => runMatch(m, 'allocate', 2n, memSpec(1, 2), 0), /busy/);
  runMatch(m, 'allocate', 3n, memSpec(1, 1), 0);
  assert.throws(() => runMatch(m, 'allocate', 4n, memSpec(1, 1), 0), /busy/);
  // freed, the units come back
  m.cancel(1n);
  runMatch(m, 'allocate', 5n, memSpec(1, 4), 0);
  // the allowlist without memory leaves it out
  assert.equal(ResourceGraph.build([{ rank: 0, hostname: 'h', cores: [0], gpus: [], memory: [{ gb: 2 }] }], ['node', 'core']).countByType().memory, undefined);
});

test('memory: a pool shared over time: a reservation starts when enough units are free', () => {
  const g = ResourceGraph.build([{ rank: 0, hostname: 'h', cores: [0, 1], gpus: [], memory: [{ gb: 4 }] }]);
  const m = new Matcher(g, parsePolicy('first'));
  const timed = (gb: number, t: number): Record<string, unknown> => ({ ...memSpec(1, gb), attributes: { system: { duration: t } } });
  runMatch(m, 'allocate', 1n, timed(3, 100), 0);
  const r = runMatch(m, 'allocate_orelse_reserve', 2n, timed(2, 10), 0);
  assert.equal(r.status, 'RESERVED');
  assert.equal(r.match.start, 100);
  assert.equal(runMatch(m, 'allocate_orelse_reserve', 3n, timed(1, 10), 0).status, 'ALLOCATED');
});
