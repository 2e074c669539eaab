/**
 * The one owner of "the instance": its state, its client handle, and the only
 * place start/attach/stop happen. Views and the status bar listen to onDidChange.
 * An instance is either local (the bundled `flux start`, ours to stop) or attached
 * (someone else's, reached by local:// or ssh://; stopping only detaches).
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { Flux } from '../../../broker/src/common/libflux/handle';
import { attachFailure } from './instance-errors';
import { LocalInstance, type RunningInfo } from './local-instance';

export type InstanceState = 'stopped' | 'starting' | 'running' | 'stopping';
export type InstanceKind = 'local' | 'attached';

export interface StartResult {
  uri: string;
  size: number;
}

export class NoInstanceError extends Error {
  constructor() {
    super('No Flux instance is running (start one with "Flux: Start Local Instance" or attach to one)');
  }
}

/** Where a window leaves word of the instance it left running. */
const KEPT_KEY = 'flux.keptInstance';

interface KeptInstance {
  uri: string;
  /** flux start's pid: if it is gone, so is the instance. */
  pid: number;
}

export class InstanceManager implements vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<InstanceState>();
  readonly onDidChange = this.changed.event;
  private _state: InstanceState = 'stopped';
  private local: LocalInstance | undefined;
  private info: RunningInfo | undefined;
  private attachedUri: string | undefined;
  private size = 0;
  private _statedir: string | undefined;
  private _kind: InstanceKind | undefined;
  private handle: Flux | undefined;
  private starting: Promise<StartResult> | undefined;
  private stopping: Promise<void> | undefined;

  constructor(private readonly extensionPath: string, private readonly log: vscode.LogOutputChannel) {}

  get state(): InstanceState {
    return this._state;
  }

  get uri(): string | undefined {
    return this.info?.uri ?? this.attachedUri;
  }

  get brokerPids(): number[] {
    return this.info?.pids ?? [];
  }

  get instanceSize(): number {
    return this.size;
  }

  /** local (started here) or attached; undefined when stopped. */
  get kind(): InstanceKind | undefined {
    return this._kind;
  }

  /** Where the instance keeps its state (`statedir` attribute); undefined = lost at stop. */
  get statedir(): string | undefined {
    return this._statedir;
  }

  /** The client handle on rank 0, while running. */
  get flux(): Flux | undefined {
    return this.handle;
  }

  /** The handle, or a NoInstanceError for commands that need one. */
  requireFlux(): Flux {
    if (!this.handle || this._state !== 'running') throw new NoInstanceError();
    return this.handle;
  }

  /** The bundled `flux` command line (dist/flux.js). */
  get fluxJs(): string {
    return path.join(this.extensionPath, 'dist', 'flux.js');
  }

  private setState(s: InstanceState): void {
    this._state = s;
    void vscode.commands.executeCommand('setContext', 'flux.instance.running', s === 'running');
    void vscode.commands.executeCommand('setContext', 'flux.instance.kind', s === 'running' ? this._kind : undefined);
    this.changed.fire(s);
  }

  /** Start a local instance, or return the running one (idempotent). */
  start(): Promise<StartResult> {
    if (this._state === 'running' && this.uri) return Promise.resolve({ uri: this.uri, size: this.size });
    if (this.starting) return this.starting;
    this.starting = this.doStart().finally(() => (this.starting = undefined));
    return this.starting;
  }

  private async doStart(): Promise<StartResult> {
    if (this.stopping) await this.stopping;
    const cfg = vscode.workspace.getConfiguration('flux.instance');
    const size = cfg.get<number>('size', 4);
    const topology = cfg.get<string>('topology', 'kary:2');
    const statedir = cfg.get<string>('statedir', '').trim();
    const attrs: Record<string, string> = { ...cfg.get<Record<string, string>>('attributes', {}) };
    if (statedir) attrs.statedir = statedir;
    this._kind = 'local';
    this.setState('starting');
    const local = new LocalInstance();
    this.local = local;
    try {
      const info = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Starting Flux instance (${size} brokers, ${topology})`, cancellable: true },
        async (_p, token) => {
          const ac = new AbortController();
          token.onCancellationRequested(() => ac.abort());
          const started = await local.start({ fluxJs: this.fluxJs, size, topology, attrs, onOutput: (l) => this.log.info(l) }, ac.signal);
          this.handle = await Flux.open(started.uri);
          return started;
        },
      );
      this.info = info;
      this.size = size;
      this._statedir = statedir || undefined;
      this.log.info(`instance up: ${size} brokers, ${topology}, ${info.uri}${statedir ? `, statedir ${statedir}` : ''}`);
      this.handle?.onDisconnect(() => {
        if (this._state === 'running') void this.stop();
      });
      local.onExit((code) => {
        if (this.local === local && this._state !== 'stopping') {
          this.log.warn(`flux start exited (status ${code ?? 'signal'}): instance stopped`);
          this.reset();
        }
      });
      this.setState('running');
      return { uri: info.uri, size };
    } catch (e) {
      this.log.error(`start failed: ${e instanceof Error ? e.message : String(e)}`);
      await local.stop();
      this.reset();
      throw e;
    }
  }

  /**
   * Attach to a running instance (local:// or ssh://): whatever is open now is stopped or
   * detached first. Views then show that instance; stop only detaches.
   */
  async attach(uri: string): Promise<StartResult> {
    if (this.starting) await this.starting.catch(() => undefined);
    await this.stop();
    this._kind = 'attached';
    this.setState('starting');
    try {
      const h = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Attaching to ${uri}` },
        () => Flux.open(uri),
      );
      this.handle = h;
      this.size = Number(await h.getattr('size'));
      // State is kept when there is a statedir the broker does not clean up at exit.
      const [statedir, cleanup] = await Promise.all([h.getattrOptional('statedir'), h.getattrOptional('statedir-cleanup')]);
      this._statedir = statedir && cleanup !== '1' ? statedir : undefined;
      this.attachedUri = uri;
      h.onDisconnect((err) => {
        if (this.handle !== h) return;
        this.log.warn(`connection to ${uri} lost${err ? `: ${err.message}` : ''}`);
        this.reset();
      });
      this.log.info(`attached to ${uri}: ${this.size} brokers`);
      this.setState('running');
      return { uri, size: this.size };
    } catch (e) {
      const why = attachFailure(uri, e);
      this.log.error(`attach to ${uri} failed: ${why}`);
      this.reset();
      throw new Error(why, { cause: e });
    }
  }

  /**
   * Start brokers of the local instance again after they were killed or lost (they rejoin the
   * TBON); resolves to the ranks started. Attached instances are not ours to start brokers in.
   */
  async restartRanks(ranks: number[]): Promise<number[]> {
    if (this._kind !== 'local' || !this.local || this._state !== 'running') {
      throw new Error('Only brokers of a local instance started here can be restarted');
    }
    const reply = await this.local.restartRanks(ranks);
    if (this.info) this.info.pids = reply.pids;
    return reply.ranks;
  }

  /** Stop (local) and start again with the current settings. */
  async restart(): Promise<StartResult> {
    await this.stop();
    return this.start();
  }

  private reset(): void {
    const h = this.handle;
    this.handle = undefined;
    h?.close();
    this.info = undefined;
    this.attachedUri = undefined;
    this.local = undefined;
    this._statedir = undefined;
    this._kind = undefined;
    this.size = 0;
    this.setState('stopped');
  }

  /**
   * The window is closing: stop the local instance, or, with flux.instance.stopWithWindow off,
   * leave it running and remember it (the next window attaches to it).
   */
  async windowClosing(memory: vscode.Memento): Promise<void> {
    const keep = !vscode.workspace.getConfiguration('flux.instance').get<boolean>('stopWithWindow', true);
    const local = this.local;
    if (keep && local && this._state === 'running' && this.info) {
      const kept: KeptInstance = { uri: this.info.uri, pid: local.pid ?? -1 };
      try {
        await local.detach();
        await memory.update(KEPT_KEY, kept);
        this.log.info(`left the instance running for the next window: ${kept.uri}`);
        this.local = undefined;
        this.reset();
        return;
      } catch (e) {
        this.log.warn(`could not leave the instance running (${e instanceof Error ? e.message : String(e)}): stopping it`);
      }
    }
    await this.stop();
  }

  /** An instance an earlier window left running: attach to it if it is still there. */
  async reattach(memory: vscode.Memento): Promise<boolean> {
    const kept = memory.get<KeptInstance>(KEPT_KEY);
    if (!kept) return false;
    await memory.update(KEPT_KEY, undefined);
    try {
      if (kept.pid > 0) process.kill(kept.pid, 0);
    } catch {
      this.log.info(`the instance left running earlier (${kept.uri}) has ended`);
      return false;
    }
    await this.attach(kept.uri);
    this.log.info(`attached to the instance an earlier window left running: ${kept.uri} (flux shutdown, or Shut Down Instance, ends it)`);
    return true;
  }

  /** Stop the local instance (or detach); resolves when every broker process has exited. */
  stop(): Promise<void> {
    if (this.stopping) return this.stopping;
    const local = this.local;
    if (!local) {
      if (this.handle || this._state !== 'stopped') {
        this.log.info(`detached from ${this.attachedUri ?? 'instance'}`);
        this.reset();
      }
      return Promise.resolve();
    }
    this.setState('stopping');
    this.stopping = (async () => {
      const h = this.handle;
      this.handle = undefined;
      h?.close();
      await local.stop();
      this.log.info('instance stopped');
      this.reset();
    })().finally(() => (this.stopping = undefined));
    return this.stopping;
  }

  dispose(): void {
    void this.stop();
    this.changed.dispose();
  }
}
