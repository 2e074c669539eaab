/**
 * flux jobs output formats: the recorded `flux jobs -a` and `-o` listings
 * (jobs-a.txt) rebuilt from job-list records, flux.util.fsd, `?:`, `+:`,
 * `h` and truncation with `+`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as os from 'node:os';
import { parseJobId } from '../../broker/src/common/libjob/jobid';
import { DEFAULT_FORMAT, formatJobs, fsd, parseFormat, type JobRecord } from '../../broker/src/cmd/jobs-format';

const me = os.userInfo();

function inactive(f58: string, name: string, ntasks: number, nnodes: number, runtime: number, nodelist: string): JobRecord {
  return {
    id: parseJobId(f58), userid: me.uid, state: 64, result: 1, name, ntasks, nnodes, nodelist,
    t_submit: 100, t_run: 200, t_cleanup: 200 + runtime, t_inactive: 200 + runtime, waitstatus: 0, success: true,
  };
}

const JOBS = [
  inactive('ƒ6jbsssu', 'sleep', 1, 1, 0.099, 'vm'),
  inactive('ƒ6emgDcj', 'hostname', 4, 4, 0.052, 'vm,vm,vm,vm'),
  inactive('ƒ6aot8wH', 'hostname', 2, 1, 0.021, 'vm'),
];

test('the default format gives the recorded flux jobs -a lines (QUEUE dropped when empty)', () => {
  const user = me.username.padEnd(8);
  assert.deepEqual(formatJobs(DEFAULT_FORMAT, JOBS, true), [
    `       JOBID ${'USER'.padEnd(Math.max(8, me.username.length))} NAME       ST NTASKS NNODES     TIME INFO`,
    `    ƒ6jbsssu ${user} sleep      CD      1      1   0.099s vm`,
    `    ƒ6emgDcj ${user} hostname   CD      4      4   0.052s vm,vm,vm,vm`,
    `    ƒ6aot8wH ${user} hostname   CD      2      1   0.021s vm`,
  ]);
});

test('the recorded -o format', () => {
  assert.deepEqual(formatJobs('{id.f58} {state} {result} {name} {ntasks} {nodelist}', JOBS.slice(0, 2), true), [
    'JOBID STATE RESULT NAME NTASKS NODELIST',
    'ƒ6jbsssu INACTIVE COMPLETED sleep 1 vm',
    'ƒ6emgDcj INACTIVE COMPLETED hostname 4 vm,vm,vm,vm',
  ]);
});

test('pending and running jobs: state letters, - for empty NNODES and TIME, long names cut with +', () => {
  const pending: JobRecord = { id: 1n, userid: me.uid, state: 8, name: 'averyveryverylongname', ntasks: 3, t_submit: 1 };
  const running: JobRecord = { id: 2n, userid: me.uid, state: 16, name: 'sleep', ntasks: 1, nnodes: 1, t_run: 100, nodelist: 'vm' };
  const [, p, r] = formatJobs(DEFAULT_FORMAT, [pending, running], true, 112.5);
  assert.match(p, /^ +ƒ2 \S+ +averyvery\+ {2}S {6}3 {6}- {8}- $/);
  assert.match(r, /^ +ƒ3 \S+ +sleep {7}R {6}1 {6}1 {4}12\.5s vm$/);
  assert.equal(formatJobs('{id.f58} {status} {returncode}', [{ ...JOBS[0], result: 4, waitstatus: undefined }], false)[0], 'ƒ6jbsssu CANCELED -128');
});

test('fsd as flux.util.fsd', () => {
  assert.equal(fsd(0), '0s');
  assert.equal(fsd(0.0991), '0.099s');
  assert.equal(fsd(12.5), '12.5s');
  assert.equal(fsd(90), '1.5m');
  assert.equal(fsd(7200), '2h');
  assert.equal(fsd(86400 * 3.25), '3.25d');
});

test('unknown fields are refused', () => {
  assert.throws(() => parseFormat('{bogus}'), /Unknown format field: bogus/);
});

test('a pending job shows the scheduler\'s estimate (eta:) or why it waits in INFO', () => {
  const eta: JobRecord = { id: 3n, userid: me.uid, state: 8, name: 'big', ntasks: 8, t_submit: 1, annotations: { sched: { t_estimate: 190, reason_pending: 'insufficient resources' } } };
  const why: JobRecord = { id: 4n, userid: me.uid, state: 8, name: 'small', ntasks: 1, t_submit: 1, annotations: { sched: { reason_pending: 'beyond queue-depth=4' } } };
  const late: JobRecord = { ...eta, id: 5n, annotations: { sched: { t_estimate: 50 } } };
  assert.deepEqual(formatJobs('{contextual_info}', [eta, why, late], false, 100), ['eta:1.5m', 'beyond queue-depth=4', 'eta:now']);
});
