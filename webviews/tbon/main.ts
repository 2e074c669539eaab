/**
 * The TBON panel's page: draws the overlay tree the extension sends (a msgpack snapshot, then
 * status changes), colours ranks by state, shows a rank's host, state and modules on hover,
 * and asks the extension to reveal a rank in the Brokers view on click or Enter. Pan by
 * dragging or with the arrow keys, zoom with the wheel or +/-, 0 fits the tree. DOM only: no
 * remote loads, no inline script (the CSP allows this file by nonce).
 */
import { decode } from 'msgpack-lite';
import type { SubtreeStatus, TbonFromView, TbonSnapshot, TbonToView, TbonViewState } from '../common/protocol';
import { rankStateOf } from '../common/protocol';
import { layoutTbon, type Layout } from './layout';
import { panZoom, zoomAround } from '../common/panzoom';

interface VsCodeApi {
  postMessage(m: TbonFromView): void;
  getState(): TbonViewState | undefined;
  setState(s: TbonViewState): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
const SVG = 'http://www.w3.org/2000/svg';

const svg = document.getElementById('canvas') as unknown as SVGSVGElement;
const viewport = document.getElementById('viewport') as unknown as SVGGElement;
const linksEl = document.getElementById('links') as unknown as SVGPathElement;
const leafLinksEl = document.getElementById('leaf-links') as unknown as SVGPathElement;
const nodesEl = document.getElementById('nodes') as unknown as SVGGElement;
const summaryEl = document.getElementById('summary') as HTMLElement;
const tipEl = document.getElementById('tip') as HTMLElement;
const liveEl = document.getElementById('live') as HTMLElement;
const messageEl = document.getElementById('message') as HTMLElement;

let snap: TbonSnapshot | undefined;
let layout: Layout | undefined;
let nodeEls: SVGGElement[] = [];
let children: number[][] = [];
const view: TbonViewState = vscode.getState() ?? { scale: 0, tx: 0, ty: 0 };
const modulesOf = new Map<number, string>();
let hovered: number | undefined;

function el<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

function saveState(): void {
  vscode.setState(view);
}

function applyView(): void {
  viewport.setAttribute('transform', `translate(${view.tx},${view.ty}) scale(${view.scale})`);
  // Rank numbers only once they have room to be read.
  const roomy = layout !== undefined && layout.spacing * view.scale >= 18;
  svg.classList.toggle('labels', roomy);
  if (layout) {
    // Zoomed out over a big tree a rank would shrink below a pixel: keep dots visible, and ranks
    // that are down larger still, so one lost rank among a thousand stands out.
    const base = layout.spacing * 0.34;
    const r = Math.max(base, Math.min(2.2 / view.scale, layout.spacing * 0.48));
    nodesEl.style.setProperty('--r', `${r.toFixed(2)}px`);
    nodesEl.style.setProperty('--r-down', `${Math.max(base * 1.15, 6 / view.scale).toFixed(2)}px`);
    // Below a few pixels apart the outlines would hide the dots, and the links to the leaves
    // would grey out the whole disc: a ring of colour reads better until one zooms in.
    svg.classList.toggle('far', layout.spacing * view.scale < 6);
  }
}

function fit(): void {
  if (!layout) return;
  const w = svg.clientWidth || 800;
  const h = svg.clientHeight || 600;
  const pad = layout.spacing;
  const bw = layout.maxX - layout.minX + 2 * pad;
  const bh = layout.maxY - layout.minY + 2 * pad;
  view.scale = Math.min(2, w / bw, h / bh);
  view.tx = (w - (layout.maxX + layout.minX) * view.scale) / 2;
  view.ty = (h - (layout.maxY + layout.minY) * view.scale) / 2;
  applyView();
  saveState();
}

function zoomAt(factor: number, cx: number, cy: number): void {
  zoomAround(view, factor, cx, cy, 0.02, 8);
  applyView();
  saveState();
}

function statusText(s: SubtreeStatus): string {
  const own = rankStateOf(s);
  return own === 'online' && s !== 'full' ? `online (subtree ${s})` : own;
}

function render(): void {
  if (!snap) return;
  const parents = snap.parents;
  layout = layoutTbon(parents);
  children = parents.map(() => [] as number[]);
  parents.forEach((p, r) => {
    if (p >= 0) children[p].push(r);
  });
  let d = '';
  let leafD = '';
  for (let r = 0; r < parents.length; r++) {
    const p = parents[r];
    if (p < 0) continue;
    const seg = `M${layout.x[p].toFixed(1)},${layout.y[p].toFixed(1)}L${layout.x[r].toFixed(1)},${layout.y[r].toFixed(1)}`;
    if (children[r].length > 0) d += seg;
    else leafD += seg;
  }
  linksEl.setAttribute('d', d);
  leafLinksEl.setAttribute('d', leafD);
  const frag = document.createDocumentFragment();
  nodeEls = parents.map((_, r) => {
    const g = el('g', { transform: `translate(${layout!.x[r].toFixed(1)},${layout!.y[r].toFixed(1)})`, 'data-rank': r });
    g.appendChild(el('circle', {}));
    const t = el('text', { 'text-anchor': 'middle', dy: '0.35em' });
    t.textContent = String(r);
    g.appendChild(t);
    frag.appendChild(g);
    return g;
  });
  nodesEl.replaceChildren(frag);
  svg.classList.toggle('radial', layout.mode === 'radial');
  for (let r = 0; r < parents.length; r++) paint(r);
  summarize();
  messageEl.hidden = true;
  if (view.scale <= 0) fit();
  else applyView();
  if (view.selected !== undefined) select(view.selected, false);
}

function paint(r: number): void {
  const g = nodeEls[r];
  if (!g || !snap) return;
  const s = snap.status[r] ?? 'unknown';
  g.setAttribute('class', `node ${rankStateOf(s)} sub-${s}${view.selected === r ? ' selected' : ''}`);
}

function summarize(): void {
  if (!snap) return;
  const count = { online: 0, lost: 0, offline: 0, unknown: 0 };
  for (const s of snap.status) count[rankStateOf(s)]++;
  const parts = [`${snap.parents.length} ranks`, `${count.online} online`];
  if (count.lost) parts.push(`${count.lost} lost`);
  if (count.offline) parts.push(`${count.offline} offline`);
  if (count.unknown) parts.push(`${count.unknown} unknown`);
  summaryEl.textContent = `${snap.uri} — ${parts.join(', ')}`;
  svg.setAttribute('aria-label', `TBON of ${parts.join(', ')}`);
}

function showTip(r: number, clientX: number, clientY: number): void {
  if (!snap) return;
  hovered = r;
  const host = snap.hosts[r] ? ` on ${snap.hosts[r]}` : '';
  const mods = modulesOf.get(r);
  if (mods === undefined) vscode.postMessage({ type: 'modules', rank: r });
  tipEl.replaceChildren();
  const head = document.createElement('strong');
  head.textContent = `rank ${r}${host}`;
  const state = document.createElement('div');
  state.textContent = statusText(snap.status[r] ?? 'unknown');
  const m = document.createElement('div');
  m.className = 'mods';
  m.textContent = mods ?? 'modules: …';
  tipEl.append(head, state, m);
  tipEl.hidden = false;
  const x = Math.min(clientX + 14, window.innerWidth - tipEl.offsetWidth - 4);
  const y = Math.min(clientY + 14, window.innerHeight - tipEl.offsetHeight - 4);
  tipEl.style.left = `${Math.max(0, x)}px`;
  tipEl.style.top = `${Math.max(0, y)}px`;
}

function select(r: number, center: boolean): void {
  if (!snap || r < 0 || r >= snap.parents.length) return;
  const prev = view.selected;
  view.selected = r;
  if (prev !== undefined) paint(prev);
  paint(r);
  if (center && layout) {
    const w = svg.clientWidth || 800;
    const h = svg.clientHeight || 600;
    view.tx = w / 2 - layout.x[r] * view.scale;
    view.ty = h / 2 - layout.y[r] * view.scale;
    applyView();
  }
  saveState();
}

function rankOf(target: EventTarget | null): number | undefined {
  const g = (target as Element | null)?.closest?.('g[data-rank]');
  return g ? Number(g.getAttribute('data-rank')) : undefined;
}

// --- pointer ------------------------------------------------------------------
panZoom(svg, view, {
  minScale: 0.02,
  maxScale: 8,
  moved: applyView,
  settled: saveState,
  hover: (x, y) => {
    const r = rankOf(document.elementFromPoint(x, y));
    if (r === undefined) {
      tipEl.hidden = true;
      hovered = undefined;
    } else {
      showTip(r, x, y);
    }
  },
  click: (x, y) => {
    const r = rankOf(document.elementFromPoint(x, y));
    if (r !== undefined) {
      select(r, false);
      vscode.postMessage({ type: 'reveal', rank: r });
    }
  },
  leave: () => {
    tipEl.hidden = true;
  },
});

// --- keyboard: the tree is reachable without a mouse ------------------------------
svg.addEventListener('keydown', (e) => {
  if (!snap) return;
  const w = svg.clientWidth || 800;
  const h = svg.clientHeight || 600;
  const cur = view.selected ?? 0;
  const siblings = snap.parents[cur] >= 0 ? children[snap.parents[cur]] : [cur];
  const at = siblings.indexOf(cur);
  let next: number | undefined;
  switch (e.key) {
    case '+': case '=': zoomAt(1.25, w / 2, h / 2); break;
    case '-': zoomAt(0.8, w / 2, h / 2); break;
    case '0': fit(); break;
    case 'ArrowUp': next = snap.parents[cur] >= 0 ? snap.parents[cur] : cur; break;
    case 'ArrowDown': next = children[cur][0] ?? cur; break;
    case 'ArrowLeft': next = siblings[Math.max(0, at - 1)]; break;
    case 'ArrowRight': next = siblings[Math.min(siblings.length - 1, at + 1)]; break;
    case 'Home': next = 0; break;
    case 'Enter': case ' ': vscode.postMessage({ type: 'reveal', rank: cur }); break;
    default: return;
  }
  e.preventDefault();
  if (next !== undefined) {
    select(next, true);
    const s = snap.status[next] ?? 'unknown';
    liveEl.textContent = `rank ${next}${snap.hosts[next] ? ` on ${snap.hosts[next]}` : ''}: ${statusText(s)}`;
  }
});

document.getElementById('fit')?.addEventListener('click', () => fit());
window.addEventListener('resize', () => applyView());

// --- messages from the extension ------------------------------------------------
window.addEventListener('message', (ev: MessageEvent<TbonToView>) => {
  const m = ev.data;
  switch (m.type) {
    case 'snapshot':
      snap = decode(m.data) as TbonSnapshot;
      modulesOf.clear();
      render();
      break;
    case 'status': {
      if (!snap) break;
      const said: string[] = [];
      for (const c of m.changes) {
        if (c.rank < 0 || c.rank >= snap.status.length) continue;
        const before = rankStateOf(snap.status[c.rank]);
        snap.status[c.rank] = c.status;
        paint(c.rank);
        const after = rankStateOf(c.status);
        if (before !== after) said.push(`rank ${c.rank} ${after}`);
      }
      summarize();
      if (said.length) liveEl.textContent = said.slice(0, 8).join(', ');
      break;
    }
    case 'gone':
      messageEl.textContent = m.reason;
      messageEl.hidden = false;
      if (snap) {
        snap.status = snap.status.map(() => 'unknown');
        for (let r = 0; r < snap.parents.length; r++) paint(r);
        summarize();
      }
      break;
    case 'modules':
      modulesOf.set(m.rank, m.error ? `modules: ${m.error}` : `modules: ${m.modules.join(', ') || 'none'}`);
      if (hovered === m.rank) {
        const mods = tipEl.querySelector('.mods');
        if (mods) mods.textContent = modulesOf.get(m.rank) ?? '';
      }
      break;
    case 'select':
      select(m.rank, true);
      break;
  }
});

vscode.postMessage({ type: 'ready' });
