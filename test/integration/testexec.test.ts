// Test execution (flux-core's testexec): jobs with attributes.system.exec.test run no process;
// they start at once and finish when run_duration is over, with wait_status, a mock exception,
// or by hand (override). A cancel ends a running one with the signal as its status.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Flux } from '../../broker/src/common/libflux/handle';
import { parseJobId } from '../../broker/src/common/libjob/jobid';
import { flux, startInstance, type Instance } from './helpers';

let inst: Instance;

before(async () => {
  inst = await startInstance(2);
});

after(async () => {
  await inst?.stop();
});

const run = (...args: string[]): ReturnType<typeof flux> => flux(args, inst.env);

async function submit(...args: string[]): Promise<string> {
  const r = await run('submit', ...args);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

async function eventNames(id: string): Promise<string[]> {
  const r = await run('job', 'eventlog', id);
  return r.stdout.trim().split('\n').map((l) => l.split(' ')[1]);
}

test('run_duration: the job starts, finishes after it with wait_status, no process spawned', async () => {
  const ok = await submit('--setattr=system.exec.test.run_duration="0.2s"', '/nonexistent/command');
  assert.equal((await run('job', 'wait-event', '-t', '10', ok, 'clean')).status, 0);
  assert.deepEqual((await eventNames(ok)).filter((n) => ['start', 'finish', 'release', 'clean'].includes(n)), ['start', 'finish', 'release', 'clean']);
  // the command does not exist: nothing was run, so the job succeeded
  assert.equal((await run('jobs', '-no', '{result}', ok)).stdout, 'COMPLETED\n');
  const st = await submit('--setattr=system.exec.test={"run_duration":"0.01s","wait_status":512}', 'true');
  assert.equal((await run('job', 'wait-event', '-t', '10', st, 'clean')).status, 0);
  assert.match((await run('job', 'eventlog', st)).stdout, /finish status=512/);
  assert.equal((await run('jobs', '-no', '{result} {returncode}', st)).stdout, 'FAILED 2\n');
});

test('mock exceptions at init and run; an unparsable test object is an exec exception', async () => {
  const init = await submit('--setattr=system.exec.test.mock_exception=init', 'true');
  assert.equal((await run('job', 'wait-event', '-t', '10', init, 'clean')).status, 0);
  const ev = (await run('job', 'eventlog', init)).stdout;
  assert.match(ev, /exception type="exec" severity=0 note="mock initialization exception generated"/);
  assert.doesNotMatch(ev, / start\n| finish /);
  const runEx = await submit('--setattr=system.exec.test.mock_exception=run', 'true');
  assert.equal((await run('job', 'wait-event', '-t', '10', runEx, 'clean')).status, 0);
  assert.match((await run('job', 'eventlog', runEx)).stdout, / start\n[\s\S]*mock run exception generated/);
  const bad = await submit('--setattr=system.exec.test.run_duration=5', 'true');
  assert.equal((await run('job', 'wait-event', '-t', '10', bad, 'clean')).status, 0);
  assert.match((await run('job', 'eventlog', bad)).stdout, /run_duration must be a string/);
});

test('unlimited: runs until canceled, then finishes with the signal; override starts and finishes by hand', async () => {
  const forever = await submit('--setattr=system.exec.test.run_duration="0"', 'true');
  assert.equal((await run('job', 'wait-event', '-t', '10', forever, 'start')).status, 0);
  assert.equal((await run('jobs', '-no', '{state}', forever)).stdout, 'RUN\n');
  assert.equal((await run('cancel', forever)).status, 0);
  assert.equal((await run('job', 'wait-event', '-t', '10', forever, 'clean')).status, 0);
  assert.match((await run('job', 'eventlog', forever)).stdout, /finish status=15/);

  const ov = await submit('--setattr=system.exec.test={"override":1}', 'true');
  assert.equal((await run('job', 'wait-event', '-t', '10', ov, 'alloc')).status, 0);
  assert.ok(!(await eventNames(ov)).includes('start'));
  const h = await Flux.open(inst.uri);
  try {
    const jobid = Number(parseJobId(ov));
    await assert.rejects(h.rpc('job-exec.override', { event: 'finish', jobid }).get(), /Job not running/);
    await h.rpc('job-exec.override', { event: 'start', jobid }).get();
    assert.equal((await run('job', 'wait-event', '-t', '10', ov, 'start')).status, 0);
    await assert.rejects(h.rpc('job-exec.override', { event: 'bogus', jobid }).get(), /Invalid event/);
    await h.rpc('job-exec.override', { event: 'finish', jobid, status: 256 }).get();
    assert.equal((await run('job', 'wait-event', '-t', '10', ov, 'clean')).status, 0);
    assert.match((await run('job', 'eventlog', ov)).stdout, /finish status=256/);
    await assert.rejects(h.rpc('job-exec.override', { event: 'start', jobid }).get(), /Job not found/);
  } finally {
    h.close();
  }
});
