'use strict';
// Runs the in-extension-host mocha suite (out/e2e/suite/index.js, built by `npm run build`) inside
// code-server, the way @vscode/test-electron does in desktop VS Code: a workbench window whose URL
// payload carries extensionDevelopmentPath + extensionTestsPath. The workbench calls
// window.codeAutomationExit(code) when the suite's run() settles; counts come through the JSON file
// named by FLUX_E2E_RESULTS, which code-server (and so the extension host) had in its environment.
//
// Needs: CS_URL (running code-server), CS_FOLDER (workspace folder), FLUX_E2E_RESULTS.
// Prints mocha's output live and a closing line `exthost: N passed, N failed, N skipped`.
const fs = require('fs');
const path = require('path');
const util = require('util');
const { extensionDir, artifactsDir, launch, workbenchUrl } = require('./browser');

const TIMEOUT_MS = Number(process.env.E2E_EXTHOST_TIMEOUT_MS || 180000);

// Workbench chatter that also arrives as '%c INFO' console messages; not the suite's output.
const NOISE = [/^Resolv(ing|ed) connection token/, /^Creating a socket/, /^Updating additional builtin extensions/,
  /^\[Service Worker\]/, /^ChatSessionStore/, /^Started (initializing|resolving)/, /^Extension host \(/];

async function main() {
  const base = process.env.CS_URL;
  const folder = process.env.CS_FOLDER;
  const resultsFile = process.env.FLUX_E2E_RESULTS;
  if (!base || !folder || !resultsFile) throw new Error('CS_URL, CS_FOLDER and FLUX_E2E_RESULTS must be set (run e2e/run.sh)');
  const testsMain = path.join(extensionDir, 'out/e2e/suite/index.js');
  if (!fs.existsSync(testsMain)) throw new Error(`${testsMain} is missing: run \`npm run build\``);
  if (!fs.existsSync(path.join(extensionDir, 'dist/extension.js'))) throw new Error('dist/extension.js is missing: run `npm run build`');
  fs.rmSync(resultsFile, { force: true });

  const t0 = Date.now();
  const { page, close } = await launch();
  let exitCode;
  try {
    let done;
    const exited = new Promise((resolve) => (done = resolve));
    await page.exposeFunction('codeAutomationExit', (code) => done(code));
    page.on('console', async (m) => {
      // extension-host console.* arrives as ('%c INFO', css, format, ...args) / '%c ERR' ...
      const a = await Promise.all(m.args().map((x) => x.jsonValue().catch(() => '')));
      if (typeof a[0] !== 'string') return;
      const level = a[0].startsWith('%c INFO') ? '' : a[0].startsWith('%c ERR') ? 'ERR ' : a[0].startsWith('%c WARN') ? 'WARN ' : null;
      if (level === null) return;
      const text = util.format(...a.slice(2));
      if (!NOISE.some((re) => re.test(text))) console.log(level + text);
    });
    page.on('pageerror', (e) => console.error('page error:', e.message));

    await page.goto(workbenchUrl(base, folder, extensionDir, testsMain));
    let timer;
    const timedOut = new Promise((resolve) => (timer = setTimeout(() => resolve('timeout'), TIMEOUT_MS)));
    exitCode = await Promise.race([exited, timedOut]);
    clearTimeout(timer);
    if (exitCode === 'timeout') {
      console.error(`exthost: the suite did not finish within ${TIMEOUT_MS / 1000} s`);
      await page.screenshot({ path: path.join(artifactsDir(), 'exthost-timeout.png') }).catch(() => undefined);
    }
  } finally {
    await close();
  }

  let r = { passes: 0, failures: 0, pending: 0, failed: [] };
  let haveResults = false;
  try {
    r = JSON.parse(fs.readFileSync(resultsFile, 'utf8'));
    haveResults = true;
  } catch (e) {
    console.error(`exthost: no results in ${resultsFile} (${e.code || e.message}); the suite did not run to the end`);
  }
  for (const f of r.failed || []) console.log(`FAILED ${f}`);
  // A run that did not report, timed out, ran no test or exited non-zero counts as (at least) one failure.
  const ok = exitCode === 0 && haveResults && r.failures === 0 && r.passes > 0;
  const failed = ok ? 0 : Math.max(r.failures, 1);
  console.log(`exthost: window exit code ${exitCode}, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  console.log(`exthost: ${r.passes} passed, ${failed} failed, ${r.pending} skipped`);
  return ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error('exthost:', e && e.stack ? e.stack : e);
    console.log('exthost: 0 passed, 1 failed, 0 skipped');
    process.exit(1);
  },
);
