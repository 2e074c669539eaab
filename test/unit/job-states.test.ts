/**
 * The job state machine (RFC 21) shared by job-manager, job-list and the CLI,
 * eventlog encoding (RFC 18) against the recorded job-info.txt entries, the
 * "none" signed J (RFC 38/39), and job-manager's scheduling order.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  JobStateMachine,
  RESULT_CANCELED,
  RESULT_COMPLETED,
  RESULT_FAILED,
  RESULT_TIMEOUT,
  STATE_CLEANUP,
  STATE_DEPEND,
  STATE_INACTIVE,
  STATE_NEW,
  STATE_PRIORITY,
  STATE_RUN,
  STATE_SCHED,
  decodeEvent,
  encodeEvent,
  formatEventText,
  makeEvent,
  parseEventlog,
  priorityFromUrgency,
  resultToString,
  stateFromString,
  stateToString,
  waitStatusExitCode,
} from '../../broker/src/common/libjob/states';
import { signNone, unwrapSigned } from '../../broker/src/common/libjob/sign';
import { schedOrder } from '../../broker/src/modules/job-manager/job-manager';

const RECORDED = `{"timestamp":1795542931.0609488,"name":"submit","context":{"userid":0,"urgency":16,"flags":0,"version":1}}
{"timestamp":1795542931.072854,"name":"validate"}
{"timestamp":1795542931.0840545,"name":"depend"}
{"timestamp":1795542931.0842209,"name":"priority","context":{"priority":16}}
{"timestamp":1795542931.0864246,"name":"alloc","context":{"annotations":{"sched":{"resource_summary":"rank0/core[0-1]"}}}}
{"timestamp":1795542931.0931201,"name":"start"}
{"timestamp":1795542931.1117322,"name":"finish","context":{"status":0}}
{"timestamp":1795542931.1147735,"name":"release","context":{"ranks":"all","final":true}}
{"timestamp":1795542931.1148012,"name":"free"}
{"timestamp":1795542931.1148119,"name":"clean"}
`;

test('the recorded eventlog decodes and re-encodes byte for byte', () => {
  const evs = parseEventlog(RECORDED);
  assert.equal(evs.length, 10);
  assert.equal(evs.map((e) => encodeEvent(e)).join('\n') + '\n', RECORDED);
});

test('the recorded eventlog walks NEW to INACTIVE through every state, result COMPLETED', () => {
  const sm = new JobStateMachine();
  const states = [sm.state];
  for (const ev of parseEventlog(RECORDED)) {
    sm.apply(ev);
    states.push(sm.state);
  }
  assert.deepEqual(states, [STATE_NEW, STATE_NEW, STATE_DEPEND, STATE_PRIORITY, STATE_SCHED, STATE_RUN, STATE_RUN, STATE_CLEANUP, STATE_CLEANUP, STATE_CLEANUP, STATE_INACTIVE]);
  assert.equal(sm.result, RESULT_COMPLETED);
  assert.equal(sm.success, true);
  assert.equal(sm.priority, 16);
  assert.equal(sm.t_submit, 1795542931.0609488);
  assert.equal(sm.t_run, 1795542931.0864246);
  assert.equal(sm.t_inactive, 1795542931.1148119);
  assert.deepEqual(sm.annotations, { sched: { resource_summary: 'rank0/core[0-1]' } });
});

test('exceptions: severity 0 goes to CLEANUP from any pending or running state and decides the result', () => {
  for (const [pre, type, result] of [
    [['validate'], 'cancel', RESULT_CANCELED],
    [['validate', 'depend', 'priority'], 'cancel', RESULT_CANCELED],
    [['validate', 'depend', 'priority', 'alloc'], 'timeout', RESULT_TIMEOUT],
    [['validate', 'depend', 'priority'], 'alloc', RESULT_FAILED],
  ] as [string[], string, number][]) {
    const sm = new JobStateMachine();
    sm.apply(makeEvent('submit', { userid: 0, urgency: 16, flags: 0, version: 1 }));
    for (const n of pre) sm.apply(makeEvent(n, n === 'priority' ? { priority: 16 } : undefined));
    assert.equal(sm.apply(makeEvent('exception', { type, severity: 0, note: '' })), true);
    assert.equal(sm.state, STATE_CLEANUP);
    sm.apply(makeEvent('clean'));
    assert.equal(sm.state, STATE_INACTIVE);
    assert.equal(sm.result, result, type);
  }
  // a non-fatal exception changes nothing but is recorded
  const sm = new JobStateMachine();
  sm.apply(makeEvent('validate'));
  assert.equal(sm.apply(makeEvent('exception', { type: 'test', severity: 3, note: 'hi' })), false);
  assert.deepEqual(sm.exception, { occurred: true, severity: 3, type: 'test', note: 'hi' });
  assert.equal(sm.state, STATE_DEPEND);
});

test('a non-zero finish status is FAILED; invalidate ends a NEW job', () => {
  const sm = new JobStateMachine();
  for (const n of ['validate', 'depend', 'priority', 'alloc']) sm.apply(makeEvent(n));
  sm.apply(makeEvent('finish', { status: 256 }));
  sm.apply(makeEvent('clean'));
  assert.equal(sm.result, RESULT_FAILED);
  assert.equal(sm.waitstatus, 256);
  const inv = new JobStateMachine();
  inv.apply(makeEvent('invalidate'));
  assert.equal(inv.state, STATE_INACTIVE);
});

test('state and result names, urgency to priority, wait status to exit code', () => {
  assert.equal(stateToString(STATE_SCHED), 'SCHED');
  assert.equal(stateToString(STATE_SCHED, 'S'), 'S');
  assert.equal(resultToString(RESULT_CANCELED, 'S'), 'CA');
  assert.equal(resultToString(RESULT_COMPLETED, 'S'), 'CD');
  assert.equal(stateFromString('pending'), STATE_DEPEND | STATE_PRIORITY | STATE_SCHED);
  assert.equal(stateFromString('run'), STATE_RUN);
  assert.equal(priorityFromUrgency(0), 0);
  assert.equal(priorityFromUrgency(16), 16);
  assert.equal(priorityFromUrgency(31), 4294967295);
  assert.equal(waitStatusExitCode(3 << 8), 3);
  assert.equal(waitStatusExitCode(9), 137);
});

test('flux job eventlog text lines', () => {
  const [ev] = parseEventlog('{"timestamp":1795542931.1147735,"name":"release","context":{"ranks":"all","final":true}}');
  assert.equal(formatEventText(ev), '1795542931.114774 release ranks="all" final=true');
  assert.equal(decodeEvent('not json'), undefined);
  assert.equal(decodeEvent('{"name":"x"}'), undefined);
});

test('J with the none mechanism: header kv, payload, round trip, mismatches refused', () => {
  const J = signNone('{"a":1}', 1000);
  const [h, p, mech] = J.split('.');
  assert.equal(Buffer.from(h, 'base64').toString(), 'version\0i1\0userid\0i1000\0mechanism\0snone\0');
  assert.equal(Buffer.from(p, 'base64').toString(), '{"a":1}');
  assert.equal(mech, 'none');
  const u = unwrapSigned(J);
  assert.equal(u.userid, 1000);
  assert.equal(u.mechanism, 'none');
  assert.equal(u.payload.toString(), '{"a":1}');
  assert.throws(() => unwrapSigned('abc'), /expected 3 fields/);
  assert.throws(() => unwrapSigned(J.replace(/none$/, 'munge')), /does not match/);
});

test('job-manager schedules by priority, then submit time, then id', () => {
  const jobs = [
    { id: 3n, priority: 16, t_submit: 2 },
    { id: 2n, priority: 16, t_submit: 1 },
    { id: 5n, priority: 31, t_submit: 9 },
    { id: 1n, priority: 16, t_submit: 1 },
  ];
  assert.deepEqual(jobs.sort(schedOrder).map((j) => j.id), [5n, 1n, 2n, 3n]);
});
