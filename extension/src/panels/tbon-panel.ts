/**
 * The TBON panel (`Flux: Show TBON`): a webview drawing the overlay tree live (webviews/tbon),
 * fed by TbonFeed over the instance's local socket. One panel at a time; it follows the
 * instance through stop, restart and attach, and comes back after a window reload (serializer).
 */
import { encode } from 'msgpack-lite';
import * as vscode from 'vscode';
import type { TbonFromView, TbonToView } from '../../../webviews/common/protocol';
import { TbonFeed } from './tbon-feed';
import { FeedPanel, type FeedPanelDeps } from './feed-panel';
import { panelHtml, panelOptions } from './webview-html';

export const TBON_VIEW_TYPE = 'flux.tbon';

export interface TbonPanelDeps extends FeedPanelDeps {
  /** Reveal a rank in the Brokers view. */
  reveal(rank: number): void;
}


export class TbonPanel extends FeedPanel<TbonToView, TbonFromView, TbonFeed> {
  private static current: TbonPanel | undefined;
  /** What the panel shows now, per rank (for the extension's API and its tests). */
  private status: string[] = [];

  /** The open panel's rank states (subtree status as overlay.health says), if a panel is open. */
  static currentStatus(): string[] | undefined {
    return TbonPanel.current ? [...TbonPanel.current.status] : undefined;
  }

  /** Open the panel, or bring the open one forward; `rank` is shown selected. */
  static show(deps: TbonPanelDeps, rank?: number): TbonPanel {
    if (TbonPanel.current) {
      TbonPanel.current.panel.reveal();
    } else {
      const panel = vscode.window.createWebviewPanel(TBON_VIEW_TYPE, 'Flux TBON', vscode.ViewColumn.Active, panelOptions(deps.extensionPath));
      TbonPanel.current = new TbonPanel(panel, deps);
    }
    if (rank !== undefined) TbonPanel.current.post({ type: 'select', rank });
    return TbonPanel.current;
  }

  /** Bring a panel back after a reload of the window. */
  static registerSerializer(deps: TbonPanelDeps): vscode.Disposable {
    return vscode.window.registerWebviewPanelSerializer(TBON_VIEW_TYPE, {
      deserializeWebviewPanel: async (panel: vscode.WebviewPanel) => {
        panel.webview.options = panelOptions(deps.extensionPath);
        TbonPanel.current?.dispose();
        TbonPanel.current = new TbonPanel(panel, deps);
      },
    });
  }

  private constructor(panel: vscode.WebviewPanel, private readonly deps: TbonPanelDeps) {
    super(panel, deps, 'TBON');
    panel.webview.html = this.html();
  }

  protected closed(): void {
    if (TbonPanel.current === this) TbonPanel.current = undefined;
  }

  protected gone(reason: string): TbonToView {
    return { type: 'gone', reason };
  }

  protected onMessage(m: TbonFromView): void {
    if (m.type === 'reveal') {
      this.deps.reveal(m.rank);
    } else if (m.type === 'modules') {
      const feed = this.feed;
      if (!feed) return;
      feed.modules(m.rank).then(
        (modules) => this.post({ type: 'modules', rank: m.rank, modules }),
        (e: unknown) => this.post({ type: 'modules', rank: m.rank, modules: [], error: e instanceof Error ? e.message : String(e) }),
      );
    }
  }

  protected makeFeed(uri: string): TbonFeed {
    return new TbonFeed(uri, {
      snapshot: (s) => {
        this.status = [...s.status];
        this.post({ type: 'snapshot', data: Uint8Array.from(encode(s)) });
      },
      changes: (changes) => {
        for (const c of changes) this.status[c.rank] = c.status;
        this.post({ type: 'status', changes });
      },
      gone: (reason) => this.post({ type: 'gone', reason }),
    });
  }

  private html(): string {
    return panelHtml(this.panel.webview, this.deps.extensionPath, 'tbon', 'Flux TBON', `<div id="bar">
  <span id="summary">Reading the TBON…</span>
  <span class="legend"><span class="online">online</span><span class="degraded">subtree degraded</span><span class="lost">lost</span><span class="offline">offline</span></span>
  <button id="fit" title="Fit the tree (0)">Fit</button>
</div>
<div id="message" hidden></div>
<svg id="canvas" tabindex="0" role="img" aria-label="TBON" aria-describedby="help">
  <g id="viewport"><path id="links"></path><path id="leaf-links"></path><g id="nodes"></g></g>
</svg>
<div id="help" class="sr-only">Arrow keys move between ranks, Enter reveals the rank in the Brokers view, plus and minus zoom, 0 fits.</div>
<div id="live" class="sr-only" aria-live="polite"></div>
<div id="tip" hidden></div>`);
  }
}
