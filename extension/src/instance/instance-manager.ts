/**
 * The one owner of "the instance": its state, its client handle, and the only
 * place start/stop happen. Views and the status bar listen to onDidChange.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { Flux } from '../../../broker/src/common/libflux/handle';
import { LocalInstance, type RunningInfo } from './local-instance';

export type InstanceState = 'stopped' | 'starting' | 'running' | 'stopping';

export interface StartResult {
  uri: string;
  size: number;
}

export class InstanceManager implements vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<InstanceState>();
  readonly onDidChange = this.changed.event;
  private _state: InstanceState = 'stopped';
  private local: LocalInstance | undefined;
  private info: RunningInfo | undefined;
  private size = 0;
  private handle: Flux | undefined;
  private starting: Promise<StartResult> | undefined;
  private stopping: Promise<void> | undefined;

  constructor(private readonly extensionPath: string, private readonly log: vscode.LogOutputChannel) {}

  get state(): InstanceState {
    return this._state;
  }

  get uri(): string | undefined {
    return this.info?.uri;
  }

  get brokerPids(): number[] {
    return this.info?.pids ?? [];
  }

  get instanceSize(): number {
    return this.size;
  }

  /** The client handle on rank 0, while running. */
  get flux(): Flux | undefined {
    return this.handle;
  }

  private setState(s: InstanceState): void {
    this._state = s;
    void vscode.commands.executeCommand('setContext', 'flux.instance.running', s === 'running');
    this.changed.fire(s);
  }

  /** Start a local instance, or return the running one (idempotent). */
  start(): Promise<StartResult> {
    if (this._state === 'running' && this.info) return Promise.resolve({ uri: this.info.uri, size: this.size });
    if (this.starting) return this.starting;
    this.starting = this.doStart().finally(() => (this.starting = undefined));
    return this.starting;
  }

  private async doStart(): Promise<StartResult> {
    if (this.stopping) await this.stopping;
    const cfg = vscode.workspace.getConfiguration('flux.instance');
    const size = cfg.get<number>('size', 4);
    const topology = cfg.get<string>('topology', 'kary:2');
    this.setState('starting');
    const local = new LocalInstance();
    this.local = local;
    try {
      const info = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Starting Flux instance (${size} brokers, ${topology})`, cancellable: true },
        async (_p, token) => {
          const ac = new AbortController();
          token.onCancellationRequested(() => ac.abort());
          const started = await local.start(
            { fluxJs: path.join(this.extensionPath, 'dist', 'flux.js'), size, topology, onOutput: (l) => this.log.info(l) },
            ac.signal,
          );
          this.handle = await Flux.open(started.uri);
          return started;
        },
      );
      this.info = info;
      this.size = size;
      this.log.info(`instance up: ${size} brokers, ${topology}, ${info.uri}`);
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

  private reset(): void {
    this.handle?.close();
    this.handle = undefined;
    this.info = undefined;
    this.local = undefined;
    this.setState('stopped');
  }

  /** Stop the instance; resolves when every broker process has exited. */
  stop(): Promise<void> {
    if (this.stopping) return this.stopping;
    const local = this.local;
    if (!local) return Promise.resolve();
    this.setState('stopping');
    this.stopping = (async () => {
      this.handle?.close();
      this.handle = undefined;
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
