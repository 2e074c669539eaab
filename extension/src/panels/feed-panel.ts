/**
 * What the extension's live panels (TBON, resource graph) share: a webview that says `ready`,
 * a feed reading the instance over a connection of its own, started when the page is ready and
 * whenever an instance runs, stopped with the instance, the panel, or the window; and the words
 * for a panel without an instance. Subclasses build the page, the feed and handle their messages.
 */
import * as vscode from 'vscode';
import type { InstanceManager } from '../instance/instance-manager';

export interface Feed {
  start(): Promise<void>;
  stop(): void;
}

export interface FeedPanelDeps {
  extensionPath: string;
  instance: InstanceManager;
  log: vscode.LogOutputChannel;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export abstract class FeedPanel<ToView, FromView extends { type: string }, F extends Feed> implements vscode.Disposable {
  protected feed: F | undefined;
  private ready = false;
  private readonly subs: vscode.Disposable[] = [];

  /** `what` names the panel's subject in messages ("TBON", "resources"). */
  protected constructor(protected readonly panel: vscode.WebviewPanel, protected readonly base: FeedPanelDeps, private readonly what: string) {
    this.subs.push(
      panel.onDidDispose(() => this.dispose()),
      panel.webview.onDidReceiveMessage((m: FromView) => {
        if (m.type === 'ready') {
          this.ready = true;
          void this.connect();
        } else {
          this.onMessage(m);
        }
      }),
      base.instance.onDidChange((s) => {
        if (s === 'running') void this.connect();
        else if (s === 'stopped') this.disconnect(`The instance is stopped. Start or attach to one to see its ${this.what}.`);
      }),
    );
  }

  /** A message from the page other than `ready`. */
  protected abstract onMessage(m: FromView): void;
  /** The feed for the instance at `uri`, posting to the page. */
  protected abstract makeFeed(uri: string): F;
  /** The page's message saying it has nothing to show, and why. */
  protected abstract gone(reason: string): ToView;
  /** Called once the panel is gone (subclasses forget it). */
  protected abstract closed(): void;

  dispose(): void {
    this.closed();
    this.feed?.stop();
    this.feed = undefined;
    for (const d of this.subs.splice(0)) d.dispose();
    this.panel.dispose();
  }

  protected post(m: ToView): void {
    if (this.ready) void this.panel.webview.postMessage(m);
  }

  private async connect(): Promise<void> {
    this.feed?.stop();
    this.feed = undefined;
    const uri = this.base.instance.state === 'running' ? this.base.instance.uri : undefined;
    if (!this.ready) return;
    if (!uri) {
      this.post(this.gone(`No Flux instance is running. Start or attach to one to see its ${this.what}.`));
      return;
    }
    const feed = this.makeFeed(uri);
    this.feed = feed;
    try {
      await feed.start();
    } catch (e) {
      if (this.feed !== feed) return;
      this.base.log.error(`${this.what} view: ${errorText(e)}`);
      this.post(this.gone(`Cannot read the ${this.what}: ${errorText(e)}`));
    }
  }

  private disconnect(reason: string): void {
    this.feed?.stop();
    this.feed = undefined;
    this.post(this.gone(reason));
  }
}
