/**
 * The resource graph panel (`Flux: Show Resource Graph`): the scheduler's containment graph drawn
 * live in a webview (webviews/resources), fed by ResourcesFeed, with drained and offline nodes,
 * Drain… / Undrain on a node (handed to the `flux.resources.drain` / `undrain` commands), and the
 * placement preview of one jobspec document at a time. One panel at a time; it follows the
 * instance through stop, restart and attach, and comes back after a window reload.
 */
import { encode } from 'msgpack-lite';
import * as vscode from 'vscode';
import type { PlacementPreview, ResourceSnapshot, ResourcesFromView, ResourcesToView } from '../../../webviews/common/protocol';
import { FeedPanel, type FeedPanelDeps } from './feed-panel';
import { ResourcesFeed, type PreviewRequest } from './resources-feed';
import { PreviewSession, type PreviewInput } from './resources-preview';
import { panelHtml, panelOptions } from './webview-html';

export const RESOURCES_VIEW_TYPE = 'flux.resources';

export interface ResourcesPanelDeps extends FeedPanelDeps {
  /** Show a job (from a vertex it holds). */
  showJob(id: string): void;
}

/** What the panel shows, in figures (for the API and tests). */
export interface ResourcesSummary {
  source: string;
  vertices: number;
  /** Allocated leaves. */
  allocated: number;
  /** Drained and offline ranks as `resource.status` says (absent where it is not served). */
  drained?: number[];
  offline?: number[];
  /** The placement preview on show: its kind, how many vertices it highlights, and its words. */
  preview?: { kind: PlacementPreview['kind']; vertices: number; message: string; source: string };
}

export class ResourcesPanel extends FeedPanel<ResourcesToView, ResourcesFromView, ResourcesFeed> {
  private static current: ResourcesPanel | undefined;
  private last: ResourcesSummary | undefined;
  private session: PreviewSession | undefined;
  /** The jobspec being previewed (handed to each new feed), undefined when none or it does not parse. */
  private previewReq: PreviewRequest | undefined;
  private shownPreview: PlacementPreview | null = null;

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
  static currentSummary(): ResourcesSummary | undefined {
    const p = ResourcesPanel.current;
    if (!p?.last) return undefined;
    const pv = p.shownPreview;
    return { ...p.last, ...(pv ? { preview: { kind: pv.kind, vertices: pv.vertices.length, message: pv.message, source: pv.source } } : {}) };
  }

  /** The resources changed here (a drain, an undrain): the open panel's feed reads them again. */
  static changed(): void {
    ResourcesPanel.current?.feed?.changed();
  }

  /** Open (or reveal) the panel and preview where `doc`'s jobspec would be placed, following its edits. */
  static previewDocument(deps: ResourcesPanelDeps, doc: vscode.TextDocument): ResourcesPanel {
    const p = ResourcesPanel.show(deps);
    p.startPreview(doc);
    return p;
  }

  /** Stop the open panel's preview (the Clear button, or the palette). */
  static clearPreview(): void {
    ResourcesPanel.current?.endPreview();
  }

  private constructor(panel: vscode.WebviewPanel, private readonly deps: ResourcesPanelDeps) {
    super(panel, deps, 'resources');
    panel.webview.html = panelHtml(panel.webview, deps.extensionPath, 'resources', 'Flux Resources', `<div id="bar">
  <span id="summary">Reading the resources…</span>
  <label>Show <select id="depth" title="Fold the graph below this level"></select></label>
  <input id="search" type="search" placeholder="Search name, path or job" aria-label="Search vertices">
  <span class="legend"><span class="free">free</span><span class="allocated">allocated</span><span class="reserved">reserved</span><span class="down">down</span><span class="drained">drained</span><span class="offline">offline</span><span class="placed">placement</span></span>
  <button id="fit" title="Fit the graph (0)">Fit</button>
</div>
<div id="node-bar" class="subbar" hidden><span id="node-label" role="status"></span>
  <button id="drain" title="Drain this node: no new jobs are placed on it (flux resource drain)">Drain…</button>
  <button id="undrain" title="Return this node to service (flux resource undrain)">Undrain</button>
</div>
<div id="preview-bar" class="subbar" hidden><span id="preview-text" role="status"></span>
  <button id="preview-clear" title="Stop previewing this jobspec">Clear Preview</button>
</div>
<div id="message" hidden></div>
<canvas id="canvas" tabindex="0" role="img" aria-label="Resource graph"></canvas>
<div id="tip" hidden></div>`);
  }

  protected closed(): void {
    if (ResourcesPanel.current === this) ResourcesPanel.current = undefined;
    this.session?.dispose();
    this.session = undefined;
  }

  private startPreview(doc: vscode.TextDocument): void {
    if (this.session?.uri === doc.uri.toString()) {
      this.session.send();
      return;
    }
    this.session?.dispose();
    this.session = new PreviewSession(doc, (p) => this.previewInput(p), () => this.endPreview());
  }

  private previewInput(p: PreviewInput): void {
    if ('error' in p) {
      this.previewReq = undefined;
      this.feed?.setPreview(undefined);
      this.showPreview({ kind: 'error', vertices: [], message: p.error, source: p.source });
      return;
    }
    this.previewReq = p;
    if (this.feed) this.feed.setPreview(p);
    // No feed yet (the page is loading): makeFeed hands it the jobspec.
    else if (this.base.instance.state !== 'running') this.showPreview({ kind: 'error', vertices: [], message: 'No Flux instance is running: start or attach to one to preview placement.', source: p.source });
  }

  private endPreview(): void {
    this.session?.dispose();
    this.session = undefined;
    this.previewReq = undefined;
    this.feed?.setPreview(undefined);
    this.showPreview(null);
  }

  private showPreview(p: PlacementPreview | null): void {
    this.shownPreview = p;
    this.post({ type: 'preview', preview: p });
  }

  protected gone(reason: string): ResourcesToView {
    return { type: 'gone', reason };
  }

  protected onMessage(m: ResourcesFromView): void {
    if (m.type === 'job') this.deps.showJob(m.id);
    else if (m.type === 'drain') void vscode.commands.executeCommand('flux.resources.drain', { rank: m.rank });
    else if (m.type === 'undrain') void vscode.commands.executeCommand('flux.resources.undrain', { rank: m.rank });
    else if (m.type === 'clearPreview') this.endPreview();
  }

  private summarize(s: ResourceSnapshot): void {
    const inner = new Set(s.parent);
    this.last = {
      source: s.source, vertices: s.parent.length, allocated: s.state.filter((x, v) => x === 'allocated' && !inner.has(v)).length,
      ...(s.ranks ? { drained: Object.keys(s.ranks.drained).map(Number).sort((a, b) => a - b), offline: s.ranks.offline } : {}),
    };
  }

  protected makeFeed(uri: string): ResourcesFeed {
    const feed = new ResourcesFeed(uri, {
      snapshot: (s) => {
        this.summarize(s);
        this.post({ type: 'snapshot', data: Uint8Array.from(encode(s)) });
        // A preview the feed does not compute (the jobspec does not parse) survives a reload of the page.
        if (this.shownPreview && !this.previewReq) this.post({ type: 'preview', preview: this.shownPreview });
      },
      gone: (reason) => this.post({ type: 'gone', reason }),
      preview: (p) => this.showPreview(p),
    });
    // A new instance (restart, attach): the preview goes on against it.
    if (this.previewReq) feed.setPreview(this.previewReq);
    return feed;
  }
}
