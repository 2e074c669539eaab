// stdin of `flux run` / `flux job attach` (cmd/job-stdin.ts → the job shell service's `.stdin`
// → job-exec's job-stdin.ts) on a real instance: a pipe reaches every task, `--input=RANKS`
// picks tasks (the others get end of file), several MB flow intact, end of file closes the
// tasks' stdin, and a job submitted without anyone attached waits for an attach's stdin.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { FLUX, flux, startInstance, type Instance, type Result } from './helpers';

let inst: Instance;

before(async () => {
  inst = await startInstance(2);
});

after(async () => {
  await inst?.stop();
});

/** `flux ARGS` with `input` on its stdin (stdout kept as bytes). */
function fluxIn(args: string[], input: Buffer | string, timeoutMs = 60_000): Promise<Result & { out: Buffer }> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [FLUX, ...args], { env: inst.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => out.push(d));
    c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const t = setTimeout(() => {
      c.kill('SIGKILL');
      reject(new Error(`flux ${args.join(' ')}: timed out`));
    }, timeoutMs);
    c.on('exit', (status) => {
      clearTimeout(t);
      const buf = Buffer.concat(out);
      resolve({ stdout: buf.toString(), out: buf, stderr, status });
    });
    c.stdin.on('error', () => undefined);
    c.stdin.end(input);
  });
}

test('echo hello | flux run cat prints hello; every task gets the pipe', async () => {
  const r = await fluxIn(['run', 'cat'], 'hello\n');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'hello\n');
  const two = await fluxIn(['run', '-n2', '-l', 'cat'], 'a\nb\n');
  assert.equal(two.status, 0, two.stderr);
  assert.deepEqual(two.stdout.split('\n').filter(Boolean).sort(), ['0: a', '0: b', '1: a', '1: b']);
});

test('--input=RANKS: only those tasks read the data, the others get end of file; ranks beyond the job are dropped with a warning', async () => {
  const r = await fluxIn(['run', '-n3', '--input=1', '-l', 'sh', '-c', 'cat; echo done'], 'x\n');
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stdout.split('\n').filter(Boolean).sort(), ['0: done', '1: done', '1: x', '2: done']);
  const adj = await fluxIn(['run', '-n2', '--input=1-5', '-l', 'cat'], 'y\n');
  assert.equal(adj.status, 0, adj.stderr);
  assert.equal(adj.stdout, '1: y\n');
  assert.match(adj.stderr, /flux-job: warning: adjusting --stdin-ranks from 1-5 to 1/);
});

test('several MB of stdin reach each task intact (credits, no loss)', async () => {
  const data = Buffer.from(randomBytes(3 * 1024 * 1024).toString('base64'));
  const md5 = createHash('md5').update(data).digest('hex');
  const r = await fluxIn(['run', '-n2', '-l', 'md5sum'], data, 120_000);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stdout.split('\n').filter(Boolean).sort(), [`0: ${md5}  -`, `1: ${md5}  -`]);
});

test('a submitted job\'s stdin waits for flux job attach; its end of file ends the task', async () => {
  const sub = await flux(['submit', 'sh', '-c', 'read line; echo got:$line'], inst.env);
  assert.equal(sub.status, 0, sub.stderr);
  const id = sub.stdout.trim();
  await flux(['job', 'wait-event', '-t', '15', id, 'start'], inst.env);
  const r = await fluxIn(['job', 'attach', id], 'late\n');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'got:late\n');
  // -r: no stdin read; the job still ends (end of file from nobody is not needed for true)
  const ro = await fluxIn(['job', 'attach', '-r', id], 'ignored\n');
  assert.equal(ro.status, 0, ro.stderr);
  assert.equal(ro.stdout, 'got:late\n');
});

test('--input=FILE: the file is the job\'s stdin, the terminal\'s is left alone', async () => {
  const r = await fluxIn(['run', '--input=/dev/null', 'cat'], 'not forwarded\n');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, '');
});
