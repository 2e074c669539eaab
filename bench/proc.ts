/**
 * Child processes of the benchmark: bounded runs of `flux start` and friends, a
 * registry so that everything still running can be killed on the way out, a
 * per-run environment marker to find our own broker processes afterwards, and the
 * on-the-fly esbuild bundles of the bench-only helpers.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as esbuild from 'esbuild';
import { nowEpochMs } from './stats';

export const ROOT = path.resolve(__dirname, '..');
export const FLUX_JS = path.join(ROOT, 'dist/flux.js');
export const BROKER_JS = path.join(ROOT, 'dist/broker.js');
export const OUT_DIR = path.join(ROOT, 'out/bench');

/** Every process this bench starts (and so every broker) carries this in its environment. */
export const RUN_MARK = `bench-${process.pid}-${Date.now()}`;
export const RUN_MARK_VAR = 'FLUX_BENCH_RUN';

/** Environment for children: ours, minus anything that would load tsx into them, plus the marker. */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.FLUX_URI; // a bench run inside an instance must not leak it into the instances it starts
  if (env.NODE_OPTIONS?.includes('tsx')) delete env.NODE_OPTIONS;
  return { ...env, ...extra, [RUN_MARK_VAR]: RUN_MARK };
}

const live = new Set<ChildProcess>();
const cleanups = new Set<() => void>();

/** Register a synchronous clean-up (e.g. killing a detached process group) for killAll; returns its remover. */
export function atCleanup(fn: () => void): () => void {
  cleanups.add(fn);
  return () => cleanups.delete(fn);
}

/** SIGKILL every child still running (flux start's brokers follow through their IPC lifeline). */
export function killAll(): void {
  for (const fn of cleanups) {
    try {
      fn();
    } catch {
      // best effort
    }
  }
  cleanups.clear();
  for (const c of live) {
    try {
      c.kill('SIGKILL');
    } catch {
      // gone
    }
  }
  live.clear();
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Epoch ms right before spawn() and when the 'exit' event arrived. */
  spawnedAt: number;
  exitedAt: number;
  timedOut: boolean;
}

export interface Running {
  child: ChildProcess;
  /** Resolves once the process exited (killed with SIGKILL after the timeout). */
  done: Promise<RunResult>;
  /** Resolves with the first stdout line matching `re` (rejects at exit or timeout). */
  waitLine(re: RegExp, timeoutMs: number): Promise<RegExpExecArray>;
}

/** Start a process with piped stdio; it is SIGKILLed if still running after `timeoutMs`. */
export function start(cmd: string, args: string[], opts: { timeoutMs: number; env?: NodeJS.ProcessEnv; stdin?: 'pipe' | 'ignore' }): Running {
  let stdout = '';
  let stderr = '';
  let timedOut = false;
  const lineWaiters: { re: RegExp; resolve: (m: RegExpExecArray) => void; reject: (e: Error) => void }[] = [];
  const spawnedAt = nowEpochMs();
  const child = spawn(cmd, args, { cwd: ROOT, env: opts.env ?? childEnv(), stdio: [opts.stdin ?? 'ignore', 'pipe', 'pipe'] });
  live.add(child);
  child.stdout?.setEncoding('utf8');
  child.stderr?.setEncoding('utf8');
  child.stdout?.on('data', (s: string) => {
    stdout += s;
    for (const w of [...lineWaiters]) {
      const m = w.re.exec(stdout);
      if (m) {
        lineWaiters.splice(lineWaiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  });
  child.stderr?.on('data', (s: string) => {
    stderr += s;
  });
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, opts.timeoutMs);
  const done = new Promise<RunResult>((resolve) => {
    const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
      const exitedAt = nowEpochMs();
      clearTimeout(timer);
      live.delete(child);
      for (const w of lineWaiters.splice(0)) w.reject(new Error(`${path.basename(cmd)} exited before printing ${w.re}: ${stderr.trim().slice(-500)}`));
      // Let the pipes drain before handing stdout over.
      setImmediate(() => resolve({ code, signal, stdout, stderr, spawnedAt, exitedAt, timedOut }));
    };
    child.once('exit', finish);
    child.once('error', (e) => {
      stderr += String(e);
      finish(null, null);
    });
  });
  const waitLine = (re: RegExp, timeoutMs: number): Promise<RegExpExecArray> => {
    const m = re.exec(stdout);
    if (m) return Promise.resolve(m);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no line matching ${re} within ${timeoutMs} ms`)), timeoutMs);
      lineWaiters.push({
        re,
        resolve: (x) => {
          clearTimeout(t);
          resolve(x);
        },
        reject: (e) => {
          clearTimeout(t);
          reject(e);
        },
      });
    });
  };
  return { child, done, waitLine };
}

/** Run to completion (bounded by `timeoutMs`). */
export function run(cmd: string, args: string[], opts: { timeoutMs: number; env?: NodeJS.ProcessEnv }): Promise<RunResult> {
  return start(cmd, args, opts).done;
}

/** `node dist/flux.js start --test-size=N [-S tbon.topo=T] -- CMD...` arguments. */
export function fluxStartArgs(size: number, topo: string | undefined, command: string[]): string[] {
  const a = [FLUX_JS, 'start', `--test-size=${size}`];
  if (topo) a.push('-S', `tbon.topo=${topo}`);
  return [...a, '--', ...command];
}

/**
 * Broker pids: all of them, and those that carry this run's marker. Brokers name
 * themselves `flux-broker-R` (process.title), which replaces their command line;
 * until they do, it still names dist/broker.js.
 */
export function brokerPids(): { all: number[]; ours: number[] } {
  let out: string;
  try {
    out = execFileSync('pgrep', ['-f', 'flux-broker-[0-9]+|dist/broker\\.js'], { encoding: 'utf8' });
  } catch {
    return { all: [], ours: [] }; // pgrep exits 1 when nothing matches
  }
  const all = out.split('\n').filter(Boolean).map(Number).filter((p) => p !== process.pid);
  const ours = all.filter((pid) => {
    try {
      return fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`${RUN_MARK_VAR}=${RUN_MARK}`);
    } catch {
      return false; // exited meanwhile, or not ours to read
    }
  });
  return { all, ours };
}

/** Wait (bounded) for this run's brokers to be gone; returns the ones still there. */
export async function waitNoBrokers(timeoutMs: number): Promise<{ all: number[]; ours: number[] }> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const p = brokerPids();
    if (p.ours.length === 0 || Date.now() >= until) return p;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Bundle a bench-only TypeScript entry into out/bench/NAME.js (vscode/zeromq/mocha external). */
export async function bundle(entry: string, name: string): Promise<string> {
  const outfile = path.join(OUT_DIR, `${name}.js`);
  await esbuild.build({
    entryPoints: [path.join(ROOT, entry)],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    logLevel: 'warning',
    external: ['vscode', 'zeromq', 'mocha'],
  });
  return outfile;
}
