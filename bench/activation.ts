/**
 * Metric 3: extension activation time, inside a real VS Code (code-server 4.100.3 + Debian
 * chromium), driven like e2e/exthost.js: one code-server (e2e/code-server.sh's cs_start), then per
 * sample a fresh chromium (e2e/browser.js's launch) opening a new workbench window whose URL payload
 * carries extensionDevelopmentPath (this repo) and extensionTestsPath (out/bench/activation-suite.js,
 * bundled here from bench/activation-suite.ts). The suite activates the extension and writes
 * `activationMs` (measured by activate() itself) and the wall time of `await ext.activate()` to
 * $FLUX_BENCH_ACTIVATION_OUT; the workbench then calls window.codeAutomationExit(code).
 *
 * Skipped (with a reason, never failing the bench) when dist/extension.js does not expose
 * activationMs yet, the e2e harness files are missing, code-server is not installed
 * (cs_install is never run here: it takes ~70 s) or chromium is missing.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import type { ActivationSample } from './activation-suite';
import { ROOT, atCleanup, bundle, childEnv, run } from './proc';
import { median, fmtRange, type Row } from './stats';

const CODE_SERVER_SH = path.join(ROOT, 'e2e/code-server.sh');
const BROWSER_JS = path.join(ROOT, 'e2e/browser.js');
const WINDOW_TIMEOUT_MS = 90_000;

/** The parts of e2e/browser.js (and of playwright-core's Page) used here. */
interface Page {
  exposeFunction(name: string, fn: (code: number) => void): Promise<void>;
  goto(url: string): Promise<unknown>;
  on(event: 'pageerror', cb: (e: Error) => void): void;
}
interface BrowserModule {
  extensionDir: string;
  launch(): Promise<{ page: Page; close(): Promise<void> }>;
  workbenchUrl(base: string, folder: string, extDir?: string, testsMain?: string): string;
}

export type ActivationResult =
  | { skipped: string }
  | { samples: ActivationSample[]; errors: string[] };

async function bash(script: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const r = await run('bash', ['-c', script, 'bash', ...args], { timeoutMs, env });
  return { code: r.code, stdout: r.stdout, stderr: r.stderr };
}

/** Why activation cannot be measured on this machine, or undefined if it can. */
async function whySkip(): Promise<string | undefined> {
  if (!fs.existsSync(CODE_SERVER_SH) || !fs.existsSync(BROWSER_JS)) return 'skipped (e2e/code-server.sh or e2e/browser.js missing)';
  // The extension under test: this repo, or $E2E_EXTENSION_DIR as e2e/browser.js has it.
  const ext = path.join(path.resolve(process.env.E2E_EXTENSION_DIR || ROOT), 'dist/extension.js');
  if (!fs.existsSync(ext) || !fs.readFileSync(ext, 'utf8').includes('activationMs')) {
    return 'skipped (dist/extension.js has no activationMs yet)';
  }
  const chk = await bash(`source "$1" && [ -f "$CS_TOOLS/.ok" ] && [ -x "$CS_BIN" ]`, [CODE_SERVER_SH], childEnv(), 10_000);
  if (chk.code !== 0) return 'skipped (code-server not installed)';
  if (!fs.existsSync(process.env.CHROMIUM || '/usr/bin/chromium')) return 'skipped (chromium not installed)';
  return undefined;
}

/** One fresh chromium + workbench window running the suite; resolves with the window's exit code. */
async function oneWindow(browser: BrowserModule, url: string): Promise<number | 'timeout'> {
  const { page, close } = await browser.launch();
  let timer: NodeJS.Timeout | undefined;
  try {
    let done: (code: number) => void = () => {};
    const exited = new Promise<number>((resolve) => (done = resolve));
    await page.exposeFunction('codeAutomationExit', (code: number) => done(code));
    page.on('pageerror', () => {}); // workbench noise; the result file is what counts
    await page.goto(url);
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), WINDOW_TIMEOUT_MS)));
    return await Promise.race([exited, timedOut]);
  } finally {
    clearTimeout(timer);
    await close();
  }
}

export async function benchActivation(windows: number, log: (s: string) => void): Promise<ActivationResult> {
  const skip = await whySkip();
  if (skip) return { skipped: skip };

  const testsMain = await bundle('bench/activation-suite.ts', 'activation-suite');
  const browser = createRequire(__filename)(BROWSER_JS) as BrowserModule;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'flux-bench-cs-'));
  const R = path.join(tmp, 'cs');
  const resultFile = path.join(tmp, 'activation.json');
  // Exported before code-server starts: the extension host inherits it.
  const env = childEnv({ FLUX_BENCH_ACTIVATION_OUT: resultFile });
  let pgid: number | undefined;
  let unregister = (): void => {};
  const samples: ActivationSample[] = [];
  const errors: string[] = [];
  try {
    const started = await bash(`source "$1" && cs_start "$2" && echo "CS $CS_URL $CS_PGID"`, [CODE_SERVER_SH, R], env, 60_000);
    const m = /^CS (\S+) (\d+)$/m.exec(started.stdout);
    if (started.code !== 0 || !m) return { skipped: `skipped (code-server did not start: ${started.stderr.trim().slice(-200)})` };
    const base = m[1];
    pgid = Number(m[2]);
    const group = pgid;
    // code-server runs in its own session: if the bench is interrupted, kill its whole group.
    unregister = atCleanup(() => {
      try {
        process.kill(-group, 'SIGKILL');
      } finally {
        fs.rmSync(tmp, { recursive: true, force: true });
      }
    });
    const folder = path.join(R, 'ws');
    const url = browser.workbenchUrl(base, folder, browser.extensionDir, testsMain);
    for (let i = 1; i <= windows; i++) {
      fs.rmSync(resultFile, { force: true });
      const t0 = Date.now();
      const code = await oneWindow(browser, url);
      let s: ActivationSample | undefined;
      try {
        s = JSON.parse(fs.readFileSync(resultFile, 'utf8')) as ActivationSample;
      } catch {
        s = undefined;
      }
      const secs = ((Date.now() - t0) / 1000).toFixed(1);
      if (s?.ok && code === 0) {
        samples.push(s);
        log(`activation: window ${i}/${windows}: activationMs ${s.activationMs?.toFixed(1)} ms, activate() wall ${s.wallMs?.toFixed(1)} ms${s.wasActive ? ' (already active)' : ''} (${secs} s)`);
      } else {
        const why = s?.error ?? (code === 'timeout' ? `no exit within ${WINDOW_TIMEOUT_MS / 1000} s` : `window exit code ${code}, no result`);
        errors.push(why);
        log(`activation: window ${i}/${windows} failed: ${why}`);
      }
    }
  } finally {
    unregister();
    if (pgid !== undefined) {
      // cs_stop: SIGTERM to the group, waits up to 5 s, then SIGKILL.
      const stopped = await bash(`source "$1" && CS_PGID=$2 && cs_stop`, [CODE_SERVER_SH, String(pgid)], env, 15_000);
      if (stopped.code !== 0) log(`activation: cs_stop failed (${stopped.code}): ${stopped.stderr.trim().slice(-200)}`);
    }
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return { samples, errors };
}

export function activationRows(r: ActivationResult): Row[] {
  if ('skipped' in r) {
    return [
      { metric: 'extension activate(): activationMs (inside activate)', runs: '-', skipped: r.skipped },
      { metric: 'extension activate(): ext.activate() wall', runs: '-', skipped: r.skipped },
    ];
  }
  if (r.samples.length === 0) {
    const why = `failed (${r.errors[0] ?? 'no sample'})`;
    return [
      { metric: 'extension activate(): activationMs (inside activate)', runs: '-', skipped: why },
      { metric: 'extension activate(): ext.activate() wall', runs: '-', skipped: why },
    ];
  }
  const act = r.samples.map((s) => s.activationMs ?? NaN);
  const wall = r.samples.map((s) => s.wallMs ?? NaN);
  const fails = r.errors.length ? `; ${r.errors.length} window(s) failed: ${r.errors[0]}` : '';
  const already = r.samples.some((s) => s.wasActive) ? '; extension was already active in some windows' : '';
  const runs = `${r.samples.length} windows`;
  const start = r.samples.map((s) => s.startToViewMs ?? NaN).filter(Number.isFinite);
  const page = r.samples.map((s) => s.kvsFirstPageMs ?? NaN).filter(Number.isFinite);
  const rss = r.samples.map((s) => (s.hostRssDeltaMiB ?? NaN) * 1024).filter(Number.isFinite);
  const rows: Row[] = [
    { metric: 'extension activate(): activationMs (inside activate)', ours: median(act), runs, note: `${fmtRange(act)}${fails}; goal < 50 ms` },
    { metric: 'extension activate(): ext.activate() wall', ours: median(wall), runs, note: `${fmtRange(wall)}${already}` },
  ];
  if (start.length) rows.push({ metric: 'Start command to a filled Brokers view (4 ranks)', ours: median(start), runs, note: `${fmtRange(start)}; goal < 1 s` });
  if (page.length) {
    rows.push({
      metric: 'KVS view: first page of a 10,000-key directory', ours: median(page), runs,
      note: `${fmtRange(page)}; ${r.samples[0].kvsFirstPageRows} rows (a page and "Load more"); goal < 300 ms`,
    });
  }
  if (rss.length) rows.push({ metric: 'extension host RSS growth (start, views, 10k-key page)', ours: median(rss), unit: 'kib', runs, note: `${(median(rss) / 1024).toFixed(1)} MiB` });
  return rows;
}
