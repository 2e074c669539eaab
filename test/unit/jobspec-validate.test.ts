/**
 * Jobspec validation. Messages marked VERIFIED are the exact strings of
 * flux-core's validator (src/bindings/python/flux/job/Jobspec.py, run by
 * job-ingest's default "jobspec" validator plugin with --require-version=1);
 * INFERRED ones are ours where flux-core crashes or has no message.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  checkJobspec,
  formatJobspec,
  parseJobspecText,
  validateJobspec,
  JOBSPEC_VALIDATOR_ERRNUM,
  JobspecValidation,
  formatJsonPath,
} from '../../broker/src/common/libjob/jobspec';
import { FluxError } from '../../broker/src/common/libflux/errno';

const REF = path.resolve(__dirname, '../../../shared/reference/flux-core-behaviour');

// Fixtures are mutated freely into every kind of bad jobspec; a precise type would only get in the way.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = Record<string, any>;

function base(): Loose {
  return {
    resources: [{ type: 'slot', count: 2, with: [{ type: 'core', count: 1 }], label: 'task' }],
    tasks: [{ command: ['hostname'], slot: 'task', count: { per_slot: 1 } }],
    attributes: { system: { duration: 0 } },
    version: 1,
  };
}

function first(r: JobspecValidation): [string, (string | number)[]] {
  assert.equal(r.valid, false, 'expected the jobspec to be refused');
  return [r.errors[0].message, r.errors[0].path];
}

/** Every diagnostic must point at a node that exists, so the editor can place it. */
function assertPathsResolve(doc: unknown, r: JobspecValidation): void {
  for (const d of [...r.errors, ...r.warnings]) {
    let node: unknown = doc;
    for (const k of d.path) {
      assert.ok(typeof node === 'object' && node !== null && k in node, `path ${d.path.join('.')} of "${d.message}" resolves`);
      node = (node as Record<string | number, unknown>)[k];
    }
  }
}

/** Apply a change to a fresh valid jobspec and return flux-core's (first) message and its path. */
function refuse(change: (js: Loose) => void, opts = {}): [string, (string | number)[]] {
  const js = base();
  change(js);
  const r = validateJobspec(js, opts);
  assertPathsResolve(js, r);
  return first(r);
}

test('the recorded jobspecs of flux-core are valid and re-print byte for byte (VERIFIED job-info.txt, run-dry-run.txt)', () => {
  for (const file of ['job-info.txt', 'run-dry-run.txt']) {
    const line = fs.readFileSync(path.join(REF, file), 'utf8').split('\n').find((l) => l.startsWith('{"resources"'));
    assert.ok(line, file);
    const doc = parseJobspecText(line);
    const r = validateJobspec(doc);
    assert.deepEqual(r.errors, [], file);
    assert.deepEqual(r.warnings, [], file);
    assert.equal(formatJobspec(doc), line);
  }
  assert.equal(validateJobspec(base()).valid, true);
});

test('top-level keys (VERIFIED: Missing key before Extraneous key)', () => {
  assert.deepEqual(refuse((js) => delete js.tasks), ['Missing key (tasks)', []]);
  assert.deepEqual(refuse((js) => delete js.version), ['Missing key (version)', []]);
  assert.deepEqual(refuse((js) => (js.foo = 1)), ['Extraneous key (foo)', ['foo']]);
  // both reported; the missing one first, as _validate_keys checks it first
  const js = base();
  delete js.attributes;
  js.extra = true;
  const all = validateJobspec(js);
  assert.equal(all.errors[0].message, 'Missing key (attributes)');
  assert.ok(all.errors.some((e) => e.message === 'Extraneous key (extra)' && e.on === 'key' && e.path[0] === 'extra'));
  assert.deepEqual(first(validateJobspec([])), ['jobspec must be a mapping', []]); // INFERRED
});

test('version (VERIFIED)', () => {
  assert.deepEqual(refuse((js) => (js.version = 2)), ['version must be 1', ['version']]);
  assert.deepEqual(refuse((js) => (js.version = 'x'), { requireVersion: 'any' }), ['version must be an integer', ['version']]);
  assert.deepEqual(refuse((js) => (js.version = 0), { requireVersion: 'any' }), ['version must be >= 1', ['version']]);
  // --require-version=any with version 2: canonical rules only, no duration needed
  const js = base();
  js.version = 2;
  delete js.attributes.system;
  assert.equal(validateJobspec(js, { requireVersion: 'any' }).valid, true);
});

test('section types (VERIFIED)', () => {
  assert.deepEqual(refuse((js) => (js.resources = 5)), ['resources must be a sequence', ['resources']]);
  assert.deepEqual(refuse((js) => (js.tasks = {})), ['tasks must be a sequence', ['tasks']]);
  assert.deepEqual(refuse((js) => (js.attributes = [])), ['attributes must be a mapping', ['attributes']]);
  // Python: a str is a sequence, its characters are not mappings
  assert.deepEqual(refuse((js) => (js.resources = 'ab')), ['resource must be a mapping', ['resources']]);
  assert.deepEqual(refuse((js) => (js.tasks = 'x')), ['task must be a mapping', ['tasks']]);
});

test('resources: flux-core messages at the exact node (VERIFIED)', () => {
  assert.deepEqual(refuse((js) => (js.resources[0].with[0] = 3)), ['resource must be a mapping', ['resources', 0, 'with', 0]]);
  assert.deepEqual(refuse((js) => delete js.resources[0].type), ['type is a required key for resources', ['resources', 0]]);
  assert.deepEqual(refuse((js) => (js.resources[0].with[0].type = 7)), ['type must be a string', ['resources', 0, 'with', 0, 'type']]);
  assert.deepEqual(refuse((js) => delete js.resources[0].with[0].count), ['count is a required key for resources', ['resources', 0, 'with', 0]]);
  assert.deepEqual(refuse((js) => (js.resources[0].with[0].count = 0)), ['node, slot, or core count must be > 0', ['resources', 0, 'with', 0, 'count']]);
  assert.deepEqual(refuse((js) => (js.resources[0].count = -1)), ['node, slot, or core count must be > 0', ['resources', 0, 'count']]);
  assert.deepEqual(refuse((js) => js.resources[0].with.push({ type: 'gpu', count: -1 })), ['count must be >= 0', ['resources', 0, 'with', 1, 'count']]);
  assert.deepEqual(refuse((js) => (js.resources[0].count = [1])), ['count must be an int or mapping', ['resources', 0, 'count']]);
  assert.deepEqual(refuse((js) => (js.resources[0].count = 1.5)), ['count must be an int or mapping', ['resources', 0, 'count']]);
  assert.deepEqual(refuse((js) => (js.resources[0].label = 1)), ['label must be a string', ['resources', 0, 'label']]);
  assert.deepEqual(refuse((js) => (js.resources[0].unit = 1)), ['unit must be a string', ['resources', 0, 'unit']]);
  assert.deepEqual(refuse((js) => (js.resources[0].id = 1)), ['id must be a string', ['resources', 0, 'id']]);
  assert.deepEqual(refuse((js) => (js.resources[0].exclusive = 'yes')), ['exclusive must be a boolean', ['resources', 0, 'exclusive']]);
  assert.deepEqual(refuse((js) => delete js.resources[0].label), ['slots must have labels', ['resources', 0]]);
  assert.deepEqual(refuse((js) => (js.resources[0].with = 5)), ["'int' object is not iterable", ['resources', 0, 'with']]);
  // gpu count 0 is allowed (only node, slot and core need > 0); Python's 1 == True makes exclusive: 1 a boolean
  assert.equal(validateJobspec({ ...base(), resources: [{ type: 'slot', count: 1, label: 't', exclusive: 1, with: [{ type: 'core', count: 1 }, { type: 'gpu', count: 0 }] }] }).valid, true);
});

test('pre-order: a vertex is checked before its children, children before later siblings (VERIFIED order of Jobspec.__iter__)', () => {
  const js = base();
  js.resources = [
    { type: 'node', count: 1, with: [{ type: 'slot', count: 1, with: [{ type: 'core', count: 0 }] }] },
    { type: 'x' },
  ];
  const r = validateJobspec(js);
  assert.deepEqual(r.errors.map((e) => e.message).slice(0, 3), ['slots must have labels', 'node, slot, or core count must be > 0', 'count is a required key for resources']);
  assert.deepEqual(r.errors[1].path, ['resources', 0, 'with', 0, 'with', 0, 'count']);
});

test('RFC 14 range counts, canonical validation (VERIFIED)', () => {
  const canon = (count: unknown): JobspecValidation => {
    const js = base();
    js.version = 2;
    js.resources[0].with[0].count = count;
    return validateJobspec(js, { requireVersion: 'any' });
  };
  const msg = (count: unknown): string | undefined => canon(count).errors[0]?.message;
  assert.equal(msg({ min: 1 }), undefined);
  assert.equal(msg({ min: 2, max: 8, operator: '*', operand: 2 }), undefined);
  assert.equal(msg({ max: 2 }), 'min must be in range');
  assert.equal(msg({ min: 1, foo: 2 }), 'Extraneous key (foo)');
  assert.equal(msg({ min: 'a' }), 'min must be an int');
  assert.equal(msg({ min: 0 }), 'min must be > 0');
  assert.equal(msg({ min: 4, max: 2 }), 'max must be >= min');
  assert.equal(msg({ min: 1, operand: 2 }), 'operand and operator must both be in range if either is');
  assert.equal(msg({ min: 1, operand: 2, operator: '++' }), 'operator must be a single character str');
  assert.equal(msg({ min: 1, operand: 2, operator: '/' }), "operator must be one of ['+', '*', '^']");
  assert.equal(msg({ min: 2, operand: 1, operator: '*' }), "operand must be > 1 for '*' or '^' operator");
  assert.equal(msg({ min: 1, operand: 2, operator: '^' }), "min must be > 1 for '^' operator");
  assert.deepEqual(canon({ min: 1, max: 'x' }).errors[0].path, ['resources', 0, 'with', 0, 'count', 'max']);
  // strings: idsets and ranges
  for (const ok of ['1', '1-4', '2,4,6', '[1-3]', '2+', '2-8:2', '2+:2:*', '2-16:2:^']) assert.equal(msg(ok), undefined, ok);
  assert.equal(msg('abc'), 'count string must be a valid idset or range');
  assert.equal(msg('1:2:3:4'), 'count string must be a valid idset or range');
  assert.equal(msg('x+'), "invalid literal for int() with base 10: 'x'");
  assert.equal(msg('4-2:1'), 'max must be >= min');
  // version 1: every count must then be an integer
  const v1 = base();
  v1.resources[0].with[0].count = { min: 1 };
  assert.deepEqual(first(validateJobspec(v1)), ["resource count must be an integer for type 'core' (got 'dict')", ['resources', 0, 'with', 0, 'count']]);
  v1.resources[0].with[0].count = '1-2';
  assert.equal(first(validateJobspec(v1))[0], "resource count must be an integer for type 'core' (got 'str')");
});

test('tasks (VERIFIED)', () => {
  assert.deepEqual(refuse((js) => (js.tasks[0] = 'x')), ['task must be a mapping', ['tasks', 0]]);
  assert.deepEqual(refuse((js) => delete js.tasks[0].command), ['Missing key (command)', ['tasks', 0]]);
  assert.deepEqual(refuse((js) => (js.tasks[0].count = 1)), ['count must be a mapping', ['tasks', 0, 'count']]);
  assert.deepEqual(refuse((js) => (js.tasks[0].count = { per_slot: 1, total: 2 })), ['count must have exactly one key set', ['tasks', 0, 'count']]);
  assert.deepEqual(refuse((js) => (js.tasks[0].count = { foo: 1 })), ['count per_slot, per_resource, or total must be set', ['tasks', 0, 'count']]);
  assert.deepEqual(refuse((js) => (js.tasks[0].count = { total: 'a' })), ['count total must be an int', ['tasks', 0, 'count', 'total']]);
  assert.deepEqual(refuse((js) => (js.tasks[0].count = { total: 0 })), ['count total must be > 0', ['tasks', 0, 'count', 'total']]);
  assert.deepEqual(refuse((js) => (js.tasks[0].count = { per_slot: 1.5 })), ['count per_slot must be an int', ['tasks', 0, 'count', 'per_slot']]);
  assert.deepEqual(refuse((js) => (js.tasks[0].count = { per_slot: 0 })), ['count per_slot must be > 0', ['tasks', 0, 'count', 'per_slot']]);
  assert.deepEqual(refuse((js) => (js.tasks[0].slot = 1)), ['slot must be a string', ['tasks', 0, 'slot']]);
  assert.deepEqual(refuse((js) => (js.tasks[0].attributes = 1)), ['attributes must be a mapping', ['tasks', 0, 'attributes']]);
  assert.deepEqual(refuse((js) => (js.tasks[0].command = [])), ['command array cannot have length of zero', ['tasks', 0, 'command']]);
  assert.deepEqual(refuse((js) => (js.tasks[0].command = 'hostname')), ['command must be a list of strings', ['tasks', 0, 'command']]);
  assert.deepEqual(refuse((js) => (js.tasks[0].command = ['a', 1])), ['command must be a list of strings', ['tasks', 0, 'command']]);
  assert.deepEqual(refuse((js) => (js.tasks[0].command = 5)), ["object of type 'int' has no len()", ['tasks', 0, 'command']]);
  // v1 only: per_resource is canonical RFC 14 but not version 1
  assert.deepEqual(refuse((js) => (js.tasks[0].count = { per_resource: 1 })), ['count per_slot or total must be set', ['tasks', 0, 'count']]);
});

test('attributes (VERIFIED)', () => {
  assert.deepEqual(refuse((js) => (js.attributes.foo = {})), ['Extraneous key (foo)', ['attributes', 'foo']]);
  assert.deepEqual(refuse((js) => delete js.attributes.system), ['attributes.system is a required key', ['attributes']]);
  assert.deepEqual(refuse((js) => (js.attributes.system = [])), ['attributes.system must be a mapping', ['attributes', 'system']]);
  assert.deepEqual(refuse((js) => (js.attributes.system = 5)), ["argument of type 'int' is not iterable", ['attributes', 'system']]);
  assert.deepEqual(refuse((js) => delete js.attributes.system.duration), ['attributes.system.duration is a required key', ['attributes', 'system']]);
  // FSD strings are not accepted in jobspec: the CLI converts them to seconds
  assert.deepEqual(refuse((js) => (js.attributes.system.duration = '1h')), ['attributes.system.duration must be a number', ['attributes', 'system', 'duration']]);
  assert.deepEqual(refuse((js) => (js.attributes.system.dependencies = {})), ['attributes.system.dependencies must be a list', ['attributes', 'system', 'dependencies']]);
  assert.deepEqual(refuse((js) => (js.attributes.system.dependencies = [{ scheme: 'afterok' }])), ['Missing key (value)', ['attributes', 'system', 'dependencies', 0]]);
  assert.deepEqual(refuse((js) => (js.attributes.system.dependencies = [{ scheme: 1, value: 'x' }])), ['dependency scheme must be a string', ['attributes', 'system', 'dependencies', 0, 'scheme']]);
  assert.deepEqual(refuse((js) => (js.attributes.system.dependencies = [{ scheme: 'a', value: 2 }])), ['dependency value must be a string', ['attributes', 'system', 'dependencies', 0, 'value']]);
  assert.deepEqual(refuse((js) => (js.attributes.system.constraints = [])), ['constraints must be a mapping', ['attributes', 'system', 'constraints']]);
  assert.deepEqual(refuse((js) => (js.attributes.system.constraints = { foo: [] })), ["unknown constraint operator 'foo'", ['attributes', 'system', 'constraints', 'foo']]);
  assert.deepEqual(refuse((js) => (js.attributes.system.constraints = { properties: 1 })), ['argument to constraint properties must be a sequence', ['attributes', 'system', 'constraints', 'properties']]);
  assert.deepEqual(
    refuse((js) => (js.attributes.system.constraints = { and: [{ properties: ['a|b'] }] })),
    ["invalid character in property 'a|b'", ['attributes', 'system', 'constraints', 'and', 0, 'properties', 0]],
  );
  // user attributes are free-form; dependencies with extra keys are fine
  const ok = base();
  ok.attributes.user = { anything: [1, { x: null }] };
  ok.attributes.system.dependencies = [{ scheme: 'afterok', value: 'ƒ1', extra: 1 }];
  ok.attributes.system.constraints = { or: [{ properties: ['x'] }, { hostlist: ['h[1-2]'] }, { ranks: ['0-1'] }] };
  assert.deepEqual(validateJobspec(ok).errors, []);
});

test('warnings: unknown system attributes and shell options, slot references, RFC 25 shapes', () => {
  const js = base();
  js.attributes.system.frobnicate = 1;
  js.attributes.system.shell = { options: { rlimit: {}, nosuchopt: 1 } };
  js.tasks[0].slot = 'other';
  js.tasks[0].count = { per_slot: 2 };
  js.attributes.system.duration = -5;
  const r = validateJobspec(js);
  assert.equal(r.valid, true, 'warnings never invalidate');
  const w = r.warnings.map((x) => [x.message, x.path.join('.')]);
  assert.deepEqual(w.sort(), [
    ['RFC 25 requires count.per_slot to be 1', 'tasks.0.count.per_slot'],
    ['duration must not be negative', 'attributes.system.duration'],
    ["task slot 'other' does not name a slot label", 'tasks.0.slot'],
    ["unknown shell option 'nosuchopt'", 'attributes.system.shell.options.nosuchopt'],
    ["unknown system attribute 'frobnicate'", 'attributes.system.frobnicate'],
  ].sort());
});

test('collect-all: several independent problems are all reported, in flux-core order', () => {
  const js = base();
  js.resources[0].count = 0;
  js.tasks[0].command = [];
  delete js.attributes.system.duration;
  const r = validateJobspec(js);
  assert.deepEqual(r.errors.map((e) => e.message), [
    'node, slot, or core count must be > 0',
    'command array cannot have length of zero',
    'attributes.system.duration is a required key',
  ]);
});

test('checkJobspec throws job-ingest\'s error: validator errnum 1 and the first message', () => {
  const js = base();
  delete js.attributes.system.duration;
  assert.throws(() => checkJobspec(js), (e: unknown) => e instanceof FluxError && e.errnum === JOBSPEC_VALIDATOR_ERRNUM && e.message === 'attributes.system.duration is a required key');
  assert.doesNotThrow(() => checkJobspec(base()));
  assert.throws(() => parseJobspecText('{"version": 1,'), (e: unknown) => e instanceof FluxError && e.errnum === 22 && e.message.startsWith('jobspec: invalid JSON: '));
});

test('formatJsonPath', () => {
  assert.equal(formatJsonPath(['resources', 0, 'with', 1, 'count']), 'resources[0].with[1].count');
  assert.equal(formatJsonPath(['attributes', 'system', 'shell', 'options', 'per-resource']), 'attributes.system.shell.options["per-resource"]');
  assert.equal(formatJsonPath([]), '');
});
