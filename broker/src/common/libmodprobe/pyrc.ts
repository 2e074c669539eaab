/**
 * `flux modprobe run FILE.py`: a flux-core style Python rc file, run by
 * python3 with our shim (broker/python/modprobe_shim.py). The shim reports
 * the file's `@task`s, runs its `setup(context)` — whose calls (load_modules,
 * remove_modules, setopt, set_alternative, attr_get, rpc) come here as JSON
 * lines — and then runs each task when the plan reaches it.
 */
import { spawn } from 'node:child_process';
import * as readline from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { FluxError } from '../libflux/errno';
import type { Modprobe } from './modprobe';
import { ModprobeError } from './solve';

interface TaskSpec {
  name: string;
  ranks?: string | null;
  before: string[];
  after: string[];
  requires: string[];
  needs: string[];
  needs_attrs: string[];
  needs_config: string[];
}

type ShimMessage = { op: string; [k: string]: unknown };

export interface PyRcOptions {
  shim: string;
  file: string;
  /** Sends an RPC to a given nodeid (context.rpc with nodeid). */
  callAt: (topic: string, payload: Record<string, unknown>, nodeid: number | undefined) => Promise<Record<string, unknown>>;
  env: NodeJS.ProcessEnv;
}

export async function runPythonRc(mp: Modprobe, o: PyRcOptions, showDeps: boolean): Promise<number> {
  const child = spawn('python3', [o.shim, o.file], { stdio: ['ignore', 'inherit', 'inherit', 'pipe', 'pipe'], env: o.env });
  const toShim = child.stdio[4] as Writable;
  const lines = readline.createInterface({ input: child.stdio[3] as Readable });
  const exited = new Promise<number>((resolve) => {
    child.once('error', (e) => {
      process.stderr.write(`flux-modprobe: python3: ${e.message}\n`);
      resolve(127);
    });
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
  const reply = (obj: Record<string, unknown>): void => {
    toShim.write(JSON.stringify(obj) + '\n');
  };

  const toLoad: string[] = [];
  const toRemove: string[] = [];
  let removeAll = false;
  let setupDone!: () => void;
  const setup = new Promise<void>((r) => (setupDone = r));
  let taskDone: ((err?: string) => void) | undefined;

  const handle = async (m: ShimMessage): Promise<void> => {
    switch (m.op) {
      case 'tasks':
        for (const t of m.tasks as TaskSpec[]) {
          mp.planner.addTask({
            name: t.name, kind: 'task', ranks: t.ranks ?? undefined, before: t.before, after: t.after,
            requires: t.requires, needs: t.needs, needsAttrs: t.needs_attrs, needsConfig: t.needs_config,
          });
        }
        return reply({});
      case 'setup_done':
        reply({});
        setupDone();
        return;
      case 'load_modules':
        toLoad.push(...(m.names as string[]));
        return reply({});
      case 'remove_modules':
        if (m.all === true) removeAll = true;
        toRemove.push(...(m.names as string[]));
        return reply({});
      case 'setopt': {
        const e = mp.cfg.entries.get(String(m.module)) ?? (mp.planner.resolve(String(m.module))?.entry);
        if (!e) return reply({ error: `setopt: no such module: ${String(m.module)}`, errno: 2 });
        e.args = [...e.args, String(m.option)];
        return reply({});
      }
      case 'set_alternative':
        mp.cfg.alternatives.set(String(m.name), String(m.module));
        return reply({});
      case 'attr_get':
        return reply({ result: (await mp.attrGet(String(m.name))) ?? null });
      case 'rpc':
        try {
          const nodeid = typeof m.nodeid === 'number' ? m.nodeid : undefined;
          return reply({ result: await o.callAt(String(m.topic), (m.payload ?? {}) as Record<string, unknown>, nodeid) });
        } catch (e) {
          return reply({ error: e instanceof Error ? e.message : String(e), errno: e instanceof FluxError ? e.errnum : 0 });
        }
      case 'done':
        taskDone?.();
        return;
      case 'failed':
        taskDone?.(String(m.error));
        return;
      default:
        return reply({ error: `unknown request ${m.op}`, errno: 22 });
    }
  };
  lines.on('line', (line) => {
    let m: ShimMessage;
    try {
      m = JSON.parse(line) as ShimMessage;
    } catch {
      return;
    }
    void handle(m);
  });

  const ended = await Promise.race([setup.then(() => undefined), exited]);
  if (ended !== undefined) return ended === 0 ? 1 : ended; // the file failed before setup finished

  // Tasks run one at a time in the shim (it is single-threaded); modules load in parallel.
  let queue = Promise.resolve();
  const runTask = (name: string): Promise<void> => {
    const turn = queue.then(() => new Promise<void>((resolve, reject) => {
      taskDone = (err) => {
        taskDone = undefined;
        if (err) reject(new ModprobeError(err));
        else resolve();
      };
      reply({ op: 'run', name });
    }));
    queue = turn.catch(() => {});
    return turn;
  };
  let rc: number;
  try {
    if (showDeps) {
      const plan = await mp.planFor(toLoad, toRemove, removeAll);
      process.stdout.write(JSON.stringify(Object.fromEntries(plan)) + '\n');
      rc = 0;
    } else {
      rc = await mp.runFile(toLoad, toRemove, removeAll, runTask);
    }
  } finally {
    reply({ op: 'exit' });
    toShim.end();
  }
  await exited;
  return rc;
}
