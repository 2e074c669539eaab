/** Real broker trees for integration tests: spawn the built CLI, wait, and clean up. */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '../..');
export const FLUX = path.join(ROOT, 'dist', 'flux.js');

if (!fs.existsSync(FLUX)) throw new Error('dist/flux.js is missing: run `npm run build` first');

export interface Result {
  stdout: string;
  stderr: string;
  status: number | null;
}

/** Where `flux` (the built CLI) is, for PATH in shell lines. */
export const BIN = path.join(ROOT, 'dist', 'bin');

/** Run a child to its exit, collecting its output; stdin is `input` (or /dev/null). */
function collect(file: string, args: string[], what: string, o: { env: NodeJS.ProcessEnv; cwd?: string; input?: Buffer | string; timeoutMs: number }): Promise<Result> {
  return new Promise((resolve, reject) => {
    const c = spawn(file, args, { env: o.env, cwd: o.cwd, stdio: [o.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    c.stdout!.on('data', (d: Buffer) => out.push(d));
    c.stderr!.on('data', (d: Buffer) => err.push(d));
    if (o.input !== undefined) {
      c.stdin?.on('error', () => {});
      c.stdin?.end(o.input);
    }
    const t = setTimeout(() => {
      c.kill('SIGKILL');
      reject(new Error(`${what}: timed out`));
    }, o.timeoutMs);
    c.on('exit', (status) => {
      clearTimeout(t);
      resolve({ stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString(), status });
    });
  });
}

/** Run `flux ARGS...` to completion. */
export function flux(args: string[], env: NodeJS.ProcessEnv = process.env, timeoutMs = 60_000): Promise<Result> {
  return collect(process.execPath, [FLUX, ...args], `flux ${args.join(' ')}`, { env, timeoutMs });
}

/** Run a shell line to completion with `flux` first on PATH, in `env` (usually an instance's). */
export function shell(line: string, env: NodeJS.ProcessEnv, o: { cwd?: string; input?: Buffer | string; timeoutMs?: number } = {}): Promise<Result> {
  return collect('/bin/sh', ['-c', line], line, { env: { ...env, PATH: `${BIN}:${process.env.PATH ?? ''}` }, cwd: o.cwd, input: o.input, timeoutMs: o.timeoutMs ?? 60_000 });
}

export interface Instance {
  uri: string;
  rundir: string;
  pids: number[];
  launcher: ChildProcess;
  env: NodeJS.ProcessEnv;
  /** Stop it (SIGTERM to flux start) and wait for every process to be gone. */
  stop(): Promise<number | null>;
}

/** A persistent instance (no initial program), as the extension runs one. */
export function startInstance(size: number, attrs: string[] = [], startOptions: string[] = []): Promise<Instance> {
  const args = ['start', `--test-size=${size}`, ...startOptions, '-S', 'broker.rc2_none=1'];
  for (const a of attrs) args.push('-S', a);
  const launcher = fork(FLUX, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise<number | null>((res) => launcher.once('exit', (code) => res(code)));
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      launcher.kill('SIGKILL');
      reject(new Error('instance did not come up in 30 s'));
    }, 30_000);
    void exited.then((code) => reject(new Error(`flux start exited early (${code})`)));
    launcher.on('message', (m: { type: string; uri: string; rundir: string; pids: number[] }) => {
      if (m.type !== 'run') return;
      clearTimeout(t);
      resolve({
        uri: m.uri,
        rundir: m.rundir,
        pids: m.pids,
        launcher,
        env: { ...process.env, FLUX_URI: m.uri },
        stop: async () => {
          launcher.kill('SIGTERM');
          const code = await exited;
          await waitGone(m.pids);
          return code;
        },
      });
    });
  });
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Wait (bounded) until none of `pids` exists; reject naming the survivors. */
export async function waitGone(pids: number[], ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (pids.every((p) => !alive(p))) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  const left = pids.filter(alive);
  if (left.length) throw new Error(`processes left behind: ${left.join(' ')}`);
}
