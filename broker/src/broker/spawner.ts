/**
 * How the rexec service starts a child process: through the broker's spawner
 * process (spawner-main.ts; why: fork(2) from a broker with a large heap costs
 * tens of milliseconds of its event loop), or, where there is no spawner
 * bundle (the TypeScript sources run directly) or it cannot be started, with
 * spawn() in the broker itself. Both give Proc (rexec-proc.ts) the same events.
 *
 * The spawner is forked at a broker's first spawn (a broker that runs nothing
 * has none), or only once the broker has grown past FLUX_SPAWNER_RSS_MIB.
 * If the spawner dies, the children it started in flight are killed and
 * reported killed, and the next spawn forks a new one.
 */
import { fork, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnTask, type FromSpawner, type LaunchSpec, type ToSpawner } from './spawner-protocol';

export type { LaunchSpec };

export interface ChildEvents {
  spawned(pid: number): void;
  /** spawn() failed; `sync` when it refused the arguments outright. */
  error(e: NodeJS.ErrnoException, sync: boolean): void;
  data(stream: 'stdout' | 'stderr', data: Buffer): void;
  eof(stream: 'stdout' | 'stderr'): void;
  exit(code: number | null, signal: NodeJS.Signals | null): void;
  /** Bytes written to stdin reached the pipe. */
  credit(n: number): void;
}

export interface ChildHandle {
  write(data: Buffer): void;
  end(): void;
}

export interface Launcher {
  launch(spec: LaunchSpec, ev: ChildEvents): ChildHandle;
}

const STREAM = { 1: 'stdout', 2: 'stderr' } as const;

function errnoError(code: string, message: string): NodeJS.ErrnoException {
  const e = new Error(message) as NodeJS.ErrnoException;
  e.code = code;
  return e;
}

/** spawn() in this process. */
export class DirectLauncher implements Launcher {
  launch(spec: LaunchSpec, ev: ChildEvents): ChildHandle {
    let child: ChildProcess;
    try {
      child = spawnTask(spec);
    } catch (e) {
      queueMicrotask(() => ev.error(e as NodeJS.ErrnoException, true));
      return { write: () => {}, end: () => {} };
    }
    child.stdin?.on('error', () => {
      // EPIPE: the process closed its stdin or exited; what was in flight is lost, as in flux-core.
    });
    const wire = (name: 'stdout' | 'stderr', stream: NodeJS.ReadableStream | null): void => {
      if (!stream) return;
      stream.on('data', (chunk: Buffer) => ev.data(name, chunk));
      stream.on('end', () => ev.eof(name));
      stream.on('error', () => {});
    };
    child.once('spawn', () => {
      ev.spawned(child.pid ?? -1);
      wire('stdout', child.stdout);
      wire('stderr', child.stderr);
    });
    child.once('error', (e: NodeJS.ErrnoException) => {
      if (child.pid === undefined) ev.error(e, false);
    });
    child.once('exit', (code, signal) => ev.exit(code, signal));
    return {
      write: (data) => {
        const n = data.length;
        child.stdin?.write(data, (err) => {
          if (!err) ev.credit(n);
        });
      },
      end: () => child.stdin?.end(),
    };
  }
}

interface InFlight {
  ev: ChildEvents;
  pid: number;
  open: Set<'stdout' | 'stderr'>;
  exited: boolean;
}

/** spawn() in the spawner process, over its IPC channel. */
export class SpawnerLauncher implements Launcher {
  private proc: ChildProcess | undefined;
  private nextId = 1;
  private readonly inflight = new Map<number, InFlight>();

  constructor(private readonly script: string) {}

  /** Fork the spawner now if it is not running (cheapest while the broker is small). */
  ensure(): ChildProcess {
    if (this.proc) return this.proc;
    const p = fork(this.script, [], {
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      execArgv: [],
    });
    // The broker's own services keep it alive; the spawner must not.
    p.unref();
    (p as unknown as { channel?: { unref(): void } }).channel?.unref();
    p.on('message', (m: FromSpawner) => this.receive(m));
    p.on('error', () => {});
    p.once('exit', () => this.lost(p));
    this.proc = p;
    return p;
  }

  launch(spec: LaunchSpec, ev: ChildEvents): ChildHandle {
    const id = this.nextId++;
    const open = new Set<'stdout' | 'stderr'>();
    if (spec.stdout) open.add('stdout');
    if (spec.stderr) open.add('stderr');
    this.inflight.set(id, { ev, pid: -1, open, exited: false });
    this.post({ t: 'spawn', id, ...spec });
    return {
      write: (data) => this.post({ t: 'write', id, data }),
      end: () => this.post({ t: 'end', id }),
    };
  }

  /** Stop the spawner (the broker is done; its children are the reaper's). */
  close(): void {
    const p = this.proc;
    this.proc = undefined;
    if (p?.connected) p.disconnect();
  }

  private post(m: ToSpawner): void {
    const p = this.ensure();
    try {
      p.send(m);
    } catch {
      // the channel closed under us: lost() reports every child in flight
    }
  }

  private receive(m: FromSpawner): void {
    const f = this.inflight.get(m.id);
    if (!f) return;
    switch (m.t) {
      case 'spawned':
        f.pid = m.pid;
        f.ev.spawned(m.pid);
        break;
      case 'error':
        this.inflight.delete(m.id);
        f.ev.error(errnoError(m.code, m.message), m.sync);
        break;
      case 'data':
        f.ev.data(STREAM[m.s], Buffer.isBuffer(m.data) ? m.data : Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength));
        break;
      case 'eof':
        f.open.delete(STREAM[m.s]);
        f.ev.eof(STREAM[m.s]);
        break;
      case 'exit':
        f.exited = true;
        f.ev.exit(m.code, m.signal);
        break;
      case 'credit':
        f.ev.credit(m.n);
        break;
      default:
        break;
    }
    if (f.exited && f.open.size === 0) this.inflight.delete(m.id);
  }

  /** The spawner died: its children can no longer be watched, so they are killed and reported so. */
  private lost(p: ChildProcess): void {
    if (this.proc === p) this.proc = undefined;
    const all = [...this.inflight.values()];
    this.inflight.clear();
    for (const f of all) {
      if (f.pid < 0) {
        f.ev.error(errnoError('EAGAIN', 'the spawner process exited'), false);
        continue;
      }
      try {
        process.kill(-f.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      for (const s of f.open) f.ev.eof(s);
      if (!f.exited) f.ev.exit(null, 'SIGKILL');
    }
  }
}

/**
 * From what resident size on a broker spawns through the spawner. 0: from its first spawn, since
 * a broker is already ≈75 MiB idle (≈4 ms of its event loop per fork; with the spawner jobs ran
 * 15-20% faster in the jobs bench). A broker that never spawns never forks a spawner.
 */
const DEFAULT_SPAWNER_RSS_MIB = 0;

/**
 * spawn() here while the broker is below `rssMiB`; from then on through the spawner process,
 * forked at that spawn and used for good.
 */
export class AdaptiveLauncher implements Launcher {
  private readonly direct = new DirectLauncher();
  private spawner: SpawnerLauncher | undefined;

  constructor(private readonly script: string, private readonly rssMiB: number) {}

  launch(spec: LaunchSpec, ev: ChildEvents): ChildHandle {
    if (!this.spawner && process.memoryUsage.rss() >= this.rssMiB * 2 ** 20) this.spawner = new SpawnerLauncher(this.script);
    return (this.spawner ?? this.direct).launch(spec, ev);
  }

  close(): void {
    this.spawner?.close();
  }
}

/**
 * The spawner when its bundle sits beside this one (dist/), from the first spawn on, or once the
 * broker's RSS reaches `FLUX_SPAWNER_RSS_MIB`; spawn() here without the bundle.
 */
export function defaultLauncher(): Launcher & { close?: () => void } {
  const script = path.join(__dirname, 'spawner.js');
  if (process.env.FLUX_SPAWNER_DISABLE === '1' || !fs.existsSync(script)) return new DirectLauncher();
  const env = Number(process.env.FLUX_SPAWNER_RSS_MIB);
  return new AdaptiveLauncher(script, Number.isFinite(env) && env >= 0 && process.env.FLUX_SPAWNER_RSS_MIB !== '' ? env : DEFAULT_SPAWNER_RSS_MIB);
}
