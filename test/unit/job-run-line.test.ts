// The extension's job helpers that need no VS Code: the Run Command as Job line (flux run's
// options, then the command; shell syntax under sh -c) and the journal model fed with
// job-manager.events-journal entries (grouping, counts, names, nodes/ranks, runtime).
import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { JobEntry } from '../../extension/src/jobs/jobs-journal';
import { outputText, attachTrailer } from '../../extension/src/jobs/job-follow';
import { parseRunLine, splitWords } from '../../extension/src/jobs/run-line';
import { makeEvent } from '../../broker/src/common/libjob/states';

test('splitWords: quotes and backslashes as sh reads them', () => {
  assert.deepEqual(splitWords(`a 'b c' "d \\"e\\"" f\\ g ''`), ['a', 'b c', 'd "e"', 'f g', '']);
  assert.throws(() => splitWords(`echo 'oops`), /unterminated quote/);
});

test('parseRunLine: options first, then the command; shell syntax runs under sh -c', () => {
  assert.deepEqual(parseRunLine('hostname'), { command: ['hostname'] });
  assert.deepEqual(parseRunLine('-N2 -n 4 --job-name=x hostname -s'), { command: ['hostname', '-s'], nodes: '2', ntasks: '4', jobName: 'x' });
  assert.deepEqual(parseRunLine('-t 30s sleep 10'), { command: ['sleep', '10'], timeLimit: '30s' });
  assert.deepEqual(parseRunLine('-n2 echo hi; sleep 1'), { command: ['sh', '-c', 'echo hi; sleep 1'], ntasks: '2', jobName: 'echo' });
  assert.deepEqual(parseRunLine(`sh -c 'exit 3'`), { command: ['sh', '-c', 'exit 3'] });
  assert.deepEqual(parseRunLine('-- -n'), { command: ['-n'] });
  assert.throws(() => parseRunLine('-n2'), /job command and arguments are missing/);
  assert.throws(() => parseRunLine('-n'), /-n: missing argument/);
});

test('JobEntry: name, tasks and nodes from the jobspec and R; group and runtime from the events', () => {
  const j = new JobEntry(1234n);
  j.setJobspec({
    version: 1,
    resources: [{ type: 'node', count: 2, with: [{ type: 'slot', count: 1, label: 'task', with: [{ type: 'core', count: 1 }] }] }],
    tasks: [{ command: ['/bin/hostname'], slot: 'task', count: { per_slot: 1 } }],
    attributes: { system: { duration: 0 } },
  });
  assert.equal(j.name, 'hostname');
  assert.equal(j.ntasks, 2);
  assert.equal(j.nnodes, 2);
  assert.equal(j.f58, 'ƒNH');
  j.sm.apply(makeEvent('submit', { userid: 0, urgency: 16, flags: 0 }, 100));
  j.sm.apply(makeEvent('validate', undefined, 100.1));
  assert.equal(j.group, 'pending');
  assert.equal(j.runtime(105), 5);
  for (const [n, t] of [['depend', 100.2], ['priority', 100.3], ['alloc', 101]] as const) j.sm.apply(makeEvent(n, n === 'priority' ? { priority: 16 } : undefined, t));
  j.setR({ version: 1, execution: { R_lite: [{ rank: '1-2', children: { core: '0' } }], starttime: 0, expiration: 0, nodelist: ['h1', 'h2'] } });
  assert.equal(j.ranks, '1-2');
  assert.equal(j.group, 'running');
  assert.equal(j.runtime(103.5), 2.5);
  j.sm.apply(makeEvent('finish', { status: 256 }, 104));
  j.sm.apply(makeEvent('clean', undefined, 104.5));
  assert.equal(j.group, 'inactive');
  assert.equal(j.runtime(200), 3);
});

test('outputText and attachTrailer: guest.output data in order, then what flux job attach adds', () => {
  const out = [
    '{"timestamp":1,"name":"header","context":{"version":1}}',
    '{"timestamp":1,"name":"data","context":{"stream":"stdout","rank":"0","data":"a\\n"}}',
    '{"timestamp":1,"name":"data","context":{"stream":"stderr","rank":"0","encoding":"base64","data":"Yg=="}}',
  ];
  assert.equal(outputText(out), 'a\nb');
  const t = attachTrailer([makeEvent('submit', {}, 10), makeEvent('exception', { type: 'cancel', severity: 0, note: '' }, 10.5), makeEvent('finish', { status: 9 }, 11)]);
  assert.equal(t, '0.500s: job.exception type=cancel severity=0\nflux-job: task(s) terminated by signal 9\n');
});

test('parseRunLine: quoted shell syntax is an argument, not a reason for sh -c', () => {
  assert.deepEqual(parseRunLine(`-N2 -n2 sh -c "echo hello; sleep 30"`), { command: ['sh', '-c', 'echo hello; sleep 30'], nodes: '2', ntasks: '2' });
  assert.deepEqual(parseRunLine(`echo 'a|b'`), { command: ['echo', 'a|b'] });
  assert.deepEqual(parseRunLine(`echo "$HOME"`), { command: ['sh', '-c', 'echo "$HOME"'], jobName: 'echo' });
  assert.deepEqual(parseRunLine(`echo a\\;b`), { command: ['echo', 'a;b'] });
});
