'use strict';
// Shared by the e2e drivers: Debian chromium through playwright-core, and the workbench URL that
// loads this repository as the extension under development (optionally with an in-host test suite).
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync } = require('child_process');
const { chromium } = require('playwright-core');

const root = path.resolve(__dirname, '..');
// The extension under test (folder with package.json, dist/, out/e2e/suite/): this repository,
// unless E2E_EXTENSION_DIR points elsewhere (e.g. a copy, to check the harness itself).
const extensionDir = path.resolve(process.env.E2E_EXTENSION_DIR || root);
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

/** Directory for screenshots and logs (gitignored); created on demand. */
function artifactsDir() {
  const dir = path.resolve(process.env.E2E_ARTIFACTS || path.join(root, 'e2e-artifacts'));
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

/** Launches headless chromium with a fresh profile; returns { ctx, page, close }. */
async function launch() {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: apt-get install chromium`);
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'flux-e2e-chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1400, height: 900 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
  const page = ctx.pages()[0] || (await ctx.newPage());
  const close = async () => {
    await ctx.close().catch(() => undefined);
    fs.rmSync(profile, { recursive: true, force: true });
  };
  return { ctx, page, close };
}

/**
 * http://127.0.0.1:PORT/?folder=...&payload=[["extensionDevelopmentPath", ...], ["extensionTestsPath", ...]]
 * Paths in the payload are vscode-remote URIs whose authority is the page's host:port.
 */
function workbenchUrl(base, folder, extDir = extensionDir, testsMain = undefined) {
  const auth = new URL(base).host;
  const payload = [['extensionDevelopmentPath', `vscode-remote://${auth}${extDir}`]];
  if (testsMain) payload.push(['extensionTestsPath', `vscode-remote://${auth}${testsMain}`]);
  return `${base.replace(/\/$/, '')}/?folder=${encodeURIComponent(folder)}&payload=${encodeURIComponent(JSON.stringify(payload))}`;
}

/** Runs a command from the command palette by its full title ("Flux: Start Local Instance"). */
async function runCommand(page, title) {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible' });
  await input.fill('>' + title); // fill replaces the '>' that F1 typed
  const row = page.locator('.quick-input-list .monaco-list-row').filter({ hasText: title }).first();
  await row.waitFor({ state: 'visible' });
  await row.click();
  await page.locator('.quick-input-widget').waitFor({ state: 'hidden' });
}

/**
 * Broker processes show as `flux-broker-R` (they set process.title, as flux-core's do); before that,
 * and for the `flux start` launcher, their command line names dist/broker.js or dist/flux.js.
 */
const BROKER_CMDLINE = 'flux-broker-[0-9]+|dist/(broker|flux)\\.js';

/**
 * Pids of broker / `flux start` processes that belong to this e2e run: their environment carries
 * FLUX_E2E_RUN (exported by e2e/run.sh before code-server starts), or they are in code-server's
 * session. Linux only (/proc).
 */
function runBrokerPids(runId = process.env.FLUX_E2E_RUN, csPgid = process.env.CS_PGID) {
  let out;
  try {
    out = execFileSync('pgrep', ['-f', BROKER_CMDLINE], { encoding: 'utf8' });
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
  const pids = [];
  for (const pid of out.split('\n').filter(Boolean).map(Number)) {
    if (pid === process.pid) continue;
    try {
      const env = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const [state, , pgrp, session] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ours = (runId && env.includes(`FLUX_E2E_RUN=${runId}`)) || (csPgid && (pgrp === csPgid || session === csPgid));
      if (ours && state !== 'Z') pids.push(pid);
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

module.exports = { root, extensionDir, artifactsDir, launch, workbenchUrl, runCommand, runBrokerPids };
