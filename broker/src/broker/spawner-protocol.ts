/**
 * Messages between a broker (spawner.ts) and its spawner process (spawner-main.ts), over
 * Node's IPC channel with `serialization: 'advanced'`. `id` is the broker's number for one
 * child; `s` is 1 for stdout, 2 for stderr.
 */
export type ToSpawner =
  | { t: 'spawn'; id: number; file: string; args: string[]; env: NodeJS.ProcessEnv; cwd?: string; stdin: boolean; stdout: boolean; stderr: boolean }
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
