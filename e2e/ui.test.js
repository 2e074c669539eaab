'use strict';
// UI check in a real workbench (code-server + chromium): the Flux activity-bar item, the Brokers
// view, starting/stopping an instance from the command palette. Run by e2e/run.sh, which starts
// code-server and sets CS_URL, CS_FOLDER, FLUX_E2E_RUN and CS_PGID.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('path');
const { artifactsDir, launch, workbenchUrl, runCommand, runBrokerPids } = require('./browser');

const VIEW = '[id="workbench.view.extension.flux"]';
const pane = (name) => `${VIEW} .pane:has(> .pane-header[aria-label^="${name}"])`;
const ROWS = `${pane('Brokers')} .monaco-list-row`;

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
  // Three views in the container, each with its pane header: Brokers, KVS, Archives.
  await page.locator('.part.sidebar .composite.title', { hasText: /Flux/i }).first().waitFor({ timeout: 15000 });
  for (const name of ['Brokers', 'KVS', 'Archives']) {
    assert.equal(await view.locator(`.pane-header[aria-label^="${name}"]`).count(), 1, `no ${name} view in the Flux container`);
  }
  // No instance yet: the welcome content with its start button.
  await page.locator(pane('Brokers')).getByText('No Flux instance is running').waitFor({ timeout: 15000 });
  assert.equal(await page.locator(ROWS).count(), 0);
  statusWhenStopped = await fluxStatusText();
});

test('"Flux: Start Local Instance" shows 4 brokers as the kary:2 tree', async () => {
  await runCommand(page, 'Flux: Start Local Instance');

  // Wait for the 4 ranks (ranks with children open expanded; each rank also has a "modules" folder).
  let rows = [];
  const deadline = Date.now() + 30000;
  while (Date.now() < deadline) {
    rows = (await readRows()).filter((r) => r.label.startsWith('rank '));
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

  // Room for the Brokers tree (rows outside the pane are not in the DOM): fold the KVS and Archives panes.
  for (const name of ['KVS', 'Archives']) {
    const header = page.locator(`${VIEW} .pane-header[aria-label^="${name}"]`);
    if ((await header.getAttribute('aria-expanded')) === 'true') await header.click();
  }
  // Expand rank 2 (a leaf of the TBON: collapsed), then its modules: module.list on rank 2 fills it.
  const rank2 = page.locator(ROWS, { hasText: 'rank 2' }).first();
  await rank2.locator('.monaco-tl-twistie').click();
  const folders = page.locator(`${ROWS}[aria-level="3"]`, { hasText: 'modules' }); // rank 1's, then rank 2's
  for (let i = 0; i < 100 && (await folders.count()) < 2; i++) await sleep(100);
  const folder = folders.last();
  await folder.locator('.monaco-tl-twistie').click();
  await page.locator(ROWS, { hasText: 'kvs-watch' }).first().waitFor({ timeout: 15000 });
  const mods = (await readRows()).filter((r) => r.level === 4);
  assert.ok(mods.some((r) => r.label === 'kvs' && /^running/.test(r.description)), `modules of rank 2: ${JSON.stringify(mods)}`);
  assert.ok(!mods.some((r) => r.label === 'content-sqlite'), 'content-sqlite is listed on rank 2');

  await sleep(500); // let the progress toast finish sliding out before the picture
  await page.screenshot({ path: path.join(artifactsDir(), 'brokers-view.png') });
});

/** Opens the context menu of a tree row and runs the entry titled `entry` (keyboard walk: see vscode-testing.md §8). */
async function contextMenu(row, entry) {
  await row.click({ button: 'right' });
  const menu = page.locator('.context-view .monaco-menu');
  await menu.waitFor({ timeout: 10000 });
  await sleep(300);
  for (let i = 0; i < 30; i++) {
    await page.keyboard.press('ArrowDown');
    const focused = (await menu.locator('.action-item.focused').innerText().catch(() => '')).trim();
    if (focused.startsWith(entry)) {
      await page.keyboard.press('Enter');
      return;
    }
  }
  throw new Error(`no "${entry}" in the context menu`);
}

test('context menu of a rank: "Show Attributes of Rank" opens them read-only', async () => {
  await contextMenu(page.locator(ROWS, { hasText: 'rank 2' }).first(), 'Show Attributes of Rank');
  await page.locator('.tabs-container .tab', { hasText: 'rank-2.attributes' }).waitFor({ timeout: 15000 });
  await page.locator('.monaco-editor .view-lines', { hasText: 'broker.pid' }).first().waitFor({ timeout: 15000 });
  await sleep(300);
  await page.screenshot({ path: path.join(artifactsDir(), 'rank-attributes.png') });
});

test('"Flux: KVS Put…" from the palette: the key shows in the KVS view with its value', async () => {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible' });
  await input.fill('>Flux: KVS Put');
  await page.locator('.quick-input-list .monaco-list-row').filter({ hasText: 'Flux: KVS Put' }).first().click();
  const message = page.locator('.quick-input-widget .quick-input-message');
  await message.filter({ hasText: 'Key (components' }).waitFor({ timeout: 10000 });
  await input.fill('demo.greeting');
  await page.keyboard.press('Enter');
  await message.filter({ hasText: 'Value (stored' }).waitFor({ timeout: 10000 });
  await input.fill('hello from the palette');
  await page.keyboard.press('Enter');
  await page.locator('.quick-input-widget').waitFor({ state: 'hidden' });
  // Show the KVS pane (fold Brokers), open primary > demo.
  const brokers = page.locator(`${VIEW} .pane-header[aria-label^="Brokers"]`);
  if ((await brokers.getAttribute('aria-expanded')) === 'true') await brokers.click();
  const kvsHeader = page.locator(`${VIEW} .pane-header[aria-label^="KVS"]`);
  if ((await kvsHeader.getAttribute('aria-expanded')) !== 'true') await kvsHeader.click();
  const kvsRows = `${pane('KVS')} .monaco-list-row`;
  for (const label of ['primary', 'demo']) {
    const row = page.locator(kvsRows).filter({ has: page.locator('.label-name', { hasText: new RegExp(`^${label}$`) }) }).first();
    await row.waitFor({ timeout: 15000 });
    if ((await row.getAttribute('aria-expanded')) !== 'true') await row.locator('.monaco-tl-twistie').click();
  }
  const greeting = page.locator(kvsRows, { hasText: 'greeting' }).first();
  await greeting.waitFor({ timeout: 15000 });
  assert.equal((await greeting.locator('.label-description').innerText()).trim(), 'hello from the palette');
  await sleep(300);
  await page.screenshot({ path: path.join(artifactsDir(), 'kvs-view.png') });
  // Back to the Brokers pane for the next test.
  await brokers.click();
});

test('Explorer context menu "Create Archive…" on a file: the Archives view lists it', async () => {
  await page.locator('.activitybar [aria-label^="Explorer"]').first().click();
  const file = page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'README.md' }).first();
  await file.waitFor({ timeout: 15000 });
  await contextMenu(file, 'Create Archive…');
  const input = page.locator('.quick-input-widget input');
  await page.locator('.quick-input-widget .quick-input-message', { hasText: 'Archive name' }).waitFor({ timeout: 10000 });
  await input.fill('ui-archive');
  await page.keyboard.press('Enter');
  await page.locator('.quick-input-widget').waitFor({ state: 'hidden' });
  await page.locator('.activitybar [aria-label^="Flux"]').first().click();
  for (const [name, open] of [['Brokers', false], ['KVS', false], ['Archives', true]]) {
    const header = page.locator(`${VIEW} .pane-header[aria-label^="${name}"]`);
    if (((await header.getAttribute('aria-expanded')) === 'true') !== open) await header.click();
  }
  const row = page.locator(`${pane('Archives')} .monaco-list-row`, { hasText: 'ui-archive' }).first();
  await row.waitFor({ timeout: 15000 });
  assert.match((await row.locator('.label-description').innerText()).trim(), /^1 file, \d+ B$/);
  await row.locator('.monaco-tl-twistie').click();
  await page.locator(`${pane('Archives')} .monaco-list-row`, { hasText: 'README.md' }).first().waitFor({ timeout: 10000 });
  await sleep(300);
  await page.screenshot({ path: path.join(artifactsDir(), 'archives-view.png') });
  // Back to the Brokers pane for the next test.
  await page.locator(`${VIEW} .pane-header[aria-label^="Brokers"]`).click();
});

test('"Flux: Show TBON" draws the 4 ranks live in a webview panel', async () => {
  await runCommand(page, 'Flux: Show TBON');
  // A webview's page sits in two nested iframes.
  const frame = page.frameLocator('iframe.webview').frameLocator('iframe#active-frame');
  await frame.locator('#nodes g[data-rank="3"]').waitFor({ timeout: 20000 });
  assert.strictEqual(await frame.locator('#nodes g').count(), 4);
  await frame.locator('#summary', { hasText: '4 ranks, 4 online' }).waitFor({ timeout: 15000 });
  assert.strictEqual(await frame.locator('#nodes g.online').count(), 4);
  // Hover a rank: its host and state, then its modules (module.list to that rank).
  await frame.locator('#nodes g[data-rank="2"] circle').hover();
  await frame.locator('#tip', { hasText: 'rank 2' }).waitFor({ timeout: 10000 });
  await frame.locator('#tip .mods', { hasText: 'kvs' }).waitFor({ timeout: 10000 });
  await sleep(300);
  await page.screenshot({ path: path.join(artifactsDir(), 'tbon-panel.png') });
  await page.keyboard.press('Control+W');
});

test('"Flux: Stop Instance" empties the view and leaves no broker process', async () => {
  const before = runBrokerPids();
  assert.ok(before.length >= 4, `expected the instance's broker processes before stop, found ${JSON.stringify(before)}`);
  await runCommand(page, 'Flux: Stop Instance');
  await page.locator(pane('Brokers')).getByText('No Flux instance is running').waitFor({ timeout: 30000 });
  assert.equal(await page.locator(ROWS).count(), 0);
  let left = runBrokerPids();
  for (let i = 0; i < 50 && left.length; i++) {
    await sleep(100);
    left = runBrokerPids();
  }
  assert.deepEqual(left, [], `broker processes left after "Flux: Stop Instance": ${left.join(', ')}`);
});
