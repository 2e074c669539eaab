/**
 * `flux queue` against a real 2-rank instance: job-manager's queue-status/enable/start/
 * alloc-query/idle/drain RPCs through flux-core 0.88's command lines and outputs; a disabled
 * queue refuses submissions with its reason, a stopped queue sends no allocs (and cancels the
 * outstanding ones) until it starts again.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { flux, startInstance, type Instance } from './helpers';

let inst: Instance;
const q = (...args: string[]): ReturnType<typeof flux> => flux(args, inst.env);

before(async () => {
  inst = await startInstance(2);
});

after(async () => {
  await inst.stop();
});

test('status of the anonymous queue, and the alloc counts with -v', async () => {
  const r = await q('queue', 'status');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'Job submission is enabled\nScheduling is started\n');
  const v = await q('queue', 'status', '-v');
  assert.equal(v.stdout, 'Job submission is enabled\nScheduling is started\n0 alloc requests queued\n0 alloc requests pending to scheduler\n0 running jobs\n');
});

test('disable refuses submissions with the reason; enable lets them in again', async () => {
  const d = await q('queue', 'disable', '-m', 'system is fubar');
  assert.equal(d.status, 0, d.stderr);
  assert.equal(d.stdout, 'Job submission is disabled: system is fubar\n');
  const s = await q('submit', 'true');
  assert.equal(s.status, 1);
  assert.equal(s.stdout, '');
  assert.match(s.stderr, /^flux-submit: ERROR: job submission is disabled: system is fubar$/m);
  assert.equal((await q('queue', 'disable', '--quiet')).stdout, '');
  assert.equal((await q('queue', 'status')).stdout, 'Job submission is disabled: disabled by administrator\nScheduling is started\n');
  const e = await q('queue', 'enable');
  assert.equal(e.stdout, 'Job submission is enabled\n');
  const ok = await q('submit', '--wait', 'true');
  assert.equal(ok.status, 0, ok.stderr);
});

test('a stopped queue holds jobs in SCHED until start; idle counts them, drain waits for them', async () => {
  const st = await q('queue', 'stop', '-m', 'my unique message');
  assert.equal(st.stdout, 'Scheduling is stopped: my unique message\n');
  assert.equal((await q('queue', 'status')).stdout, 'Job submission is enabled\nScheduling is stopped: my unique message\n');
  const sub = await q('submit', '--cc=1-3', 'true');
  assert.equal(sub.status, 0, sub.stderr);
  const ids = sub.stdout.trim().split('\n');
  for (const id of ids) assert.equal((await q('job', 'wait-event', '-t', '10', id, 'priority')).status, 0);
  const idle = await q('queue', 'idle', '-t', '10');
  assert.equal(idle.stdout, '3 jobs\n');
  assert.equal((await q('queue', 'idle', '--quiet')).stdout, '3 jobs\n');
  const v = await q('queue', 'status', '-v');
  assert.match(v.stdout, /^0 alloc requests pending to scheduler$/m);
  const states = await q('jobs', '-no', '{state}', ...ids);
  assert.deepEqual(states.stdout.trim().split('\n'), ['SCHED', 'SCHED', 'SCHED']);
  const drained = await q('queue', 'drain', '--timeout=0.2');
  assert.equal(drained.status, 1);
  assert.equal(drained.stderr, 'flux-queue: ERROR: drain: timeout\n');
  assert.equal((await q('queue', 'start')).stdout, 'Scheduling is started\n');
  const d = await q('queue', 'drain', '-t', '30');
  assert.equal(d.status, 0, d.stderr);
  assert.equal((await q('jobs', '-no', '{result}', ...ids)).stdout, 'COMPLETED\nCOMPLETED\nCOMPLETED\n');
  assert.equal((await q('queue', 'idle')).stdout, '0 jobs\n');
});

test('stop cancels the alloc outstanding for a job that waits for resources', async () => {
  const info = await q('resource', 'info');
  const cores = Number(/(\d+) Cores/.exec(info.stdout)?.[1]);
  assert.ok(cores > 0, info.stdout);
  const big = (await q('submit', '-n', String(cores), 'sleep', '300')).stdout.trim();
  assert.equal((await q('job', 'wait-event', '-t', '20', big, 'start')).status, 0);
  const waiting = (await q('submit', 'true')).stdout.trim();
  assert.equal((await q('job', 'wait-event', '-t', '10', waiting, 'priority')).status, 0);
  // the scheduler has the waiting job's alloc (it answers only when the cores are free)
  const before = await q('queue', 'status', '-v');
  assert.match(before.stdout, /^1 alloc requests pending to scheduler$/m);
  assert.match(before.stdout, /^1 running jobs$/m);
  const stop = await q('queue', 'stop', '-v');
  assert.equal(stop.status, 0, stop.stderr);
  // the cancel is answered by the scheduler: idle waits for that, the job stays in SCHED
  await q('cancel', big);
  assert.equal((await q('queue', 'idle', '-t', '20')).stdout, '1 jobs\n');
  assert.equal((await q('jobs', '-no', '{state}', waiting)).stdout, 'SCHED\n');
  assert.equal((await q('queue', 'start', '--quiet')).status, 0);
  const clean = await q('job', 'wait-event', '-t', '20', waiting, 'clean');
  assert.equal(clean.status, 0, `${clean.stderr}${(await q('job', 'eventlog', waiting)).stdout}${(await q('dmesg')).stdout.split('\n').filter((l) => /sched|job-manager/.test(l)).slice(-10).join('\n')}`);
});

test('usage errors exit 2 as argparse does; named-queue errors from job-manager', async () => {
  const extra = await q('queue', 'status', 'a', 'b');
  assert.equal(extra.status, 2);
  assert.match(extra.stderr, /flux-queue status: error: unrecognized arguments: b/);
  const none = await q('queue');
  assert.equal(none.status, 2);
  assert.match(none.stderr, /^usage: flux-queue/);
  const bad = await q('queue', 'stop', 'batch');
  assert.equal(bad.status, 1);
  assert.equal(bad.stderr, "flux-queue: ERROR: start: 'batch' is not a valid queue\n");
  const list = await q('queue', 'list');
  assert.equal(list.status, 0, list.stderr);
  const [head, row, rest] = list.stdout.split('\n');
  assert.equal(head, 'EN ST TDEFAULT   TLIMIT     NNODES     NCORES      NGPUS');
  assert.deepEqual(row.trim().split(/ +/).filter((_c, i) => i !== 5), ['✔', '✔', 'inf', 'inf', '0-2', '0-0']);
  assert.equal(rest, '');
});
