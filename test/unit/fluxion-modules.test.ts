/**
 * The Fluxion modules' option handling (flux-sched 0.54's rules: unknown keys
 * and bad policies fail the load, unknown readers/formats/queue policies fall
 * back), queue policies' reservation rules, the R a job gets, the JGF reader,
 * and `flux ion-resource`'s Python-style JSON.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseResourceArgs, nodesFromR } from '../../broker/src/modules/sched-fluxion-resource/sched-fluxion-resource';
import { jobR, parseQmanagerArgs, reservationLimit } from '../../broker/src/modules/sched-fluxion-qmanager/sched-fluxion-qmanager';
import { loadJgf } from '../../broker/src/common/libfluxion/jgf';
import { ResourceGraph } from '../../broker/src/common/libfluxion/graph';
import { Matcher } from '../../broker/src/common/libfluxion/match';
import { parsePolicy } from '../../broker/src/common/libfluxion/policy';
import { runMatch } from '../../broker/src/common/libfluxion/match-cmd';
import { toJgf } from '../../broker/src/common/libfluxion/jgf';
import { pyDumps } from '../../broker/src/cmd/ion-resource';

const errnum = (n: number) => (e: unknown): boolean => (e as { errnum?: number }).errnum === n;

test('sched-fluxion-resource options: defaults as `flux ion-resource params` shows them; bad ones', () => {
  const { params, policy } = parseResourceArgs([]);
  assert.deepEqual(params, {
    'load-file': null, 'load-format': 'rv1exec', 'load-allowlist': null, policy: 'first', 'match-format': 'rv1_nosched',
    subsystems: 'containment', 'reserve-vtx-vec': 0, 'prune-filters': 'ALL:core,ALL:node', 'update-interval': 0, traverser: 'simple',
  });
  assert.equal(policy.high, true);
  const logs: string[] = [];
  const p = parseResourceArgs(['load-allowlist=node,socket,core', 'match-policy=lonodex', 'load-format=bogus', 'match-format=bogus'], (_s, t) => logs.push(t));
  assert.equal(p.params['load-allowlist'], 'node,socket,core');
  assert.equal(p.params['load-format'], 'rv1exec');
  assert.equal(p.params['match-format'], 'rv1_nosched');
  assert.equal(p.policy.nodeExclusive, true);
  assert.equal(logs.length, 2);
  assert.throws(() => parseResourceArgs(['match-policy=bogus']), errnum(22));
  assert.throws(() => parseResourceArgs(['bogus-option=1']), errnum(22));
  assert.equal(parseResourceArgs(['policy=low']).policy.high, false);
});

test('sched-fluxion-qmanager options: queue-depth 0 is ERANGE, abc EINVAL, unknown key EINVAL, unknown policy fcfs', () => {
  const d = parseQmanagerArgs([]);
  assert.equal(d.policy, 'fcfs');
  assert.equal(d.queueDepth, 32);
  assert.equal(d.queueParams, 'default');
  const q = parseQmanagerArgs(['queue-params=queue-depth=4']);
  assert.equal(q.queueDepth, 4);
  assert.equal(q.queueParams, 'queue-depth=4');
  assert.throws(() => parseQmanagerArgs(['queue-params=queue-depth=0']), errnum(34));
  assert.throws(() => parseQmanagerArgs(['queue-params=max-queue-depth=0']), errnum(34));
  assert.throws(() => parseQmanagerArgs(['queue-params=queue-depth=abc']), errnum(22));
  assert.throws(() => parseQmanagerArgs(['bogus-option=1']), errnum(22));
  const logs: string[] = [];
  assert.equal(parseQmanagerArgs(['queue-policy=bogus'], (s) => logs.push(s)).policy, 'fcfs');
  assert.equal(logs.length, 1);
  assert.equal(parseQmanagerArgs(['queue-params=queue-depth=10,max-queue-depth=5']).queueDepth, 5);
  assert.deepEqual(reservationLimit(parseQmanagerArgs(['queue-policy=easy'])), { reserve: 1, blocking: false });
  assert.deepEqual(reservationLimit(parseQmanagerArgs(['queue-policy=fcfs'])), { reserve: 0, blocking: true });
  assert.equal(reservationLimit(parseQmanagerArgs(['queue-policy=hybrid', 'policy-params=reservation-depth=3'])).reserve, 3);
});

test('a job\'s R: no time limit is expiration 0, not the graph end', () => {
  const R = JSON.parse(jobR('{"version":1,"execution":{"R_lite":[],"nodelist":[],"starttime":5,"expiration":9223372036}}')) as { execution: { expiration: number } };
  assert.equal(R.execution.expiration, 0);
  assert.equal(jobR('{"version":1,"execution":{"expiration":65}}'), '{"version":1,"execution":{"expiration":65}}');
});

test('nodesFromR takes sockets from resource.topology', () => {
  const R = { version: 1, execution: { R_lite: [{ rank: '0-1', children: { core: '0-3' } }], nodelist: ['a,b'], starttime: 0, expiration: 0 } };
  const n = nodesFromR(R, { 0: { coreSockets: [0, 0, 1, 1] } });
  assert.deepEqual(n[0].coreSockets, [0, 0, 1, 1]);
  assert.equal(n[1].coreSockets, undefined);
  const g = ResourceGraph.build(n);
  assert.deepEqual(g.countByType(), { cluster: 1, node: 2, socket: 2, core: 8 });
});

test('JGF round trip: a graph written as JGF reads back the same; allowlist applies', () => {
  const g = ResourceGraph.build([0, 1].map((rank) => ({ rank, hostname: `h${rank}`, cores: [0, 1, 2, 3], gpus: [0], coreSockets: [0, 0, 1, 1] })));
  const back = loadJgf(toJgf(g));
  assert.deepEqual(back.countByType(), g.countByType());
  const paths = (x: ResourceGraph): string[] => Array.from({ length: x.size }, (_, v) => x.path(v)).sort();
  assert.deepEqual(paths(back), paths(g));
  const m = new Matcher(back, parsePolicy('low'));
  const r = runMatch(m, 'allocate', 1n, { resources: [{ type: 'node', count: 1, with: [{ type: 'slot', count: 1, with: [{ type: 'core', count: 2 }, { type: 'gpu', count: 1 }] }] }] }, 0);
  assert.deepEqual((m.toR(r.match) as { execution: { R_lite: unknown } }).execution.R_lite, [{ rank: '0', children: { core: '0-1', gpu: '0' } }]);
  assert.deepEqual(loadJgf(toJgf(g), ['node', 'core']).countByType(), { cluster: 1, node: 2, core: 8 });
  assert.throws(() => loadJgf({ graph: { nodes: [], edges: [] } }), /one cluster root/);
});

test('pyDumps prints JSON as Python json.dumps does', () => {
  assert.equal(pyDumps({ version: 1, execution: { R_lite: [{ rank: '2', children: { core: '0-1' } }], nodelist: ['vm'] }, x: null }),
    '{"version": 1, "execution": {"R_lite": [{"rank": "2", "children": {"core": "0-1"}}], "nodelist": ["vm"]}, "x": null}');
});
