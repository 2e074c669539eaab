'use strict';
// UI check in a real workbench (code-server + chromium): the Flux activity-bar item, the Brokers
// view, starting/stopping an instance from the command palette. Run by e2e/run.sh, which starts
// code-server and sets CS_URL, CS_FOLDER, FLUX_E2E_RUN and CS_PGID.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('path');
const { artifactsDir, launch, workbenchUrl, runCommand, runBrokerPids } = require('./browser');

const VIEW = '[id="workbench.view.extension.flux"]';
const ROWS = `${VIEW} .monaco-list-row`;

let browser;
let page;
let statusWhenStopped = '';
const STATUS = '.statusbar-item';

async function fluxStatusText() {
  const item = page.locator(STATUS, { hasText: 'Flux' }).first();
  await item.waitFor({ timeout: 10000 });
  return (await item.innerText()).trim();
}

async function sleep(ms) {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

/** Rows of the Brokers tree as rendered: label, description, aria-level (1 = root). */
async function readRows() {
  return page.locator(ROWS).evaluateAll((rows) =>
    rows.map((r) => ({
      label: (r.querySelector('.label-name')?.textContent || '').trim(),
      description: (r.querySelector('.label-description')?.textContent || '').trim(),
      level: Number(r.getAttribute('aria-level')),
      expanded: r.getAttribute('aria-expanded'),
    })),
  );
}

before(async () => {
  const base = process.env.CS_URL;
  const folder = process.env.CS_FOLDER;
  assert.ok(base && folder, 'CS_URL and CS_FOLDER must be set: run `bash e2e/run.sh`');
  ({ page, close: browser } = await launch());
  await page.goto(workbenchUrl(base, folder));
  await page.locator('.monaco-workbench').waitFor({ timeout: 60000 });
  // The extension's contributions are in once its activity-bar item appears.
  await page.locator('.activitybar [aria-label^="Flux"]').first().waitFor({ timeout: 60000 });
});

after(async () => {
  if (page) await page.screenshot({ path: path.join(artifactsDir(), 'ui-last.png') }).catch(() => undefined);
  if (browser) await browser();
});

test('the Flux activity-bar item opens the Brokers view', async () => {
  await page.locator('.activitybar [aria-label^="Flux"]').first().click();
  const view = page.locator(VIEW);
  await view.waitFor({ state: 'visible', timeout: 15000 });
  // One view in the container: its pane header is hidden and the container title reads "FLUX: BROKERS".
  await page.locator('.part.sidebar .composite.title', { hasText: /Flux/i }).first().waitFor({ timeout: 15000 });
  assert.match(await page.locator('.part.sidebar .composite.title').first().innerText(), /Flux\W+Brokers/i);
  assert.equal(await view.locator('.pane-header[aria-label^="Brokers"]').count(), 1, 'no Brokers view in the Flux container');
  // No instance yet: the welcome content with its start button.
  await view.getByText('No Flux instance is running').waitFor({ timeout: 15000 });
  assert.equal(await page.locator(ROWS).count(), 0);
  statusWhenStopped = await fluxStatusText();
});

test('"Flux: Start Local Instance" shows 4 brokers as the kary:2 tree', async () => {
  await runCommand(page, 'Flux: Start Local Instance');

  // Wait for the 4 ranks; expand any collapsed node on the way (rank 0, rank 1).
  let rows = [];
  const deadline = Date.now() + 30000;
  while (Date.now() < deadline) {
    rows = await readRows();
    const collapsed = page.locator(`${ROWS}[aria-expanded="false"]`);
    if (await collapsed.count()) {
      await collapsed.first().locator('.monaco-tl-twistie').click();
      continue;
    }
    if (rows.length === 4 && rows.every((r) => /\bonline\b/.test(r.description))) break;
    await sleep(200);
  }
  const seen = rows.map((r) => `${'  '.repeat(Math.max(r.level - 1, 0))}${r.label} (${r.description})`).join('\n');
  assert.deepEqual(rows.map((r) => [r.label, r.level]), [['rank 0', 1], ['rank 1', 2], ['rank 3', 3], ['rank 2', 2]],
    `Brokers view rows:\n${seen}`);
  for (const r of rows) assert.match(r.description, /\bonline\b/, `${r.label}: ${r.description}`);

  // The status bar item shows the instance state: not what it said while stopped.
  const status = await fluxStatusText();
  assert.notEqual(status, statusWhenStopped, `status bar still says ${JSON.stringify(status)} with the instance running`);

  await sleep(500); // let the progress toast finish sliding out before the picture
  await page.screenshot({ path: path.join(artifactsDir(), 'brokers-view.png') });
});

test('"Flux: Stop Instance" empties the view and leaves no broker process', async () => {
  const before = runBrokerPids();
  assert.ok(before.length >= 4, `expected the instance's broker processes before stop, found ${JSON.stringify(before)}`);
  await runCommand(page, 'Flux: Stop Instance');
  await page.locator(VIEW).getByText('No Flux instance is running').waitFor({ timeout: 30000 });
  assert.equal(await page.locator(ROWS).count(), 0);
  let left = runBrokerPids();
  for (let i = 0; i < 50 && left.length; i++) {
    await sleep(100);
    left = runBrokerPids();
  }
  assert.deepEqual(left, [], `broker processes left after "Flux: Stop Instance": ${left.join(', ')}`);
});
