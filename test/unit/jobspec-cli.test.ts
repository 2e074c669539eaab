/**
 * jobspecFromCommandLine: the jobspec `flux run` builds. The dry-run text is
 * VERIFIED byte for byte against the flux-core 0.88 recording
 * (run-dry-run.txt); shapes and messages of other options are VERIFIED
 * against flux-core's Python (flux/job/Jobspec.py from_command/per_resource,
 * flux/cli/base.py jobspec_create); Python float output (300.0) INFERRED from
 * json.dumps semantics.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { filterEnvironment, jobspecFromCommandLine, CommandLineOptions, validateJobspec } from '../../broker/src/common/libjob/jobspec';
import { FluxError } from '../../broker/src/common/libflux/errno';

const REF = path.resolve(__dirname, '../../../shared/reference/flux-core-behaviour');

function build(o: Partial<CommandLineOptions>): { jobspec: Record<string, unknown>; text: string } {
  return jobspecFromCommandLine({ command: ['app'], processCwd: '/w', environ: {}, ...o });
}

function err(o: Partial<CommandLineOptions>): string {
  try {
    build(o);
  } catch (e) {
    assert.ok(e instanceof FluxError);
    assert.equal(e.errnum, 22);
    return e.message;
  }
  return assert.fail('expected an error');
}

test('flux run --dry-run -n4 hostname: byte for byte as recorded', () => {
  const lines = fs.readFileSync(path.join(REF, 'run-dry-run.txt'), 'utf8').split('\n');
  assert.equal(lines[0], '$ flux run --dry-run -n4 hostname');
  const recorded = lines[1];
  const sys = (JSON.parse(recorded) as { attributes: { system: { environment: Record<string, string>; cwd: string; shell: { options: { rlimit: Record<string, number> } } } } }).attributes.system;
  const out = jobspecFromCommandLine({
    command: ['hostname'],
    ntasks: '4',
    processCwd: sys.cwd,
    environ: sys.environment, // the recorded process environment, in its order
    rlimit: sys.shell.options.rlimit,
  });
  assert.equal(out.text, recorded);
  assert.equal(validateJobspec(out.jobspec).valid, true);
});

test('-N wraps the slot in a node; an uneven split uses a total count', () => {
  assert.equal(
    JSON.stringify(build({ ntasks: 4, nodes: 2 }).jobspec.resources),
    '[{"type":"node","count":2,"with":[{"type":"slot","count":2,"with":[{"type":"core","count":1}],"label":"task"}]}]',
  );
  assert.deepEqual((build({ ntasks: 4, nodes: 2 }).jobspec.tasks as unknown[])[0], { command: ['app'], slot: 'task', count: { per_slot: 1 } });
  const uneven = build({ ntasks: 5, nodes: 2 });
  assert.deepEqual((uneven.jobspec.tasks as { count: unknown }[])[0].count, { total: 5 });
  assert.match(uneven.text, /"type": "slot", "count": 3/);
  // -N alone: one task per node, nodes exclusive
  assert.equal(
    JSON.stringify(build({ nodes: 3 }).jobspec.resources),
    '[{"type":"node","count":3,"exclusive":true,"with":[{"type":"slot","count":1,"with":[{"type":"core","count":1}],"label":"task"}]}]',
  );
  // -x with -N
  assert.match(JSON.stringify(build({ ntasks: 2, nodes: 2, exclusive: true }).jobspec.resources), /"exclusive":true/);
});

test('-c and -g build the slot contents; -g0 adds no gpu', () => {
  assert.equal(
    JSON.stringify(build({ ntasks: 2, coresPerTask: 4, gpusPerTask: 1 }).jobspec.resources),
    '[{"type":"slot","count":2,"with":[{"type":"core","count":4},{"type":"gpu","count":1}],"label":"task"}]',
  );
  assert.doesNotMatch(JSON.stringify(build({ gpusPerTask: 0 }).jobspec.resources), /gpu/);
});

test('-t: minutes without units, FSD otherwise; written as Python floats', () => {
  assert.match(build({ timeLimit: '5' }).text, /"duration": 300\.0,/);
  assert.match(build({ timeLimit: '1.5' }).text, /"duration": 90\.0,/);
  assert.match(build({ timeLimit: '30s' }).text, /"duration": 30\.0,/);
  assert.match(build({ timeLimit: '2h' }).text, /"duration": 7200\.0,/);
  assert.match(build({}).text, /"duration": 0,/);
  assert.equal(err({ timeLimit: '-1' }), 'duration must not be negative');
  assert.equal(err({ timeLimit: 'inf' }), 'duration must be a normal, finite value');
});

test('attribute and shell option key order follows jobspec_create', () => {
  const { text } = build({
    ntasks: 1,
    environ: { HOME: '/root' },
    cwd: '/tmp',
    rlimit: { core: 0 },
    dependency: ['afterok:ƒ1'],
    timeLimit: '1m',
    jobName: 'jn',
    output: 'out.txt',
    labelIo: true,
    unbuffered: true,
    setopt: ['verbose', 'foo.bar="x"'],
    queue: 'batch',
    setattr: ['user.k=[1,2]', 'bank=b'],
  });
  const sys = (JSON.parse(text) as { attributes: { system: Record<string, unknown>; user: unknown } }).attributes;
  assert.deepEqual(Object.keys(sys.system), ['duration', 'environment', 'cwd', 'shell', 'dependencies', 'job', 'queue', 'bank']);
  assert.deepEqual(sys.user, { k: [1, 2] });
  assert.deepEqual(sys.system.dependencies, [{ scheme: 'afterok', value: 'ƒ1' }]);
  assert.deepEqual((sys.system.shell as { options: unknown }).options, {
    rlimit: { core: 0 },
    output: { stdout: { type: 'file', path: 'out.txt', label: true, buffer: { type: 'none' } }, stderr: { buffer: { type: 'none' } }, 'batch-timeout': 0.05 },
    verbose: 1,
    foo: { bar: 'x' },
  });
  assert.equal(sys.system.cwd, '/tmp');
  // --input with an idset is for flux job attach, not a file
  assert.doesNotMatch(build({ input: '0-1' }).text, /stdin/);
  assert.match(build({ input: 'in.txt' }).text, /"input": \{"stdin": \{"type": "file", "path": "in.txt"\}\}/);
});

test('per-resource options', () => {
  const a = build({ cores: 8, tasksPerNode: 2, nodes: 2 });
  assert.equal(
    JSON.stringify(a.jobspec.resources),
    '[{"type":"node","count":2,"with":[{"type":"slot","count":1,"with":[{"type":"core","count":4}],"label":"task"}]}]',
  );
  assert.deepEqual(Object.keys((a.jobspec.attributes as { system: object }).system), ['duration', 'shell', 'environment', 'cwd']);
  assert.match(a.text, /"per-resource": \{"type": "node", "count": 2\}/);
  assert.equal(JSON.stringify(build({ cores: 3 }).jobspec.resources), '[{"type":"slot","count":3,"with":[{"type":"core","count":1}],"label":"task"}]');
  assert.match(JSON.stringify(build({ nodes: 2, gpusPerNode: 4 }).jobspec.resources), /"exclusive":true.*\{"type":"gpu","count":4\}/);
});

test('flux-core error texts (VERIFIED in Jobspec.py / base.py)', () => {
  assert.equal(err({ command: [] }), 'job command and arguments are missing');
  assert.equal(err({ ntasks: 'x' }), "--ntasks: invalid int value 'x'");
  assert.equal(err({ coresPerTask: '1.5' }), "--cores-per-task: invalid int value '1.5'");
  assert.equal(err({ ntasks: 2, nodes: 3 }), 'node count must not be greater than task count');
  assert.equal(err({ exclusive: true }), 'exclusive can only be set with a node count');
  assert.equal(err({ ntasks: -2 }), 'task count must be a integer >= 1');
  assert.equal(err({ tasksPerNode: 1, tasksPerCore: 1 }), 'Do not specify both the number of tasks per node and per core');
  assert.equal(err({ tasksPerNode: 0 }), '--tasks-per-node must be >= 1');
  assert.equal(err({ gpusPerNode: 1 }), '--gpus-per-node requires --nodes');
  assert.equal(err({ cores: 4, ntasks: 2 }), "Per-resource options can't be used with per-task options. (See --help for details)");
  assert.equal(err({ cores: 3, nodes: 2 }), 'number of cores must be evenly divisible by node count');
  assert.equal(err({ cores: 1, nodes: 2 }), 'number of cores cannot be less than nnodes');
  assert.equal(err({ tasksPerCore: 2 }), 'must specify node or core count with per_resource');
  assert.equal(err({ dependency: [':x'] }), 'Invalid dependency URI ":x"');
  // -n0 is Python-falsy: one task
  assert.match(build({ ntasks: '0' }).text, /"type": "slot", "count": 1,/);
});

test('--env rules: remove by glob or regex, set with $VAR expansion, pull by pattern', () => {
  const environ = { PATH: '/bin', HOME: '/h', FOO_A: '1', FOO_B: '2', X: 'x' };
  assert.deepEqual(Object.keys(filterEnvironment(environ, ['-FOO_*'])), ['PATH', 'HOME', 'X']);
  assert.deepEqual(Object.keys(filterEnvironment(environ, ['-/^F/'])), ['PATH', 'HOME', 'X']);
  assert.deepEqual(filterEnvironment(environ, ['-*', 'FOO_*']), { FOO_A: '1', FOO_B: '2' });
  assert.equal(filterEnvironment(environ, ['PATH=/usr/bin', 'PATH=$PATH:/opt', 'Y=${X}y$$'])['PATH'], '/usr/bin:/opt');
  assert.equal(filterEnvironment(environ, ['Y=${X}y$$']).Y, 'xy$');
  assert.throws(() => filterEnvironment(environ, ['Y=$NOPE']), /--env: Variable 'NOPE' not found in Y=\$NOPE/);
  assert.deepEqual(filterEnvironment(environ, ['^f'], () => '-*\nZ=1\n'), { Z: '1' });
  // environment handed to the jobspec keeps the caller's order
  assert.deepEqual(Object.keys((build({ environ }).jobspec.attributes as { system: { environment: object } }).system.environment), Object.keys(environ));
});
