/**
 * A local Flux instance started from the extension: the bundled `flux start`
 * (dist/flux.js) forked with an IPC channel. It reports `{type:'run'}` once rank 0
 * is up; closing the channel (or the extension host dying) stops every broker.
 * No ZeroMQ here: the extension talks to rank 0 over its local socket.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { startFailure } from './instance-errors';

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

/** flux start's answer to `restart-ranks`: the ranks it started again, and every rank's pid. */
export interface RestartReply {
  ranks: number[];
  error?: string;
  pids: number[];
}

export class LocalInstance {
  private child: ChildProcess | undefined;
  private exited: Promise<number | null> | undefined;

  /** Fork the launcher and wait until rank 0 runs (or it fails, or `signal` aborts). */
  start(o: LocalInstanceOptions, signal?: AbortSignal): Promise<RunningInfo> {
    // A follower that dies (or is killed from the Brokers view) is lost, not the end of the
    // instance: only rank 0's exit ends it (flux start's default, "any", would stop it all).
    const args = ['start', `--test-size=${o.size}`, '--test-exit-mode=leader', '-S', `tbon.topo=${o.topology}`, '-S', 'broker.rc2_none=1'];
    for (const [k, v] of Object.entries(o.attrs ?? {})) args.push('-S', `${k}=${v}`);
    const child = fork(o.fluxJs, args, { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], execArgv: [] });
    this.child = child;
    // The brokers' errors, to say why a start failed (a statedir in use, a bad attribute...).
    const errors: string[] = [];
    const lines = (buf: Buffer): void => {
      for (const l of buf.toString('utf8').split('\n')) {
        if (!l.trim()) continue;
        o.onOutput?.(l);
        const m = /\.(?:err|crit|alert|emerg)\[\d+\]: (.*)$/.exec(l) ?? /^(flux-[a-z-]+: .*)$/.exec(l);
        if (m && errors.length < 50) errors.push(m[1]);
      }
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
      void this.exited!.then((code) => reject(new Error(startFailure(code, errors))));
    });
  }

  /**
   * Start brokers again (ranks that were killed or lost): flux start launches them with their
   * original arguments and they rejoin their parents. Ranks still running are left alone.
   */
  restartRanks(ranks: number[], timeoutMs = 10_000): Promise<RestartReply> {
    const child = this.child;
    if (!child?.connected) return Promise.reject(new Error('the instance is not running'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.off('message', onMsg);
        reject(new Error('flux start did not answer the restart request'));
      }, timeoutMs);
      const onMsg = (m: { type?: unknown } & Partial<RestartReply>): void => {
        if (m?.type !== 'restart-ranks') return;
        clearTimeout(timer);
        child.off('message', onMsg);
        if (m.error) reject(new Error(m.error));
        else resolve({ ranks: m.ranks ?? [], pids: m.pids ?? [] });
      };
      child.on('message', onMsg);
      child.send({ type: 'restart-ranks', ranks });
    });
  }

  /**
   * Leave the instance running after us (the window closes and flux.instance.stopWithWindow is
   * off): flux start stops watching our channel, then we let go of the process.
   */
  async detach(timeoutMs = 5000): Promise<void> {
    const child = this.child;
    if (!child?.connected) throw new Error('the instance is not running');
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('flux start did not answer the detach request')), timeoutMs);
      const onMsg = (m: { type?: unknown }): void => {
        if (m?.type !== 'detached') return;
        clearTimeout(timer);
        child.off('message', onMsg);
        resolve();
      };
      child.on('message', onMsg);
      child.send({ type: 'detach' });
    });
    child.stdout?.destroy();
    child.stderr?.destroy();
    child.disconnect();
    child.unref();
    this.child = undefined;
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
