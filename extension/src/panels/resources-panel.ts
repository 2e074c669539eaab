/**
 * The resource graph panel (`Flux: Show Resource Graph`): the scheduler's containment graph drawn
 * live in a webview (webviews/resources), fed by ResourcesFeed. One panel at a time; it follows
 * the instance through stop, restart and attach, and comes back after a window reload.
 */
import { encode } from 'msgpack-lite';
import * as vscode from 'vscode';
import type { ResourcesFromView, ResourcesToView } from '../../../webviews/common/protocol';
import { FeedPanel, type FeedPanelDeps } from './feed-panel';
import { ResourcesFeed } from './resources-feed';
import { panelHtml, panelOptions } from './webview-html';

export const RESOURCES_VIEW_TYPE = 'flux.resources';

export interface ResourcesPanelDeps extends FeedPanelDeps {
  /** Show a job (from a vertex it holds). */
  showJob(id: string): void;
}

export class ResourcesPanel extends FeedPanel<ResourcesToView, ResourcesFromView, ResourcesFeed> {
  private static current: ResourcesPanel | undefined;
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

  private constructor(panel: vscode.WebviewPanel, private readonly deps: ResourcesPanelDeps) {
    super(panel, deps, 'resources');
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
  }

  protected closed(): void {
    if (ResourcesPanel.current === this) ResourcesPanel.current = undefined;
  }

  protected gone(reason: string): ResourcesToView {
    return { type: 'gone', reason };
  }

  protected onMessage(m: ResourcesFromView): void {
    if (m.type === 'job') this.deps.showJob(m.id);
  }

  protected makeFeed(uri: string): ResourcesFeed {
    return new ResourcesFeed(uri, {
      snapshot: (s) => {
        const inner = new Set(s.parent);
        this.last = { source: s.source, vertices: s.parent.length, allocated: s.state.filter((x, v) => x === 'allocated' && !inner.has(v)).length };
        this.post({ type: 'snapshot', data: Uint8Array.from(encode(s)) });
      },
      gone: (reason) => this.post({ type: 'gone', reason }),
    });
  }
}
