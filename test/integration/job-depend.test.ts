// Job dependencies (RFC 26, job-manager's depend.ts) on real instances: a job waits in DEPEND
// (`flux jobs` state D, INFO `depends:...`, job-list's `dependencies`) until its antecedent
// ends as asked, gets flux-core's `dependency` exception when it never can, bad or unknown ids
// and hopeless dependencies on inactive jobs are refused at submit with flux-core's messages,
// begin-time waits for its time, and a dependency survives a restart with a statedir.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { flux, startInstance, type Instance } from './helpers';

let inst: Instance;

before(async () => {
  inst = await startInstance(2);
});

after(async () => {
  await inst?.stop();
});

async function ok(args: string[], i: Instance = inst): Promise<string> {
  const r = await flux(args, i.env);
  assert.equal(r.status, 0, `flux ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

/** Event names of a job's eventlog, in order. */
async function events(id: string, i: Instance = inst): Promise<string[]> {
  return (await ok(['job', 'eventlog', id], i)).split('\n').map((l) => l.split(' ')[1]);
}

test('afterok: DEPEND with flux-core\'s INFO and dependencies until the antecedent succeeds', async () => {
  const a = await ok(['submit', '--urgency=hold', 'true']);
  const b = await ok(['submit', `--dependency=afterok:${a}`, 'true']);
  await ok(['job', 'wait-event', '-t', '10', b, 'dependency-add']);
  assert.equal(await ok(['jobs', '-no', '{state} {contextual_info} {dependencies}', b]), `DEPEND depends:after-success=${a} after-success=${a}`);
  const json = JSON.parse(await ok(['jobs', '--json', b])) as { dependencies?: string[] };
  assert.deepEqual(json.dependencies, [`after-success=${a}`]);
  assert.match(await ok(['job', 'eventlog', b]), new RegExp(`dependency-add description="after-success=${a}"`));
  await ok(['job', 'urgency', a, 'default']);
  await ok(['job', 'wait-event', '-t', '15', b, 'clean']);
  const evs = await events(b);
  assert.deepEqual(evs.slice(0, 5), ['submit', 'dependency-add', 'validate', 'dependency-remove', 'depend']);
  assert.equal(await ok(['jobs', '-no', '{result}', b]), 'COMPLETED');
  // once satisfied the list is empty (flux-core keeps the attribute)
  assert.deepEqual((JSON.parse(await ok(['jobs', '--json', b])) as { dependencies?: string[] }).dependencies, []);
});

test('afterok on a job that fails: a fatal dependency exception with flux-core\'s note', async () => {
  const a = await ok(['submit', '--urgency=hold', 'false']);
  const b = await ok(['submit', `--dependency=afterok:${a}`, 'true']);
  await ok(['job', 'wait-event', '-t', '10', b, 'dependency-add']);
  await ok(['job', 'urgency', a, 'default']);
  await ok(['job', 'wait-event', '-t', '15', b, 'exception']);
  assert.match(await ok(['job', 'eventlog', b]), new RegExp(`exception type="dependency" severity=0 note="dependency after-success=${a} can never be satisfied"`));
  await ok(['job', 'wait-event', '-t', '15', b, 'clean']);
  assert.ok(!(await events(b)).includes('alloc'), 'the dependent job never ran');
});

test('afterany and afternotok are released by a failure; a canceled antecedent that never ran satisfies only afterany', async () => {
  const a = await ok(['submit', '--urgency=hold', 'false']);
  const any = await ok(['submit', `--dependency=afterany:${a}`, 'true']);
  const notok = await ok(['submit', `--dependency=afternotok:${a}`, 'true']);
  await ok(['job', 'urgency', a, 'default']);
  await ok(['job', 'wait-event', '-t', '15', any, 'clean']);
  await ok(['job', 'wait-event', '-t', '15', notok, 'clean']);
  assert.equal(await ok(['jobs', '-no', '{result}', any, notok]), 'COMPLETED\nCOMPLETED');

  const c = await ok(['submit', '--urgency=hold', 'true']);
  const any2 = await ok(['submit', `--dependency=afterany:${c}`, 'true']);
  const after = await ok(['submit', `--dependency=after:${c}`, 'true']);
  await ok(['cancel', c]);
  await ok(['job', 'wait-event', '-t', '15', any2, 'clean']);
  assert.equal(await ok(['jobs', '-no', '{result}', any2]), 'COMPLETED');
  await ok(['job', 'wait-event', '-t', '15', after, 'exception']);
  assert.match(await ok(['job', 'eventlog', after]), new RegExp(`exception type="dependency" severity=0 note="dependency after-start=${c} job never started"`));
});

test('refused at submit: unknown and invalid ids, unsupported schemes, hopeless dependencies on inactive jobs', async () => {
  const cases: [string, string][] = [
    ['afterany:1234', 'dependency: afterany: id 1234: job not found'],
    ['afterany:bar', 'dependency: afterany: "bar" is not a valid jobid'],
    ['after:-1', 'dependency: after: "-1" is not a valid jobid'],
    ['foo:1', 'dependency scheme "foo" not supported'],
    ['begin-time:soon', 'Invalid begin-time=soon'],
  ];
  const done = await ok(['submit', '--wait', 'true']);
  cases.push([`afternotok:${done}`, `dependency: afternotok: job ${done} succeeded`]);
  for (const [dep, msg] of cases) {
    const r = await flux(['submit', `--dependency=${dep}`, 'true'], inst.env);
    assert.equal(r.status, 1, dep);
    assert.equal(r.stderr.trim(), `flux-submit: ERROR: ${msg}`);
    assert.equal(r.stdout, '');
  }
  // nothing of the refused jobs is listed
  const listed = await ok(['jobs', '-a', '-no', '{id.f58}']);
  assert.equal(listed.split('\n').filter(Boolean).length, new Set(listed.split('\n')).size);
});

test('a dependency on an inactive job that it satisfies is resolved at once', async () => {
  const a = await ok(['submit', '--wait', 'true']);
  const r = await flux(['run', `--dependency=afterok:${a}`, 'echo', 'ran'], inst.env);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'ran\n');
  const id = (await ok(['jobs', '-a', '-c', '1', '-no', '{id.f58}']));
  assert.deepEqual((await events(id)).slice(0, 5), ['submit', 'dependency-add', 'dependency-remove', 'validate', 'depend']);
});

test('begin-time: the job waits in DEPEND until its time', async () => {
  const at = Date.now() / 1000 + 2;
  const b = await ok(['submit', `--dependency=begin-time:${at}`, 'true']);
  const info = await ok(['jobs', '-no', '{state_single} {contextual_info}', b]);
  assert.match(info, /^D depends:begin@\d\d:\d\d(:\d\d)?$/);
  await ok(['job', 'wait-event', '-t', '15', b, 'depend']);
  const t = Number((await ok(['job', 'eventlog', b])).split('\n').find((l) => l.endsWith(' depend'))?.split(' ')[0]);
  assert.ok(t >= at, `depend at ${t}, before ${at}`);
  assert.match(await ok(['job', 'eventlog', b]), new RegExp(`dependency-remove description="begin-time=${at.toFixed(3)}"`));
});

test('a job in DEPEND can be canceled; its antecedent goes on', async () => {
  const a = await ok(['submit', '--urgency=hold', 'true']);
  const b = await ok(['submit', `--dependency=afterany:${a}`, 'true']);
  await ok(['cancel', b]);
  await ok(['job', 'wait-event', '-t', '10', b, 'clean']);
  await ok(['job', 'urgency', a, 'default']);
  await ok(['job', 'wait-event', '-t', '15', a, 'clean']);
  assert.ok(!(await events(b)).includes('dependency-remove'));
});

test('dependencies survive a restart with a statedir', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flux-depend-'));
  try {
    let i = await startInstance(1, [`statedir=${dir}`]);
    const a = await ok(['submit', '--urgency=hold', 'true'], i);
    const b = await ok(['submit', `--dependency=afterok:${a}`, 'true'], i);
    await ok(['job', 'wait-event', '-t', '10', b, 'dependency-add'], i);
    await i.stop();
    i = await startInstance(1, [`statedir=${dir}`]);
    try {
      assert.equal(await ok(['jobs', '-no', '{state_single} {contextual_info}', b], i), `D depends:after-success=${a}`);
      await ok(['job', 'urgency', a, 'default'], i);
      await ok(['job', 'wait-event', '-t', '15', b, 'clean'], i);
      assert.equal(await ok(['jobs', '-no', '{result}', b], i), 'COMPLETED');
    } finally {
      await i.stop();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
