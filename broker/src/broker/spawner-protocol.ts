/**
 * Messages between a broker (spawner.ts) and its spawner process (spawner-main.ts), over
 * Node's IPC channel with `serialization: 'advanced'`. `id` is the broker's number for one
 * child; `s` is 1 for stdout, 2 for stderr. Also the one way either side spawns a task.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface LaunchSpec {
  file: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd?: string;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
}

/**
 * spawn() a task as flux-core runs subprocesses: in a process group of its own (a session, the
 * closest Node offers, which also keeps terminal signals away), unread streams to /dev/null.
 */
export function spawnTask(spec: LaunchSpec): ChildProcess {
  return spawn(spec.file, spec.args, {
    env: spec.env,
    cwd: spec.cwd,
    detached: true,
    stdio: [spec.stdin ? 'pipe' : 'ignore', spec.stdout ? 'pipe' : 'ignore', spec.stderr ? 'pipe' : 'ignore'],
  });
}

export type ToSpawner =
  | ({ t: 'spawn'; id: number } & LaunchSpec)
  | { t: 'write'; id: number; data: Buffer }
  | { t: 'end'; id: number };

export type FromSpawner =
  | { t: 'spawned'; id: number; pid: number }
  /** spawn() failed: `sync` when it threw (bad arguments), else its 'error' event (ENOENT, EACCES, bad cwd). */
  | { t: 'error'; id: number; code: string; message: string; sync: boolean }
  | { t: 'data'; id: number; s: 1 | 2; data: Buffer | Uint8Array }
  | { t: 'eof'; id: number; s: 1 | 2 }
  | { t: 'exit'; id: number; code: number | null; signal: NodeJS.Signals | null }
  /** That many bytes of stdin reached the child's pipe. */
  | { t: 'credit'; id: number; n: number };
