/**
 * Fluxion on a real 4-rank instance: rc1 loads its three modules as the
 * default scheduler (the recorded module set, fluxion-module-list.txt); the
 * seed's swap sequence verbatim with jobs running and pending across it
 * (fluxion-seed-sequence.txt, fluxion-swap-with-jobs.txt): running jobs keep
 * their allocations, pending ones run under the next scheduler, nothing is
 * lost; a bad load order is refused and the broker stays up; queue-depth
 * limits how many pending jobs get a reservation per cycle; easy backfills
 * where fcfs waits; match policies through `flux ion-resource`.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { shell, startInstance, type Instance } from './helpers';
import { Flux } from '../../broker/src/common/libflux/handle';
import { parseJobId } from '../../broker/src/common/libjob/jobid';
import { probeMachine } from '../../broker/src/common/librlist/probe';

let inst: Instance;
let tmp: string;

interface ShResult {
  stdout: string;
  stderr: string;
  status: number | null;
}

function sh(line: string, timeoutMs = 60_000): Promise<ShResult> {
  const env: NodeJS.ProcessEnv = { ...inst.env };
  delete env.FLUX_MODPROBE_PATH;
  return shell(line, env, { cwd: tmp, timeoutMs });
}

async function ok(line: string): Promise<string> {
  const r = await sh(line);
  assert.equal(r.status, 0, `${line}: ${r.stderr}`);
  return r.stdout;
}

/** Module names of a `flux module list` table. */
function moduleSet(list: string): string[] {
  return list.trim().split('\n').slice(1).map((l) => l.split(/\s+/)[0]).sort();
}

/**
 * The module sets of rank 0's `flux module list` in the recording of the seed's sequence
 * (fluxion-seed-sequence.txt: before, after `load sched-simple`, at the end), without `cron`,
 * which this build does not have.
 */
const CORE = ['config', 'connector-local', 'content', 'content-sqlite', 'groups', 'heartbeat', 'job-exec', 'job-info', 'job-ingest', 'job-list',
  'job-manager', 'kvs', 'kvs-watch', 'overlay', 'resource', 'rexec'];
const RECORDED = [
  [...CORE, 'sched-fluxion-feasibility', 'sched-fluxion-qmanager', 'sched-fluxion-resource'].sort(),
  [...CORE, 'sched-simple'].sort(),
  [...CORE, 'sched-fluxion-qmanager', 'sched-fluxion-resource'].sort(),
];
function recordedSet(_file: string, n: number): string[] {
  return RECORDED[n];
}

const MISSING = new Set(['cron']);

async function state(id: string): Promise<string> {
  return (await ok(`flux jobs -n -o '{state}' ${id}`)).trim();
}

/** A pending job's annotations as qmanager holds them (`sched-fluxion-qmanager.queue`; job-list does not carry pending annotations yet). */
async function annotations(id: string): Promise<Record<string, unknown>> {
  const h = await Flux.open(inst.uri);
  try {
    const q = await h.rpc('sched-fluxion-qmanager.queue', {}).get<{ jobs: { id: number; annotations: Record<string, unknown> }[] }>();
    const want = Number(parseJobId(id));
    return q.jobs.find((j) => j.id === want)?.annotations ?? {};
  } finally {
    h.close();
  }
}

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fluxion-test-'));
  delete process.env.FLUX_MODPROBE_PATH;
  inst = await startInstance(4);
});

after(async () => {
  await inst?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('rc1 loads Fluxion as the default scheduler: the recorded module set on rank 0', async () => {
  const list = await ok('flux module list');
  const want = recordedSet('fluxion-seed-sequence.txt', 0);
  assert.deepEqual(moduleSet(list).filter((m) => !MISSING.has(m)), want);
  assert.match(list, /^sched-fluxion-qmanager\s.* sched$/m);
  assert.match(list, /^sched-fluxion-feasibility\s.* feasibility$/m);
  assert.doesNotMatch(list, /sched-simple/);
  assert.doesNotMatch(await ok('flux exec -r 1 flux module list'), /sched-fluxion/);
  assert.match(await ok('flux resource list'), /^\s+free\s+4\s+/m);
  // policy first: the highest rank first
  const r = await ok('flux run -N1 -n1 flux getattr rank');
  assert.equal(r.trim(), '3');
});

test('the seed sequence verbatim with jobs running and pending: nothing lost', async () => {
  const a = (await ok('flux submit -N4 sleep 4')).trim();
  await ok(`flux job wait-event -t 20 ${a} start`);
  const b = (await ok('flux submit -N4 hostname')).trim();
  assert.equal(await state(b), 'SCHED');
  await ok('flux module remove sched-fluxion-qmanager');
  await ok('flux module remove sched-fluxion-resource');
  await ok('flux module load sched-simple');
  const mid = await ok('flux module list');
  assert.deepEqual(moduleSet(mid).filter((m) => !MISSING.has(m)), recordedSet('fluxion-seed-sequence.txt', 1));
  const c = (await ok('flux submit -N1 hostname')).trim();
  await ok('flux dmesg -C');
  await ok('flux module remove sched-simple');
  await ok('flux module load sched-fluxion-resource load-allowlist=node,socket,core');
  await ok('flux module load sched-fluxion-qmanager queue-params=queue-depth=4');
  const end = await ok('flux module list');
  assert.deepEqual(moduleSet(end).filter((m) => !MISSING.has(m)), recordedSet('fluxion-seed-sequence.txt', 2));
  assert.doesNotMatch(end, /sched-fluxion-feasibility/);
  // the running job kept its allocation: the new graph knows it
  assert.match(await ok(`flux ion-resource info ${a}`), /ALLOCATED/);
  const d = (await ok('flux submit -N1 hostname')).trim();
  for (const id of [a, b, c, d]) await ok(`flux job wait-event -t 30 ${id} clean`);
  const jobs = await ok(`flux jobs -a -n -o '{id.f58} {status}' ${a} ${b} ${c} ${d}`);
  for (const id of [a, b, c, d]) assert.match(jobs, new RegExp(`^${id} COMPLETED$`, 'm'));
  const dmesg = await ok('flux dmesg');
  assert.match(dmesg, /sched-fluxion-qmanager\.debug\[0\]: effective queue params \(queue=default\): queue-depth=4/);
  assert.match(dmesg, /sched-fluxion-qmanager\.debug\[0\]: requeue success/);
  assert.match(dmesg, /sched-fluxion-qmanager\.debug\[0\]: handshaking with job-manager completed/);
  // the allowlist shaped the graph: cluster, nodes, sockets, cores only
  const stats = await ok('flux ion-resource stats');
  assert.match(stats, /Num\. of Vertices by Type:\s+\{"cluster": 1, "node": 4, "socket": \d+, "core": \d+\}/);
});

test('a bad load order or option is refused with a clear error; the broker stays up', async () => {
  await ok('flux module remove sched-fluxion-qmanager');
  await ok('flux module remove sched-fluxion-resource');
  const q = await sh('flux module load sched-fluxion-qmanager');
  assert.equal(q.status, 1);
  assert.match(q.stderr, /sched-fluxion-resource is not loaded: load it before sched-fluxion-qmanager/);
  const p = await sh('flux module load sched-fluxion-resource match-policy=bogus');
  assert.equal(p.status, 1);
  const h = await sh('flux module load sched-fluxion-resource load-format=hwloc');
  assert.equal(h.status, 1);
  await ok('flux module load sched-fluxion-resource');
  const z = await sh('flux module load sched-fluxion-qmanager queue-params=queue-depth=0');
  assert.equal(z.status, 1);
  assert.match(z.stderr, /queue-depth=0/);
  await ok('flux module load sched-fluxion-feasibility');
  await ok('flux module load sched-fluxion-qmanager');
  assert.equal((await ok('flux getattr size')).trim(), '4');
  // impossible requests are refused at submit (flux-sched lets them in and fails them at alloc)
  const s = await sh('flux submit -N8 hostname');
  assert.notEqual(s.status, 0);
  assert.match(s.stderr, /Unsatisfiable request/);
  // removing the resource module takes qmanager and feasibility with it, as recorded
  await ok('flux module remove sched-fluxion-resource');
  for (let i = 0; i < 50 && /sched-fluxion/.test(await ok('flux module list')); i++) await new Promise((r) => setTimeout(r, 100));
  assert.doesNotMatch(await ok('flux module list'), /sched-fluxion/);
  await ok('flux module load sched-fluxion-resource');
  await ok('flux module load sched-fluxion-feasibility');
  await ok('flux module load sched-fluxion-qmanager');
});

async function backfillScenario(policy: string, depth = 32): Promise<{ small: string; big: string; smallState: string; extra: string[] }> {
  await ok(`flux module reload sched-fluxion-qmanager queue-policy=${policy} queue-params=queue-depth=${depth}`);
  const long = (await ok('flux submit -N2 -n4 -t 60s sleep 58')).trim();
  await ok(`flux job wait-event -t 20 ${long} start`);
  const big = (await ok('flux submit -N4 -n8 -t 60s sleep 1')).trim();
  const small = (await ok('flux submit -N1 -n1 -t 10s sleep 1')).trim();
  const extra: string[] = [];
  for (let i = 0; i < 5; i++) extra.push((await ok('flux submit -N3 -n6 -t 60s true')).trim());
  await new Promise((r) => setTimeout(r, 1500));
  const smallState = await state(small);
  return { small, big, smallState, extra };
}

test('easy backfills a small job around a blocked large one (t_estimate on the large one); fcfs does not', async () => {
  const e = await backfillScenario('easy');
  assert.notEqual(e.smallState, 'SCHED', 'easy: the small job should have started');
  const ann = await annotations(e.big);
  const sched = ann.sched as { t_estimate?: number; selection_type?: string } | undefined;
  assert.equal(sched?.selection_type, 'reserved');
  assert.ok(typeof sched?.t_estimate === 'number' && sched.t_estimate > Date.now() / 1000 + 30, JSON.stringify(ann));
  await ok(`flux cancel $(flux jobs -n -o '{id.f58}')`);
  for (let i = 0; i < 50 && (await ok("flux jobs -n -o '{id.f58}'")).trim() !== ''; i++) await new Promise((r) => setTimeout(r, 100));
  const f = await backfillScenario('fcfs');
  assert.equal(f.smallState, 'SCHED', 'fcfs: the small job waits behind the large one');
  // no reservation under fcfs, only our reason
  assert.deepEqual(await annotations(f.big), { sched: { reason_pending: 'insufficient resources' } });
  assert.deepEqual(await annotations(f.small), { sched: { reason_pending: 'behind a job that waits (fcfs)' } });
  await ok(`flux cancel $(flux jobs -n -o '{id.f58}')`);
  for (let i = 0; i < 50 && (await ok("flux jobs -n -o '{id.f58}'")).trim() !== ''; i++) await new Promise((r) => setTimeout(r, 100));
});

test('a reserved job (annotated first) runs once the resources free up', async () => {
  await ok('flux module reload sched-fluxion-qmanager queue-policy=easy');
  const l = (await ok('flux submit -N4 -n8 -t 5s sleep 2')).trim();
  await ok(`flux job wait-event -t 20 ${l} start`);
  const big = (await ok('flux submit -N4 -n8 -t 10s true')).trim();
  for (let i = 0; i < 20 && !(await annotations(big)).sched; i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(((await annotations(big)).sched as { selection_type?: string } | undefined)?.selection_type, 'reserved');
  await ok(`flux job wait-event -t 30 ${big} clean`);
  assert.match(await ok(`flux job eventlog ${big}`), /alloc annotations=\{"sched":\{"selection_type":"immediate"\}\}/);
  assert.equal((await ok(`flux jobs -a -n -o '{status}' ${big}`)).trim(), 'COMPLETED');
  await ok('flux module reload sched-fluxion-qmanager');
});

test('queue-depth=4 limits the pending jobs considered per cycle (conservative: 4 reservations, not 7)', async () => {
  const c = await backfillScenario('conservative', 4);
  const reserved: string[] = [];
  for (const id of [c.big, c.small, ...c.extra]) {
    const s = (await annotations(id)).sched as { selection_type?: string } | undefined;
    if (s?.selection_type === 'reserved') reserved.push(id);
  }
  // big, small and two of the extra jobs are the 4 considered; small may have run instead
  assert.ok(reserved.length >= 3 && reserved.length <= 4, `reserved: ${reserved.length}`);
  assert.ok(reserved.includes(c.big));
  assert.ok(!reserved.includes(c.extra[4]) && !reserved.includes(c.extra[3]), 'jobs beyond the depth are not considered');
  await ok(`flux cancel $(flux jobs -n -o '{id.f58}')`);
  for (let i = 0; i < 50 && (await ok("flux jobs -n -o '{id.f58}'")).trim() !== ''; i++) await new Promise((r) => setTimeout(r, 100));
  await ok('flux module reload sched-fluxion-qmanager');
});

test('flux ion-resource: match policies low/high by id, allocate/reserve, find, params', async () => {
  fs.writeFileSync(path.join(tmp, 'js.json'), await ok('flux run --dry-run -N1 -n2 hostname'));
  await ok('flux module remove sched-fluxion-qmanager');
  await ok('flux module reload sched-fluxion-resource match-policy=low');
  assert.match(await ok('flux ion-resource match allocate js.json'), /"R_lite": \[\{"rank": "0", "children": \{"core": "0-1"\}\}\]/);
  await ok('flux module reload sched-fluxion-resource match-policy=high');
  const hi = await ok('flux ion-resource match allocate js.json');
  assert.match(hi, /^JOBID\s+STATUS\s+AT\s+OVERHEAD \(Secs\)/);
  assert.match(hi, /ALLOCATED/);
  assert.match(hi, /"R_lite": \[\{"rank": "3", "children": \{"core": "0-1"\}\}\]/);
  assert.match(await ok('flux ion-resource match without_allocating js.json'), /MATCHED[\s\S]*"rank": "2"/);
  for (let i = 0; i < 3; i++) await ok('flux ion-resource match allocate js.json');
  const busy = await sh('flux ion-resource match allocate js.json');
  assert.equal(busy.status, 16);
  assert.match(busy.stderr, /^OSError: error\(16\): Device or resource busy$/m);
  assert.match(await ok('flux ion-resource find sched-now=allocated'), /"rank": "0-3"/);
  assert.match(await ok('flux ion-resource params'), /"policy": "high"/);
  await ok('flux module reload sched-fluxion-resource');
  await ok('flux module load sched-fluxion-qmanager');
  await ok('flux run -n1 true');
});

test('memory vertices from the machine (GB per NUMA node), and a GRUG recipe loaded with load-format=grug', async () => {
  const memSpec = (gb: number): string => JSON.stringify({
    version: 1,
    resources: [{ type: 'node', count: 1, with: [{ type: 'slot', count: 1, label: 'task', with: [{ type: 'core', count: 1 }, { type: 'memory', count: gb }] }] }],
    tasks: [{ command: ['true'], slot: 'task', count: { per_slot: 1 } }],
    attributes: { system: { duration: 0 } },
  });
  const gb = (await probeMachine()).memory.reduce((s, m) => s + m.gb, 0);
  assert.ok(gb >= 1, 'this machine reports its memory');
  fs.writeFileSync(path.join(tmp, 'mem-ok.json'), memSpec(1));
  fs.writeFileSync(path.join(tmp, 'mem-all.json'), memSpec(gb));
  fs.writeFileSync(path.join(tmp, 'mem-huge.json'), memSpec(gb + 1));
  await ok('flux module remove sched-fluxion-qmanager');
  await ok('flux module reload sched-fluxion-resource match-policy=low');
  assert.match(await ok('flux ion-resource match allocate mem-ok.json'), /ALLOCATED[\s\S]*"rank": "0"/);
  // rank 0 has one GB fewer now: all of a node's memory fits on rank 1 only
  assert.match(await ok('flux ion-resource match allocate mem-all.json'), /ALLOCATED[\s\S]*"rank": "1"/);
  const huge = await sh('flux ion-resource match satisfiability mem-huge.json');
  assert.notEqual(huge.status, 0);
  assert.match(huge.stderr, /No such device|Unsatisfiable/);

  // our own recipe: 2 nodes × 2 sockets × 4 cores (ids per node), 2 × 8 GB memory per socket
  const key = (id: string, forWhat: string, name: string, dflt?: string): string =>
    `<key id="${id}" for="${forWhat}" attr.name="${name}">${dflt !== undefined ? `<default>${dflt}</default>` : ''}</key>`;
  fs.writeFileSync(path.join(tmp, 'small.graphml'), `<?xml version="1.0"?>
<graphml xmlns="http://graphml.graphdrawing.org/xmlns">
  ${key('root', 'node', 'root', '0')}${key('type', 'node', 'type')}${key('size', 'node', 'size', '1')}${key('unit', 'node', 'unit')}
  ${key('id_scope', 'edge', 'id_scope', '0')}${key('multi_scale', 'edge', 'multi_scale', '1')}
  <graph id="small" edgedefault="directed">
    <node id="c"><data key="root">1</data><data key="type">cluster</data></node>
    <node id="n"><data key="type">node</data></node>
    <node id="s"><data key="type">socket</data></node>
    <node id="k"><data key="type">core</data></node>
    <node id="m"><data key="type">memory</data><data key="size">8</data><data key="unit">GB</data></node>
    <edge source="c" target="n"><data key="multi_scale">2</data></edge>
    <edge source="n" target="s"><data key="multi_scale">2</data></edge>
    <edge source="s" target="k"><data key="id_scope">1</data><data key="multi_scale">4</data></edge>
    <edge source="s" target="m"><data key="id_scope">1</data><data key="multi_scale">2</data></edge>
  </graph>
</graphml>`);
  await ok(`flux module reload sched-fluxion-resource load-format=grug load-file=${path.join(tmp, 'small.graphml')} match-policy=high`);
  const stats = await ok('flux ion-resource stats');
  assert.match(stats, /^Num\. of Vertices by Type: {2}\{"cluster": 1, "node": 2, "socket": 4, "core": 16, "memory": 8\}$/m, stats);
  fs.writeFileSync(path.join(tmp, 'mem-20.json'), memSpec(20));
  // 20 GB: more than one socket's 16, within a node's 32; the highest node first
  assert.match(await ok('flux ion-resource match allocate mem-20.json'), /ALLOCATED[\s\S]*"nodelist": \["node1"\]/);
  assert.match(await ok('flux ion-resource match allocate mem-20.json'), /ALLOCATED[\s\S]*"nodelist": \["node0"\]/);
  assert.equal((await sh('flux ion-resource match allocate mem-20.json')).status, 16);
  // not a recipe: the load itself fails with the reader's reason
  const bad = await sh(`flux module reload sched-fluxion-resource load-format=grug load-file=${path.join(tmp, 'mem-ok.json')}`);
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /GRUG: not valid XML|GRUG: no <graphml> element/);
  await ok('flux module load sched-fluxion-resource');
  await ok('flux module load sched-fluxion-qmanager');
  await ok('flux run -n1 true');
});
