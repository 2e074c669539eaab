/**
 * A local Flux instance started from the extension: the bundled `flux start`
 * (dist/flux.js) forked with an IPC channel. It reports `{type:'run'}` once rank 0
 * is up; closing the channel (or the extension host dying) stops every broker.
 * No ZeroMQ here: the extension talks to rank 0 over its local socket.
 */
import { fork, type ChildProcess } from 'node:child_process';

export interface LocalInstanceOptions {
  fluxJs: string;
  size: number;
  topology: string;
  /** Extra `-S NAME=VALUE` broker attributes. */
  attrs?: Record<string, string>;
  /** Lines the launcher and brokers print (errors mostly). */
  onOutput?: (line: string) => void;
}

export interface RunningInfo {
  uri: string;
  rundir: string;
  pids: number[];
}

type LauncherMessage = { type: 'run'; uri: string; rundir: string; pids: number[] };

export class LocalInstance {
  private child: ChildProcess | undefined;
  private exited: Promise<number | null> | undefined;

  /** Fork the launcher and wait until rank 0 runs (or it fails, or `signal` aborts). */
  start(o: LocalInstanceOptions, signal?: AbortSignal): Promise<RunningInfo> {
    const args = ['start', `--test-size=${o.size}`, '-S', `tbon.topo=${o.topology}`, '-S', 'broker.rc2_none=1'];
    for (const [k, v] of Object.entries(o.attrs ?? {})) args.push('-S', `${k}=${v}`);
    const child = fork(o.fluxJs, args, { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], execArgv: [] });
    this.child = child;
    const lines = (buf: Buffer): void => {
      for (const l of buf.toString('utf8').split('\n')) if (l.trim()) o.onOutput?.(l);
    };
    child.stdout?.on('data', lines);
    child.stderr?.on('data', lines);
    this.exited = new Promise((resolve) => child.once('exit', (code, sig) => resolve(code ?? (sig ? null : 0))));
    return new Promise<RunningInfo>((resolve, reject) => {
      const onAbort = (): void => {
        reject(new Error('Start of the Flux instance was canceled.'));
        void this.stop();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      child.on('message', (m: LauncherMessage) => {
        if (m?.type !== 'run') return;
        signal?.removeEventListener('abort', onAbort);
        resolve({ uri: m.uri, rundir: m.rundir, pids: m.pids });
      });
      child.once('error', (e) => reject(e));
      void this.exited!.then((code) => reject(new Error(`flux start exited with status ${code ?? 'signal'} before the instance was up`)));
    });
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Called when the launcher exits on its own (the instance ended). */
  onExit(cb: (code: number | null) => void): void {
    void this.exited?.then(cb);
  }

  /** Stop the instance; resolves when `flux start` (and with it every broker) has exited. */
  async stop(timeoutMs = 15_000): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    try {
      await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}
