/**
 * The scheduler's jobspec counts (flux-core src/common/libjob/jj.c, current
 * version: unknown resource types ignored, node count multiplied down the
 * tree). Messages VERIFIED against jj.c and jansson's json_unpack texts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jjGetCounts, jobspecFromCommandLine } from '../../broker/src/common/libjob/jobspec';
import { FluxError } from '../../broker/src/common/libflux/errno';

function js(resources: unknown, duration: unknown = 0): Record<string, unknown> {
  return { version: 1, resources, tasks: [], attributes: { system: { duration } } };
}
const core = (n: number): Record<string, unknown> => ({ type: 'core', count: n });
const slot = (n: number, w: unknown[]): Record<string, unknown> => ({ type: 'slot', count: n, label: 'task', with: w });

function jjError(doc: unknown): string {
  try {
    jjGetCounts(doc);
  } catch (err) {
    assert.ok(err instanceof FluxError);
    assert.equal(err.errnum, 22);
    return err.message;
  }
  return assert.fail('expected an error');
}

test('counts of the shapes flux run builds', () => {
  const run = (o: Record<string, unknown>) =>
    jjGetCounts(jobspecFromCommandLine({ command: ['x'], processCwd: '/', environ: {}, ...o }).jobspec);
  assert.deepEqual(run({ ntasks: 4 }), { nnodes: 0, nslots: 4, slot_size: 1, slot_gpus: 0, exclusive: false, duration: 0 });
  assert.deepEqual(run({ ntasks: 4, coresPerTask: 2, gpusPerTask: 1 }), { nnodes: 0, nslots: 4, slot_size: 2, slot_gpus: 1, exclusive: false, duration: 0 });
  // -N2 -n5: node[2] > slot[3] > core[1] gives 6 slots (uneven split wastes one)
  assert.deepEqual(run({ ntasks: 5, nodes: 2 }), { nnodes: 2, nslots: 6, slot_size: 1, slot_gpus: 0, exclusive: false, duration: 0 });
  assert.deepEqual(run({ nodes: 2, timeLimit: '1m' }), { nnodes: 2, nslots: 2, slot_size: 1, slot_gpus: 0, exclusive: true, duration: 60 });
});

test('nested node counts multiply; unknown types are ignored', () => {
  const doc = js([{ type: 'cluster', count: 2, with: [{ type: 'node', count: 3, with: [slot(2, [core(4), { type: 'memory', count: 8 }])] }] }], 3600);
  assert.deepEqual(jjGetCounts(doc), { nnodes: 6, nslots: 12, slot_size: 4, slot_gpus: 0, exclusive: false, duration: 3600 });
});

test('jj.c errors (VERIFIED texts)', () => {
  assert.equal(jjError(js([core(1)])), 'Unable to determine slot count');
  assert.equal(jjError(js([slot(1, [{ type: 'gpu', count: 1 }])])), 'Unable to determine slot size');
  assert.equal(jjError(js([slot(0, [core(1)])])), "Invalid count 0 for type 'slot'");
  assert.equal(jjError(js([slot(2, [core(-3)])])), "Invalid count -3 for type 'core'");
  assert.equal(jjError(js({})), 'level 0: must be an array');
  assert.equal(jjError(js([{ type: 'slot', count: 1, with: 5 }])), 'level 1: must be an array');
  assert.equal(jjError(js([5])), 'level 0: Expected object, got integer');
  assert.equal(jjError(js([{ count: 1 }])), 'level 0: Object item not found: type');
  assert.equal(jjError(js([{ type: 1, count: 1 }])), 'level 0: Expected string, got integer');
  assert.equal(jjError(js([slot(1, [{ type: 'core' }])])), 'level 1: Object item not found: count');
  assert.equal(jjError(js([slot(1, [{ type: 'core', count: 1.5 }])])), 'level 1: Expected integer, got real');
  assert.equal(jjError(js([slot(1, [{ type: 'core', count: '2' }])])), 'level 1: Expected integer, got string');
  assert.equal(jjError(js([{ type: 'node', count: 1, exclusive: 1 }])), 'level 0: Expected true or false, got integer');
  assert.equal(jjError({ resources: [] }), 'at top level: Object item not found: version');
  assert.equal(jjError({ version: 1 }), 'at top level: Object item not found: resources');
  assert.equal(jjError({ version: 1.5, resources: [] }), 'at top level: Expected integer, got real');
  assert.equal(jjError({ version: 1, resources: [] }), 'at top level: getting duration: Object item not found: attributes');
  assert.equal(jjError({ version: 1, resources: [], attributes: { system: {} } }), 'at top level: getting duration: Object item not found: duration');
  assert.equal(jjError(js([slot(1, [core(1)])], '1h')), 'at top level: getting duration: Expected real or integer, got string');
  assert.equal(jjError([]), 'at top level: Expected object, got array');
});
