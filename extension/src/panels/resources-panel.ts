/**
 * The resource graph panel (`Flux: Show Resource Graph`): the scheduler's containment graph drawn
 * live in a webview (webviews/resources), fed by ResourcesFeed. One panel at a time; it follows
 * the instance through stop, restart and attach, and comes back after a window reload.
 */
import { encode } from 'msgpack-lite';
import * as vscode from 'vscode';
import type { ResourcesFromView, ResourcesToView } from '../../../webviews/common/protocol';
import type { InstanceManager } from '../instance/instance-manager';
import { ResourcesFeed } from './resources-feed';
import { panelHtml, panelOptions } from './webview-html';

export const RESOURCES_VIEW_TYPE = 'flux.resources';

export interface ResourcesPanelDeps {
  extensionPath: string;
  instance: InstanceManager;
  log: vscode.LogOutputChannel;
  /** Show a job (from a vertex it holds). */
  showJob(id: string): void;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export class ResourcesPanel implements vscode.Disposable {
  private static current: ResourcesPanel | undefined;
  private feed: ResourcesFeed | undefined;
  private readonly subs: vscode.Disposable[] = [];
  private ready = false;
  /** What the panel shows (vertex count and allocated leaves), for the API and tests. */
  private last: { source: string; vertices: number; allocated: number } | undefined;

  static show(deps: ResourcesPanelDeps): ResourcesPanel {
    if (ResourcesPanel.current) ResourcesPanel.current.panel.reveal();
    else {
      const panel = vscode.window.createWebviewPanel(RESOURCES_VIEW_TYPE, 'Flux Resources', vscode.ViewColumn.Active, panelOptions(deps.extensionPath));
      ResourcesPanel.current = new ResourcesPanel(panel, deps);
    }
    return ResourcesPanel.current;
  }

  static registerSerializer(deps: ResourcesPanelDeps): vscode.Disposable {
    return vscode.window.registerWebviewPanelSerializer(RESOURCES_VIEW_TYPE, {
      deserializeWebviewPanel: async (panel: vscode.WebviewPanel) => {
        panel.webview.options = panelOptions(deps.extensionPath);
        ResourcesPanel.current?.dispose();
        ResourcesPanel.current = new ResourcesPanel(panel, deps);
      },
    });
  }

  /** The open panel's last snapshot in figures, if a panel is open. */
  static currentSummary(): { source: string; vertices: number; allocated: number } | undefined {
    return ResourcesPanel.current?.last;
  }

  private constructor(private readonly panel: vscode.WebviewPanel, private readonly deps: ResourcesPanelDeps) {
    panel.webview.html = panelHtml(panel.webview, deps.extensionPath, 'resources', 'Flux Resources', `<div id="bar">
  <span id="summary">Reading the resources…</span>
  <label>Show <select id="depth" title="Fold the graph below this level"></select></label>
  <input id="search" type="search" placeholder="Search name, path or job" aria-label="Search vertices">
  <span class="legend"><span class="free">free</span><span class="allocated">allocated</span><span class="reserved">reserved</span><span class="down">down</span></span>
  <button id="fit" title="Fit the graph (0)">Fit</button>
</div>
<div id="message" hidden></div>
<canvas id="canvas" tabindex="0" role="img" aria-label="Resource graph"></canvas>
<div id="tip" hidden></div>`);
    this.subs.push(
      panel.onDidDispose(() => this.dispose()),
      panel.webview.onDidReceiveMessage((m: ResourcesFromView) => this.onMessage(m)),
      deps.instance.onDidChange((s) => {
        if (s === 'running') void this.connect();
        else if (s === 'stopped') this.disconnect('The instance is stopped. Start or attach to one to see its resources.');
      }),
    );
  }

  dispose(): void {
    if (ResourcesPanel.current === this) ResourcesPanel.current = undefined;
    this.feed?.stop();
    this.feed = undefined;
    for (const d of this.subs.splice(0)) d.dispose();
    this.panel.dispose();
  }

  private post(m: ResourcesToView): void {
    if (this.ready) void this.panel.webview.postMessage(m);
  }

  private onMessage(m: ResourcesFromView): void {
    if (m.type === 'ready') {
      this.ready = true;
      void this.connect();
    } else if (m.type === 'job') {
      this.deps.showJob(m.id);
    }
  }

  private async connect(): Promise<void> {
    this.feed?.stop();
    this.feed = undefined;
    const uri = this.deps.instance.state === 'running' ? this.deps.instance.uri : undefined;
    if (!this.ready) return;
    if (!uri) {
      this.post({ type: 'gone', reason: 'No Flux instance is running. Start or attach to one to see its resources.' });
      return;
    }
    const feed = new ResourcesFeed(uri, {
      snapshot: (s) => {
        const inner = new Set(s.parent);
        this.last = { source: s.source, vertices: s.parent.length, allocated: s.state.filter((x, v) => x === 'allocated' && !inner.has(v)).length };
        this.post({ type: 'snapshot', data: Uint8Array.from(encode(s)) });
      },
      gone: (reason) => this.post({ type: 'gone', reason }),
    });
    this.feed = feed;
    try {
      await feed.start();
    } catch (e) {
      if (this.feed !== feed) return;
      this.deps.log.error(`Resource graph: ${errorText(e)}`);
      this.post({ type: 'gone', reason: `Cannot read the resources: ${errorText(e)}` });
    }
  }

  private disconnect(reason: string): void {
    this.feed?.stop();
    this.feed = undefined;
    this.post({ type: 'gone', reason });
  }
}
