/**
 * The resource graph page's two bars under the toolbar: the selected node (its rank, host and
 * condition, with Drain… and Undrain, which the extension carries out: the reason is asked in
 * VS Code), and the placement preview (what the scheduler says, with Clear Preview). Also the
 * canvas's `data-vscode-context`, which VS Code's own right-click menu on the webview reads (its
 * `webview/context` entries: Drain…, Undrain, Clear Placement Preview).
 */
import type { PlacementPreview, ResourcesFromView } from '../common/protocol';

export interface NodeInfo {
  rank: number;
  name: string;
  /** Drain state line ('' when in service). */
  condition: string;
  drained: boolean;
}

/** The little of the DOM the bars use (this file is type-checked with the extension, which has no DOM). */
export interface BarElement {
  hidden: boolean;
  textContent: string | null;
  className: string;
  disabled?: boolean;
  setAttribute(name: string, value: string): void;
  addEventListener(type: 'click', f: () => void): void;
}

export interface BarElements {
  canvas: BarElement;
  nodeBar: BarElement;
  nodeLabel: BarElement;
  drain: BarElement;
  undrain: BarElement;
  previewBar: BarElement;
  previewText: BarElement;
  previewClear: BarElement;
}

export class ActionBars {
  private node: NodeInfo | undefined;
  private hasPreview = false;

  constructor(private readonly el: BarElements, private readonly post: (m: ResourcesFromView) => void) {
    el.drain.addEventListener('click', () => this.drain());
    el.undrain.addEventListener('click', () => this.undrain());
    el.previewClear.addEventListener('click', () => this.post({ type: 'clearPreview' }));
  }

  drain(): void {
    if (this.node && !this.node.drained) this.post({ type: 'drain', rank: this.node.rank });
  }

  undrain(): void {
    if (this.node?.drained) this.post({ type: 'undrain', rank: this.node.rank });
  }

  /** The selected node (undefined: none): the bar says what it is and offers what applies. */
  select(n: NodeInfo | undefined): void {
    this.node = n;
    this.el.nodeBar.hidden = n === undefined;
    if (n) {
      this.el.nodeLabel.textContent = `${n.name} (rank ${n.rank})${n.condition ? ` — ${n.condition}` : ' — in service'}`;
      this.el.drain.disabled = n.drained;
      this.el.undrain.disabled = !n.drained;
    }
    this.setContext(n);
  }

  /** What VS Code's context menu on the canvas is about: the node under the pointer, else the selected one. */
  setContext(n: NodeInfo | undefined = this.node): void {
    const ctx: Record<string, unknown> = { preventDefaultContextMenuItems: true, fluxPreview: this.hasPreview };
    if (n) Object.assign(ctx, { webviewSection: 'node', fluxRank: n.rank, fluxDrained: n.drained });
    this.el.canvas.setAttribute('data-vscode-context', JSON.stringify(ctx));
  }

  preview(p: PlacementPreview | null): void {
    this.hasPreview = p !== null;
    this.el.previewBar.hidden = p === null;
    this.el.previewBar.className = `subbar ${p ? `preview-${p.kind}` : ''}`;
    this.el.previewText.textContent = p ? `${p.source}: ${p.message}` : '';
    this.setContext();
  }
}
