/**
 * The resource graph panel's page: the scheduler's containment graph as nested boxes on a canvas
 * (a cluster's nodes, their sockets, their cores and GPUs), each leaf coloured free / allocated /
 * reserved / down, live. Fold the graph to a level (Depth), search by name, path or job, pan and
 * zoom; a box too small to read is drawn as one cell coloured by what it holds, so 10,000 vertices
 * stay smooth. Hover shows a vertex's path, state and jobs, and a node's drain reason and time;
 * clicking one with a job asks the extension to show that job. Drained and offline nodes (from
 * `resource.status`) are drawn in their own colours. Clicking a node, or `[` / `]`, selects it:
 * its bar offers Drain… (`d`) and Undrain (`u`). A placement preview outlines the cores and GPUs
 * the scheduler would give a jobspec (dashed when it must wait for them).
 */
import { decode } from 'msgpack-lite';
import type { PlacementPreview, ResourceSnapshot, ResourcesFromView, ResourcesToView, ResourcesViewState } from '../common/protocol';
import { layoutBoxes, leafCounts, type BoxLayout } from './layout';
import { panZoom } from '../common/panzoom';
import { ActionBars, type NodeInfo } from './actions';
import { makePalette, type Palette } from './palette';
import { cellKind, conditionText, nodeOf, nodeVertices, placementMarks, rankConditions, tipLines, type RankCondition } from './status';

interface VsCodeApi {
  postMessage(m: ResourcesFromView): void;
  getState(): ResourcesViewState | undefined;
  setState(s: ResourcesViewState): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
const canvas = document.getElementById('canvas') as HTMLCanvasElement;
const g = canvas.getContext('2d') as CanvasRenderingContext2D;
const summaryEl = document.getElementById('summary') as HTMLElement;
const depthEl = document.getElementById('depth') as HTMLSelectElement;
const searchEl = document.getElementById('search') as HTMLInputElement;
const tipEl = document.getElementById('tip') as HTMLElement;
const messageEl = document.getElementById('message') as HTMLElement;
const byId = (id: string): HTMLElement => document.getElementById(id) as HTMLElement;
const bars = new ActionBars({
  canvas, nodeBar: byId('node-bar'), nodeLabel: byId('node-label'), drain: byId('drain') as HTMLButtonElement, undrain: byId('undrain') as HTMLButtonElement,
  previewBar: byId('preview-bar'), previewText: byId('preview-text'), previewClear: byId('preview-clear'),
}, (m) => vscode.postMessage(m));

let snap: ResourceSnapshot | undefined;
let layout: BoxLayout | undefined;
let counts: ReturnType<typeof leafCounts> | undefined;
let matches: Uint8Array | undefined;
/** Vertices with children (the others are leaves: cores, GPUs, memory). */
let hasKids = new Uint8Array(0);
/** Drained / offline / excluded ranks (resource.status), the placement preview and its marks. */
let conds = new Map<number, RankCondition>();
let preview: PlacementPreview | null = null;
let marks = placementMarks([], null);
/** The selected node, by rank (vertex numbers change with the graph; ranks do not). */
let selectedRank: number | undefined;
const view: ResourcesViewState = vscode.getState() ?? { scale: 0, tx: 0, ty: 0, depth: 99, search: '' };
searchEl.value = view.search;

function cssVar(name: string, fallback: string): string {
  return getComputedStyle(document.body).getPropertyValue(name).trim() || fallback;
}

let palette: Palette;
function readPalette(): void {
  palette = makePalette(cssVar);
}

function save(): void {
  vscode.setState(view);
}

function relayout(): void {
  if (!snap) return;
  layout = layoutBoxes(snap.parent, view.depth);
  const s = snap;
  hasKids = new Uint8Array(s.parent.length);
  for (const p of s.parent) if (p >= 0) hasKids[p] = 1;
  counts = leafCounts(s.parent, (v) => s.state[v]);
  conds = rankConditions(s);
  marks = placementMarks(s.parent, preview);
  applySearch();
  select(selectedRank === undefined ? undefined : nodeVertices(s).find((v) => s.rank[v] === selectedRank));
}

/** The condition of a vertex's rank (nodes and what they hold), if any. */
function condOf(v: number): RankCondition | undefined {
  return snap && snap.rank[v] >= 0 ? conds.get(snap.rank[v]) : undefined;
}

function nodeInfo(n: number | undefined): NodeInfo | undefined {
  if (!snap || n === undefined) return undefined;
  const rank = snap.rank[n];
  const cond = condOf(n);
  return { rank, name: snap.name[n], condition: conditionText(snap, rank, cond), drained: snap.ranks?.drained[rank] !== undefined };
}

function select(n: number | undefined): void {
  selectedRank = n === undefined || !snap ? undefined : snap.rank[n];
  bars.select(nodeInfo(n));
  redraw();
}

/** Step the selection through the nodes (keyboard). */
function stepNode(delta: number): void {
  if (!snap) return;
  const s = snap;
  const nodes = nodeVertices(s);
  if (nodes.length === 0) return;
  const at = nodes.findIndex((v) => s.rank[v] === selectedRank);
  select(nodes[at < 0 ? (delta > 0 ? 0 : nodes.length - 1) : (at + delta + nodes.length) % nodes.length]);
}

function applySearch(): void {
  if (!snap) return;
  const q = view.search.trim().toLowerCase();
  if (!q) {
    matches = undefined;
  } else {
    matches = new Uint8Array(snap.parent.length);
    for (let v = 0; v < snap.parent.length; v++) {
      if (snap.name[v].toLowerCase().includes(q) || snap.path[v].toLowerCase().includes(q) || snap.jobs[v].toLowerCase().includes(q)) matches[v] = 1;
    }
  }
  summarize();
}

function summarize(): void {
  if (!snap || !counts) return;
  const root = snap.parent.indexOf(-1);
  const types = new Map<string, number>();
  for (const t of snap.type) types.set(t, (types.get(t) ?? 0) + 1);
  const kinds = [...types].map(([t, n]) => `${n} ${t}${n === 1 ? '' : 's'}`).join(', ');
  const leaves = root >= 0 ? counts.leaves[root] : 0;
  const alloc = root >= 0 ? counts.allocated[root] : 0;
  const down = root >= 0 ? counts.down[root] : 0;
  const found = matches ? `; ${matches.reduce((a, b) => a + b, 0)} match "${view.search}"` : '';
  const nDrained = snap.ranks ? Object.keys(snap.ranks.drained).length : 0;
  const nOffline = snap.ranks?.offline.length ?? 0;
  const ranks = `${nDrained ? `, ${nDrained} node${nDrained === 1 ? '' : 's'} drained` : ''}${nOffline ? `, ${nOffline} offline` : ''}`;
  summaryEl.textContent = `${snap.source === 'fluxion' ? 'Fluxion graph' : 'from R'}: ${kinds} — ${alloc}/${leaves} allocated${down ? `, ${down} down` : ''}${ranks}${found}`;
  canvas.setAttribute('aria-label', summaryEl.textContent);
}

function fillDepthChoices(): void {
  if (!snap || !layout) return;
  const byDepth = new Map<number, string>();
  for (let v = 0; v < snap.parent.length; v++) if (!byDepth.has(layout.depth[v])) byDepth.set(layout.depth[v], snap.type[v]);
  const max = Math.max(...byDepth.keys());
  depthEl.replaceChildren();
  for (const [d, t] of [...byDepth].sort((a, b) => a[0] - b[0])) {
    const o = document.createElement('option');
    o.value = String(d === max ? 99 : d);
    o.textContent = `down to ${t}`;
    depthEl.appendChild(o);
  }
  depthEl.value = String(view.depth >= max ? 99 : view.depth);
}

function fit(): void {
  if (!layout) return;
  const w = canvas.clientWidth || 800;
  const h = canvas.clientHeight || 600;
  view.scale = Math.min(4, (w - 16) / Math.max(1, layout.width), (h - 16) / Math.max(1, layout.height));
  view.tx = (w - layout.width * view.scale) / 2;
  view.ty = 8;
  save();
  draw();
}

/** The preview's mark on a placed cell or a box holding some: a thick frame and a dot (dashed: reserved, it must wait). */
function outlinePlacement(x: number, y: number, w: number, h: number): void {
  g.globalAlpha = 1;
  g.strokeStyle = palette.placed;
  g.lineWidth = 3;
  g.setLineDash(preview?.kind === 'later' ? [4, 3] : []);
  g.strokeRect(x + 1.5, y + 1.5, Math.max(1, w - 4), Math.max(1, h - 4));
  g.setLineDash([]);
  if (w >= 8 && h >= 8) {
    const d = Math.max(2, Math.min(w, h) / 4);
    g.fillStyle = palette.placed;
    g.fillRect(x + (w - d) / 2, y + (h - d) / 2, d, d);
  }
}

function draw(): void {
  const dpr = window.devicePixelRatio || 1;
  const cw = canvas.clientWidth;
  const ch = canvas.clientHeight;
  if (canvas.width !== Math.round(cw * dpr) || canvas.height !== Math.round(ch * dpr)) {
    canvas.width = Math.round(cw * dpr);
    canvas.height = Math.round(ch * dpr);
  }
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, cw, ch);
  if (!snap || !layout || !counts) return;
  const L = layout;
  const C = counts;
  const s = view.scale;
  const hidden = new Uint8Array(snap.parent.length);
  g.font = `${Math.max(9, Math.min(12, 11 * s))}px ${cssVar('--vscode-font-family', 'sans-serif')}`;
  g.textBaseline = 'top';
  for (let v = 0; v < snap.parent.length; v++) {
    const p = snap.parent[v];
    if (p >= 0 && (hidden[p] || !L.open[p])) {
      hidden[v] = 1;
      continue;
    }
    if (Number.isNaN(L.x[v])) {
      hidden[v] = 1;
      continue;
    }
    const x = L.x[v] * s + view.tx;
    const y = L.y[v] * s + view.ty;
    const w = L.w[v] * s;
    const h = L.h[v] * s;
    if (x > cw || y > ch || x + w < 0 || y + h < 0) {
      hidden[v] = 1; // off screen: so is everything inside
      continue;
    }
    const dim = matches !== undefined && !matches[v] && (L.open[v] === 0);
    g.globalAlpha = dim ? 0.25 : 1;
    // Too small to show what is inside: one cell coloured by what it holds.
    const tiny = L.open[v] === 1 && (w < 6 || h < 6);
    if (L.open[v] === 0 || tiny) {
      if (tiny) hidden[v] = 1;
      const leaf = !hasKids[v];
      g.fillStyle = palette[cellKind(leaf, snap.state[v], condOf(v), C.allocated[v], C.leaves[v], C.down[v])];
      g.fillRect(x, y, Math.max(1, w - (w > 4 ? 1 : 0)), Math.max(1, h - (h > 4 ? 1 : 0)));
      if (marks.inside[v] > 0) outlinePlacement(x, y, w, h);
      if (!leaf && w > 30 && h > 14) {
        g.fillStyle = palette.text;
        g.globalAlpha = 1;
        g.fillText(`${snap.name[v]} ${C.allocated[v]}/${C.leaves[v]}`, x + 2, y + 2, w - 4);
      }
    } else {
      g.strokeStyle = palette.line;
      g.lineWidth = 1;
      g.strokeRect(x + 0.5, y + 0.5, w - 1, h - 1);
      const cond = snap.type[v] === 'node' ? condOf(v) : undefined;
      if (cond) {
        // A drained or offline node: a thick frame in its colour (dashed when offline), whatever its cores show.
        g.strokeStyle = cond === 'drained' ? palette.drained : palette.offline;
        g.lineWidth = 3;
        g.setLineDash(cond === 'drained' ? [] : [4, 3]);
        g.strokeRect(x + 2, y + 2, w - 4, h - 4);
        g.setLineDash([]);
        g.lineWidth = 1;
      } else if (snap.state[v] === 'down') {
        g.strokeStyle = palette.down;
        g.strokeRect(x + 1.5, y + 1.5, w - 3, h - 3);
      }
      if (w > 40 && 14 * s > 8) {
        g.fillStyle = palette.text;
        g.fillText(`${snap.name[v]}${snap.rank[v] >= 0 && snap.type[v] === 'node' ? ` (rank ${snap.rank[v]})` : ''}${cond ? ` — ${cond}` : ''}`, x + 3, y + 2, w - 6);
      }
    }
    if (snap.type[v] === 'node' && snap.rank[v] === selectedRank) {
      g.globalAlpha = 1;
      g.strokeStyle = palette.match;
      g.lineWidth = 3;
      g.strokeRect(x - 1, y - 1, w + 2, h + 2);
    }
    if (matches && matches[v]) {
      g.globalAlpha = 1;
      g.strokeStyle = palette.match;
      g.lineWidth = 2;
      g.strokeRect(x, y, w, h);
    }
  }
  g.globalAlpha = 1;
}

let pending = false;
function redraw(): void {
  if (pending) return;
  pending = true;
  requestAnimationFrame(() => {
    pending = false;
    draw();
  });
}

/** The deepest drawn vertex under a canvas point: walk down from the root through open boxes. */
function vertexAt(px: number, py: number): number | undefined {
  if (!snap || !layout) return undefined;
  const L = layout;
  const x = (px - view.tx) / view.scale;
  const y = (py - view.ty) / view.scale;
  const inside = (v: number): boolean => x >= L.x[v] && y >= L.y[v] && x < L.x[v] + L.w[v] && y < L.y[v] + L.h[v];
  let hit: number | undefined;
  for (let v = 0; v < snap.parent.length; v++) {
    const p = snap.parent[v];
    if (p < 0 ? hit !== undefined : p !== hit || !L.open[p]) continue;
    if (inside(v)) hit = v;
  }
  return hit;
}

function showTip(v: number, cx: number, cy: number): void {
  if (!snap || !counts) return;
  const t = tipLines(snap, counts, v, conds, preview, marks);
  const head = document.createElement('strong');
  head.textContent = t.head;
  tipEl.replaceChildren(head, ...t.lines.map((line) => {
    const d = document.createElement('div');
    d.textContent = line;
    return d;
  }));
  tipEl.hidden = false;
  tipEl.style.left = `${Math.min(cx + 14, window.innerWidth - tipEl.offsetWidth - 4)}px`;
  tipEl.style.top = `${Math.min(cy + 14, window.innerHeight - tipEl.offsetHeight - 4)}px`;
}

const local = (x: number, y: number): [number, number] => {
  const box = canvas.getBoundingClientRect();
  return [x - box.left, y - box.top];
};
/** Right and middle presses are not clicks (the right one opens VS Code's context menu). */
let button = 0;
canvas.addEventListener('pointerdown', (e) => {
  button = e.button;
});
// The context menu is about the node under the pointer (hover set it; this makes sure).
canvas.addEventListener('contextmenu', (e) => {
  const v = vertexAt(...local(e.clientX, e.clientY));
  bars.setContext(nodeInfo(v === undefined || !snap ? undefined : nodeOf(snap, v)));
}, true);
panZoom(canvas, view, {
  minScale: 0.02,
  maxScale: 20,
  moved: redraw,
  settled: save,
  hover: (x, y) => {
    const v = vertexAt(...local(x, y));
    if (v === undefined) tipEl.hidden = true;
    else showTip(v, x, y);
    bars.setContext(nodeInfo(v === undefined || !snap ? undefined : nodeOf(snap, v)));
  },
  click: (x, y) => {
    if (button !== 0 || !snap) return;
    const v = vertexAt(...local(x, y));
    if (v === undefined) return;
    select(nodeOf(snap, v));
    if (snap.jobs[v] && !hasKids[v]) vscode.postMessage({ type: 'job', id: snap.jobs[v].split(' ')[0] });
  },
  leave: () => {
    tipEl.hidden = true;
  },
});
canvas.addEventListener('keydown', (e) => {
  const step = 40;
  switch (e.key) {
    case '+': case '=': view.scale *= 1.25; break;
    case '-': view.scale /= 1.25; break;
    case '0': fit(); return;
    case 'ArrowLeft': view.tx += step; break;
    case 'ArrowRight': view.tx -= step; break;
    case 'ArrowUp': view.ty += step; break;
    case 'ArrowDown': view.ty -= step; break;
    case ']': stepNode(1); break;
    case '[': stepNode(-1); break;
    case 'd': bars.drain(); break;
    case 'u': bars.undrain(); break;
    case 'Escape': select(undefined); break;
    default: return;
  }
  e.preventDefault();
  save();
  redraw();
});
depthEl.addEventListener('change', () => {
  view.depth = Number(depthEl.value);
  relayout();
  fit();
});
searchEl.addEventListener('input', () => {
  view.search = searchEl.value;
  applySearch();
  save();
  redraw();
});
document.getElementById('fit')?.addEventListener('click', () => fit());
new ResizeObserver(() => redraw()).observe(canvas);

window.addEventListener('message', (ev: MessageEvent<ResourcesToView>) => {
  const m = ev.data;
  if (m.type === 'snapshot') {
    const first = !snap;
    snap = decode(m.data) as ResourceSnapshot;
    readPalette();
    relayout();
    fillDepthChoices();
    messageEl.hidden = true;
    if (first && view.scale <= 0) fit();
    else redraw();
  } else if (m.type === 'gone') {
    messageEl.textContent = m.reason;
    messageEl.hidden = false;
  } else if (m.type === 'preview') {
    preview = m.preview;
    marks = placementMarks(snap?.parent ?? [], preview);
    bars.preview(preview);
    redraw();
  }
});

readPalette();
vscode.postMessage({ type: 'ready' });
