/**
 * libfluxion on synthetic graphs: the containment graph's names and paths, the
 * allowlist, the match policies (which vertices each picks), exclusivity,
 * allocation and reservation on the planner over time, satisfiability, R.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ResourceGraph, type NodeDesc } from '../../broker/src/common/libfluxion/graph';
import { Matcher, GRAPH_END } from '../../broker/src/common/libfluxion/match';
import { parsePolicy, MATCH_POLICIES } from '../../broker/src/common/libfluxion/policy';
import { runMatch } from '../../broker/src/common/libfluxion/match-cmd';
import { toJgf } from '../../broker/src/common/libfluxion/jgf';
import { Planner } from '../../broker/src/common/libfluxion/planner';
import { jobspecFromCommandLine } from '../../broker/src/common/libjob/jobspec-cli';

function nodes(n: number, cores: number, sockets = 1, gpus = 0): NodeDesc[] {
  return Array.from({ length: n }, (_, rank) => ({
    rank, hostname: `host${rank}`, cores: [...Array(cores).keys()], gpus: [...Array(gpus).keys()],
    coreSockets: [...Array(cores).keys()].map((c) => Math.floor(c / (cores / sockets))),
  }));
}

function spec(o: { nodes?: number; ntasks?: number; cores?: number; gpus?: number; exclusive?: boolean; time?: string }): Record<string, unknown> {
  return jobspecFromCommandLine({
    command: ['true'], processCwd: '/', environ: {}, nodes: o.nodes, ntasks: o.ntasks, coresPerTask: o.cores, gpusPerTask: o.gpus,
    exclusive: o.exclusive, timeLimit: o.time,
  }).jobspec as Record<string, unknown>;
}

function ranksOf(R: Record<string, unknown>): string {
  return (R.execution as { R_lite: { rank: string; children: Record<string, string> }[] }).R_lite.map((e) => `${e.rank}:${JSON.stringify(e.children)}`).join(' ');
}

test('graph: cluster → node → socket → core/gpu with flux-sched names and paths', () => {
  const g = ResourceGraph.build(nodes(2, 4, 2, 2));
  assert.deepEqual(g.countByType(), { cluster: 1, node: 2, socket: 4, core: 8, gpu: 4 });
  assert.equal(g.edges, g.size - 1);
  const core = g.type.findIndex((t, v) => g.types[t] === 'core' && g.rank[v] === 1 && g.id[v] === 3);
  assert.equal(g.path(core), '/cluster0/node1/socket1/core3');
  assert.equal(g.name(core), 'core3');
  const jgf = toJgf(g) as { graph: { nodes: { metadata: { paths: { containment: string } } }[]; edges: unknown[] } };
  assert.equal(jgf.graph.nodes.length, g.size);
  assert.equal(jgf.graph.edges.length, g.size - 1);
});

test('graph: load-allowlist restricts vertex types (children attach to the nearest kept ancestor)', () => {
  const g = ResourceGraph.build(nodes(2, 4, 2, 1), ['node', 'core']);
  assert.deepEqual(g.countByType(), { cluster: 1, node: 2, core: 8 });
  const core = g.type.findIndex((t) => g.types[t] === 'core');
  assert.equal(g.path(core), '/cluster0/node0/core0');
  const s = ResourceGraph.build(nodes(1, 4, 2), ['node', 'socket', 'core']);
  assert.deepEqual(s.countByType(), { cluster: 1, node: 1, socket: 2, core: 4 });
});

test('policies: names and custom strings; bad ones are EINVAL', () => {
  for (const p of MATCH_POLICIES) assert.equal(parsePolicy(p).name, p);
  assert.equal(parsePolicy('first').high, true);
  assert.equal(parsePolicy('lonodex').nodeExclusive, true);
  assert.equal(parsePolicy('policy=low node_exclusive=true').nodeExclusive, true);
  assert.throws(() => parsePolicy('bogus'), /invalid policy option: bogus/);
  assert.throws(() => parsePolicy('policy=mid'), /accepts only low or high/);
});

test('first allocates the highest rank first (as recorded: 3, 2, 1, 0, then busy)', () => {
  const m = new Matcher(ResourceGraph.build(nodes(4, 2)), parsePolicy('first'));
  const js = spec({ nodes: 1, ntasks: 2 });
  const got = [1, 2, 3, 4].map((id) => ranksOf(m.toR(runMatch(m, 'allocate', BigInt(id), js, 100).match)));
  assert.deepEqual(got, ['3:{"core":"0-1"}', '2:{"core":"0-1"}', '1:{"core":"0-1"}', '0:{"core":"0-1"}']);
  assert.throws(() => runMatch(m, 'allocate', 5n, js, 100), (e: Error & { errnum?: number }) => e.errnum === 16);
});

test('low/high pick by id at every level; lonode/hinode by node', () => {
  const one = spec({ ntasks: 1 });
  const pick = (p: string): string => {
    const m = new Matcher(ResourceGraph.build(nodes(3, 4, 2)), parsePolicy(p));
    return ranksOf(m.toR(runMatch(m, 'allocate', 1n, one, 0).match));
  };
  assert.equal(pick('low'), '0:{"core":"0"}');
  assert.equal(pick('high'), '2:{"core":"3"}');
  assert.equal(pick('lonode'), '0:{"core":"0"}');
  assert.equal(pick('hinode'), '2:{"core":"3"}');
});

test('node-exclusive policies give whole nodes; -x does too', () => {
  const one = spec({ nodes: 1, ntasks: 1 });
  for (const [p, want] of [['lonodex', '0:{"core":"0-3"}'], ['hinodex', '2:{"core":"0-3"}'], ['firstnodex', '2:{"core":"0-3"}']]) {
    const m = new Matcher(ResourceGraph.build(nodes(3, 4, 2)), parsePolicy(p));
    assert.equal(ranksOf(m.toR(runMatch(m, 'allocate', 1n, one, 0).match)), want, p);
    assert.equal(ranksOf(m.toR(runMatch(m, 'allocate', 2n, one, 0).match)), want.replace(/^\d/, p === 'lonodex' ? '1' : '1'), p);
  }
  const m = new Matcher(ResourceGraph.build(nodes(2, 4)), parsePolicy('low'));
  runMatch(m, 'allocate', 1n, spec({ ntasks: 1 }), 0);
  // node 0 is in use: an exclusive node request goes to node 1
  assert.equal(ranksOf(m.toR(runMatch(m, 'allocate', 2n, spec({ nodes: 1, exclusive: true }), 0).match)), '1:{"core":"0-3"}');
});

test('slots stay within a node; cores across sockets; GPUs', () => {
  const m = new Matcher(ResourceGraph.build(nodes(2, 4, 2, 2)), parsePolicy('low'));
  assert.equal(ranksOf(m.toR(runMatch(m, 'allocate', 1n, spec({ ntasks: 1, cores: 3 }), 0).match)), '0:{"core":"0-2"}');
  assert.equal(ranksOf(m.toR(runMatch(m, 'allocate', 2n, spec({ ntasks: 1, cores: 2 }), 0).match)), '1:{"core":"0-1"}');
  assert.equal(ranksOf(m.toR(runMatch(m, 'allocate', 3n, spec({ ntasks: 1, cores: 1, gpus: 2 }), 0).match)), '0:{"core":"3","gpu":"0-1"}');
  assert.throws(() => runMatch(m, 'allocate', 4n, spec({ ntasks: 1, cores: 3 }), 0), /busy/);
  assert.throws(() => runMatch(m, 'satisfiability', 0n, spec({ ntasks: 1, cores: 5 }), 0), (e: Error & { errnum?: number }) => e.errnum === 19);
  runMatch(m, 'satisfiability', 0n, spec({ ntasks: 2, cores: 4 }), 0);
});

test('planner over time: reservations at the earliest end; backfill may not delay them', () => {
  const m = new Matcher(ResourceGraph.build(nodes(2, 2)), parsePolicy('first'));
  const now = 1000;
  runMatch(m, 'allocate', 1n, spec({ nodes: 2, ntasks: 4, time: '60s' }), now);
  assert.throws(() => runMatch(m, 'allocate', 2n, spec({ nodes: 1, ntasks: 2, time: '10s' }), now), /busy/);
  const r = runMatch(m, 'allocate_orelse_reserve', 2n, spec({ nodes: 2, ntasks: 4, time: '60s' }), now);
  assert.equal(r.status, 'RESERVED');
  assert.equal(r.match.start, now + 60);
  assert.equal(m.jobs.get(2n)?.state, 'RESERVED');
  const R = m.toR(r.match) as { execution: { starttime: number; expiration: number } };
  assert.equal(R.execution.starttime, 1060);
  assert.equal(R.execution.expiration, 1120);
  // a short job after job 1 ends would delay the reservation: reserved after it instead
  const r3 = runMatch(m, 'allocate_orelse_reserve', 3n, spec({ nodes: 1, ntasks: 1, time: '30s' }), now);
  assert.equal(r3.match.start, 1120);
  // unlimited job: expiration is the graph's end
  m.cancel(1n);
  m.cancel(2n);
  m.cancel(3n);
  const u = runMatch(m, 'allocate', 4n, spec({ ntasks: 1 }), now);
  assert.equal((m.toR(u.match) as { execution: { expiration: number } }).execution.expiration, GRAPH_END);
  assert.equal(m.cancel(4n), true);
  assert.equal(m.cancel(4n), false);
});

test('fromR re-creates an allocation (sched-hello)', () => {
  const m = new Matcher(ResourceGraph.build(nodes(4, 2)), parsePolicy('first'));
  const mr = m.fromR({ version: 1, execution: { R_lite: [{ rank: '0-3', children: { core: '0-1' } }], starttime: 5, expiration: 0 } });
  m.commit(7n, mr, 'ALLOCATED');
  assert.throws(() => runMatch(m, 'allocate', 8n, spec({ ntasks: 1 }), 10), /busy/);
  m.cancel(7n);
  runMatch(m, 'allocate', 8n, spec({ ntasks: 1 }), 10);
});

test('planner: max concurrent use within a window', () => {
  const p = new Planner(4);
  p.add(1n, 0, 10, 2);
  p.add(2n, 10, 20, 3);
  p.add(3n, 5, 15, 1);
  assert.equal(p.maxUsed(0, 5), 2);
  assert.equal(p.maxUsed(0, 20), 4);
  assert.equal(p.availDuring(15, 30), 1);
  p.remove(2n);
  assert.equal(p.maxUsed(10, 20), 1);
});
