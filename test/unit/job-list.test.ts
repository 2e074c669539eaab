/**
 * job-list's records built from journal data (jobspec, R, events), its
 * listing order and constraint matching.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ListJob, listOrder, matches } from '../../broker/src/modules/job-list/job-list';
import { jobspecFromCommandLine } from '../../broker/src/common/libjob/jobspec';
import { makeEvent } from '../../broker/src/common/libjob/states';
import type { JsonValue } from '../../broker/src/common/libjob/json';

function job(id: bigint, events: [string, Record<string, JsonValue>?, number?][], args: Partial<Parameters<typeof jobspecFromCommandLine>[0]> = {}): ListJob {
  const j = new ListJob(id);
  j.setJobspec(jobspecFromCommandLine({ command: ['/bin/sleep', '1'], processCwd: '/tmp', environ: {}, ...args }).jobspec as Record<string, JsonValue>);
  for (const [name, ctx, t] of events) j.sm.apply(makeEvent(name, ctx, t ?? 1));
  return j;
}

const SUBMIT: [string, Record<string, JsonValue>, number] = ['submit', { userid: 1000, urgency: 16, flags: 0, version: 1 }, 10];

test('attributes from jobspec, R and events, as job-list.list returns them', () => {
  const j = job(7n, [SUBMIT, ['validate', undefined, 11], ['depend', undefined, 11], ['priority', { priority: 16 }, 11], ['alloc', undefined, 12], ['finish', { status: 0 }, 13], ['clean', undefined, 14]], { ntasks: 4, nodes: 2 });
  j.setR({ version: 1, execution: { R_lite: [{ rank: '0-1', children: { core: '0-1' } }], starttime: 12, expiration: 0, nodelist: ['vm[0-1]'] } });
  const a = j.attrs();
  assert.deepEqual(
    { id: a.id, userid: a.userid, name: a.name, ntasks: a.ntasks, nnodes: a.nnodes, ncores: a.ncores, ranks: a.ranks, nodelist: a.nodelist, state: a.state, result: a.result, success: a.success, t_run: a.t_run, t_inactive: a.t_inactive, cwd: a.cwd, waitstatus: a.waitstatus },
    { id: 7, userid: 1000, name: 'sleep', ntasks: 4, nnodes: 2, ncores: 4, ranks: '0-1', nodelist: 'vm[0-1]', state: 64, result: 1, success: true, t_run: 12, t_inactive: 14, cwd: '/tmp', waitstatus: 0 },
  );
  const named = job(8n, [SUBMIT], { jobName: 'mine' });
  assert.equal(named.name, 'mine');
  assert.equal(named.attrs().success, undefined, 'no result before INACTIVE');
});

test('listing order: pending by priority, running newest first, inactive newest first', () => {
  const pend = (id: bigint, prio: number): ListJob => job(id, [SUBMIT, ['validate'], ['depend'], ['priority', { priority: prio }]]);
  const run = (id: bigint, t: number): ListJob => job(id, [SUBMIT, ['validate'], ['depend'], ['priority', { priority: 16 }], ['alloc', undefined, t]]);
  const done = (id: bigint, t: number): ListJob => job(id, [SUBMIT, ['validate'], ['depend'], ['priority', { priority: 16 }], ['alloc', undefined, 2], ['finish', { status: 0 }, 3], ['clean', undefined, t]]);
  const list = [done(1n, 50), run(2n, 20), pend(3n, 16), done(4n, 60), pend(5n, 31), run(6n, 30)];
  assert.deepEqual(list.sort(listOrder).map((j) => j.id), [5n, 3n, 6n, 2n, 4n, 1n]);
});

test('constraints: userid, states, results, name, and/or/not', () => {
  const d = job(1n, [SUBMIT, ['validate'], ['depend'], ['priority', { priority: 16 }], ['exception', { type: 'cancel', severity: 0, note: '' }], ['clean']]);
  const p = job(2n, [SUBMIT, ['validate']]);
  assert.ok(matches(d, { userid: [1000] }));
  assert.ok(!matches(d, { userid: [0] }));
  assert.ok(matches(d, { userid: [0xffffffff] }));
  assert.ok(matches(p, { states: [2 | 4 | 8] }));
  assert.ok(!matches(d, { states: ['pending'] }));
  assert.ok(matches(d, { results: ['canceled'] }));
  assert.ok(matches(d, { and: [{ userid: [1000] }, { or: [{ states: [14] }, { results: [4] }] }] }));
  assert.ok(matches(p, { not: [{ states: [64] }] }));
  assert.ok(matches(p, { name: ['sleep'] }));
  assert.throws(() => matches(p, { bogus: [1] }), /unknown constraint operator/);
});
