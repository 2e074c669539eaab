/**
 * The resource graph panel's page: the scheduler's containment graph as nested boxes on a canvas
 * (a cluster's nodes, their sockets, their cores and GPUs), each leaf coloured free / allocated /
 * reserved / down, live. Fold the graph to a level (Depth), search by name, path or job, pan and
 * zoom; a box too small to read is drawn as one cell coloured by what it holds, so 10,000 vertices
 * stay smooth. Hover shows a vertex's path, state and jobs; clicking one with a job asks the
 * extension to show that job.
 */
import { decode } from 'msgpack-lite';
import type { ResourceSnapshot, ResourcesFromView, ResourcesToView, ResourcesViewState } from '../common/protocol';
import { layoutBoxes, leafCounts, type BoxLayout } from './layout';
import { panZoom } from '../common/panzoom';

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

let snap: ResourceSnapshot | undefined;
let layout: BoxLayout | undefined;
let counts: ReturnType<typeof leafCounts> | undefined;
let matches: Uint8Array | undefined;
/** Vertices with children (the others are leaves: cores, GPUs, memory). */
let hasKids = new Uint8Array(0);
const view: ResourcesViewState = vscode.getState() ?? { scale: 0, tx: 0, ty: 0, depth: 99, search: '' };
searchEl.value = view.search;

function cssVar(name: string, fallback: string): string {
  return getComputedStyle(document.body).getPropertyValue(name).trim() || fallback;
}

interface Palette { free: string; allocated: string; reserved: string; down: string; line: string; text: string; match: string }
let palette: Palette;
function readPalette(): void {
  palette = {
    free: cssVar('--vscode-charts-green', '#3c3'),
    allocated: cssVar('--vscode-charts-blue', '#39f'),
    reserved: cssVar('--vscode-charts-purple', '#a6f'),
    down: cssVar('--vscode-charts-red', '#d33'),
    line: cssVar('--vscode-editorIndentGuide-activeBackground1', cssVar('--vscode-foreground', '#888')),
    text: cssVar('--vscode-foreground', '#ccc'),
    match: cssVar('--vscode-focusBorder', '#fc0'),
  };
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
  applySearch();
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
  summaryEl.textContent = `${snap.source === 'fluxion' ? 'Fluxion graph' : 'from R'}: ${kinds} — ${alloc}/${leaves} allocated${down ? `, ${down} down` : ''}${found}`;
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

function mix(fraction: number, a: string, b: string): string {
  return fraction >= 0.5 ? a : b;
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
      let color: string;
      if (leaf) color = palette[snap.state[v]];
      else if (C.down[v] === C.leaves[v] && C.leaves[v] > 0) color = palette.down;
      else color = mix(C.allocated[v] / Math.max(1, C.leaves[v]), palette.allocated, palette.free);
      g.fillStyle = color;
      g.fillRect(x, y, Math.max(1, w - (w > 4 ? 1 : 0)), Math.max(1, h - (h > 4 ? 1 : 0)));
      if (!leaf && w > 30 && h > 14) {
        g.fillStyle = palette.text;
        g.globalAlpha = 1;
        g.fillText(`${snap.name[v]} ${C.allocated[v]}/${C.leaves[v]}`, x + 2, y + 2, w - 4);
      }
    } else {
      g.strokeStyle = palette.line;
      g.lineWidth = 1;
      g.strokeRect(x + 0.5, y + 0.5, w - 1, h - 1);
      if (snap.state[v] === 'down') {
        g.strokeStyle = palette.down;
        g.strokeRect(x + 1.5, y + 1.5, w - 3, h - 3);
      }
      if (w > 40 && 14 * s > 8) {
        g.fillStyle = palette.text;
        g.fillText(`${snap.name[v]}${snap.rank[v] >= 0 && snap.type[v] === 'node' ? ` (rank ${snap.rank[v]})` : ''}`, x + 3, y + 2, w - 6);
      }
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
  tipEl.replaceChildren();
  const head = document.createElement('strong');
  head.textContent = snap.path[v] || snap.name[v];
  const st = document.createElement('div');
  const held = counts.leaves[v] > 1 ? ` — ${counts.allocated[v]}/${counts.leaves[v]} allocated${counts.down[v] ? `, ${counts.down[v]} down` : ''}` : '';
  st.textContent = `${snap.type[v]}${snap.rank[v] >= 0 ? ` on rank ${snap.rank[v]}` : ''}: ${snap.state[v]}${held}`;
  tipEl.append(head, st);
  if (snap.jobs[v]) {
    const j = document.createElement('div');
    j.textContent = `jobs: ${snap.jobs[v]} (click to show)`;
    tipEl.append(j);
  }
  tipEl.hidden = false;
  tipEl.style.left = `${Math.min(cx + 14, window.innerWidth - tipEl.offsetWidth - 4)}px`;
  tipEl.style.top = `${Math.min(cy + 14, window.innerHeight - tipEl.offsetHeight - 4)}px`;
}

const local = (x: number, y: number): [number, number] => {
  const box = canvas.getBoundingClientRect();
  return [x - box.left, y - box.top];
};
panZoom(canvas, view, {
  minScale: 0.02,
  maxScale: 20,
  moved: redraw,
  settled: save,
  hover: (x, y) => {
    const v = vertexAt(...local(x, y));
    if (v === undefined) tipEl.hidden = true;
    else showTip(v, x, y);
  },
  click: (x, y) => {
    const v = vertexAt(...local(x, y));
    if (v !== undefined && snap?.jobs[v]) vscode.postMessage({ type: 'job', id: snap.jobs[v].split(' ')[0] });
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
  }
});

readPalette();
vscode.postMessage({ type: 'ready' });
