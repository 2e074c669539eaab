// flux run/submit --output, --error, --input and -l with files (job-exec's job-io.ts) on a real
// instance: output lands in the files (templated paths), stderr follows stdout unless --error
// names its own, labels per task, stdin from a file, and without one flux run's own stdin (here
// /dev/null) is the task's, so a task reading it ends.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { flux, startInstance, type Instance } from './helpers';

let inst: Instance;
let dir: string;

before(async () => {
  inst = await startInstance(2);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flux-job-io-'));
});

after(async () => {
  await inst?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('--output with {{id}}: the job\'s stdout and stderr go to that file, not to the terminal', async () => {
  const r = await flux(['submit', '--wait', `--output=${dir}/job-{{id}}.out`, 'sh', '-c', 'echo out; echo err >&2'], inst.env);
  assert.equal(r.status, 0, r.stderr);
  const id = r.stdout.trim();
  const file = path.join(dir, `job-${id}.out`);
  assert.ok(fs.existsSync(file), `${file} missing (${fs.readdirSync(dir).join(',')})`);
  assert.deepEqual(fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).sort(), ['err', 'out']);
});

test('--error apart, -l labels every task\'s lines', async () => {
  const out = path.join(dir, 'l.out');
  const err = path.join(dir, 'l.err');
  const r = await flux(['run', '-n2', '-l', `--output=${out}`, `--error=${err}`, 'sh', '-c', 'echo o$FLUX_TASK_RANK; echo e$FLUX_TASK_RANK >&2'], inst.env);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, '', 'nothing on the terminal');
  assert.deepEqual(fs.readFileSync(out, 'utf8').split('\n').filter(Boolean).sort(), ['0: o0', '1: o1']);
  assert.deepEqual(fs.readFileSync(err, 'utf8').split('\n').filter(Boolean).sort(), ['0: e0', '1: e1']);
});

test('--input feeds every task; without it flux run forwards its stdin (/dev/null: end of file)', async () => {
  const inp = path.join(dir, 'in.txt');
  fs.writeFileSync(inp, 'line one\nline two\n');
  const r = await flux(['run', '-n2', `--input=${inp}`, 'cat'], inst.env);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.split('\n').filter((l) => l === 'line one').length, 2);
  const plain = await flux(['run', 'cat'], inst.env, 20_000);
  assert.equal(plain.status, 0, plain.stderr);
  assert.equal(plain.stdout, '');
});

test('flux submit --watch prints every job\'s output in submission order and exits with the largest code', async () => {
  const r = await flux(['submit', '--cc=1-3', '--watch', 'sh', '-c', 'echo job {cc}; exit {cc}'], inst.env);
  assert.equal(r.status, 3, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 6, r.stdout);
  assert.deepEqual(lines.slice(3), ['job 1', 'job 2', 'job 3']);
  assert.match(r.stderr, /task\(s\) exited with exit code 3/);
  const ok = await flux(['submit', '--quiet', '--watch', '-n2', '-l', 'echo', 'hi'], inst.env);
  assert.equal(ok.status, 0, ok.stderr);
  assert.deepEqual(ok.stdout.trim().split('\n').sort(), ['0: hi', '1: hi']);
});
