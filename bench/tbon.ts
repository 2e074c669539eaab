/**
 * TBON panel first paint (issue 7's goal: < 500 ms for 1,024 ranks): the real webview bundle
 * (dist/webviews/tbon.js + tbon.css) in Debian's chromium, the page as the panel writes it, with
 * a stand-in for VS Code's acquireVsCodeApi. Per sample a fresh page; the clock runs inside the
 * page from the snapshot message (msgpack, as the panel sends it) to the second animation frame
 * after it (the tree laid out, drawn and painted). Skipped when chromium is missing.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { encode } from 'msgpack-lite';
import { ROOT } from './proc';
import { median, fmtRange, type Row } from './stats';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

interface Page {
  goto(url: string): Promise<unknown>;
  evaluate(expression: string): Promise<number>;
  close(): Promise<void>;
}
interface Browser {
  newPage(o: { viewport: { width: number; height: number } }): Promise<Page>;
  close(): Promise<void>;
}
interface Playwright {
  chromium: { launch(o: { executablePath: string; args: string[] }): Promise<Browser> };
}

export interface TbonResult {
  skipped?: string;
  /** ms per size. */
  samples: Record<number, number[]>;
}

function kary(n: number, k: number): number[] {
  return Array.from({ length: n }, (_, r) => (r === 0 ? -1 : Math.floor((r - 1) / k)));
}

function page(dir: string): string {
  return `<!DOCTYPE html><html><head><link rel="stylesheet" href="tbon.css"></head><body>
<div id="bar"><span id="summary"></span><button id="fit">Fit</button></div><div id="message" hidden></div>
<svg id="canvas" tabindex="0"><g id="viewport"><path id="links"></path><path id="leaf-links"></path><g id="nodes"></g></g></svg>
<div id="live"></div><div id="tip" hidden></div>
<script>function acquireVsCodeApi(){return {postMessage(){},getState(){return undefined},setState(){}}}</script>
<script src="${path.join(dir, 'tbon.js')}"></script></body></html>`;
}

export async function benchTbon(sizes: number[], rounds: number, log: (s: string) => void): Promise<TbonResult> {
  const samples: Record<number, number[]> = {};
  if (!fs.existsSync(CHROMIUM)) return { skipped: `skipped (${CHROMIUM} missing)`, samples };
  const dist = path.join(ROOT, 'dist/webviews');
  if (!fs.existsSync(path.join(dist, 'tbon.js'))) return { skipped: 'skipped (dist/webviews/tbon.js missing: npm run build)', samples };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flux-bench-tbon-'));
  fs.copyFileSync(path.join(dist, 'tbon.js'), path.join(dir, 'tbon.js'));
  fs.copyFileSync(path.join(dist, 'tbon.css'), path.join(dir, 'tbon.css'));
  fs.writeFileSync(path.join(dir, 'index.html'), page(dir));
  const pw = createRequire(__filename)('playwright-core') as Playwright;
  const browser = await pw.chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  try {
    for (const n of sizes) {
      const parents = kary(n, 32);
      const data = [...encode({ parents, hosts: parents.map(() => 'host'), status: parents.map(() => 'full'), uri: 'local:///bench' })];
      samples[n] = [];
      for (let i = 0; i < rounds; i++) {
        const p = await browser.newPage({ viewport: { width: 1200, height: 800 } });
        await p.goto(`file://${path.join(dir, 'index.html')}`);
        // Runs in the page (DOM code as text: this file is compiled for Node).
        const ms = await p.evaluate(`(async () => {
          const t0 = performance.now();
          window.dispatchEvent(new MessageEvent('message', { data: { type: 'snapshot', data: new Uint8Array(${JSON.stringify(data)}) } }));
          await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
          if (!document.querySelector('#nodes g')) throw new Error('nothing drawn');
          return performance.now() - t0;
        })()`);
        samples[n].push(ms);
        await p.close();
      }
      log(`tbon: ${n} ranks first paint median ${median(samples[n]).toFixed(0)} ms`);
    }
  } finally {
    await browser.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return { samples };
}

export function tbonRows(r: TbonResult): Row[] {
  if (r.skipped) return [{ metric: 'TBON view first paint', runs: '', skipped: r.skipped }];
  return Object.entries(r.samples).map(([n, s]) => ({
    metric: `TBON view first paint, ${Number(n).toLocaleString('en-US')} ranks (kary:32)`,
    ours: median(s),
    runs: `${s.length} pages`,
    note: `${fmtRange(s)}; goal < 500 ms; flux-core has no such view`,
  }));
}
