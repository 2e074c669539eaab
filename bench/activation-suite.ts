/**
 * Bench-only extension-host entry (extensionTestsPath), bundled on the fly by bench/activation.ts
 * into out/bench/activation-suite.js with `vscode` external. run() activates the Flux extension,
 * reads `activationMs` (measured by activate() itself) from the API object it returns, times the
 * `await ext.activate()` call around it; then (issue 7's figures) starts a local instance with the
 * Start command and times it to a Brokers view holding every rank, puts 10,000 keys and times the
 * KVS view's first page of that directory, and notes the extension host's memory growth; writes
 * all to the JSON file named by $FLUX_BENCH_ACTIVATION_OUT (set in code-server's environment),
 * stops the instance and returns: the workbench then closes the extension host and calls
 * window.codeAutomationExit(0).
 */
import * as fs from 'node:fs';
import { Flux } from '../broker/src/common/libflux/handle';
import { KvsTxn, commit } from '../broker/src/common/libkvs/client';
// Runs inside the VS Code extension host, like test/e2e/suite (which the ESLint rule exempts).
import * as vscode from 'vscode';

const EXTENSION_ID = 'flux-vscode.flux-vscode';

export interface ActivationSample {
  ok: boolean;
  /** The extension was already active before our activate() call (then wallMs is ~0). */
  wasActive?: boolean;
  /** `activationMs` from the API object, if it is a number. */
  activationMs?: number;
  /** Wall time of `await ext.activate()` in the extension host. */
  wallMs?: number;
  /** How long the extension host process had been running when activation finished. */
  hostUptimeMs?: number;
  /** From the Start command to a Brokers view listing all 4 ranks. */
  startToViewMs?: number;
  /** First page of a 10,000-key directory in the KVS view (getChildren). */
  kvsFirstPageMs?: number;
  kvsFirstPageRows?: number;
  /** Extension host RSS growth from before the start to after the KVS page, MiB. */
  hostRssDeltaMiB?: number;
  error?: string;
}

interface Provider {
  getChildren(e?: unknown): vscode.ProviderResult<unknown[]>;
  getTreeItem(e: unknown): vscode.TreeItem | Thenable<vscode.TreeItem>;
}

async function labelOf(p: Provider, e: unknown): Promise<string> {
  const l = (await p.getTreeItem(e)).label;
  return typeof l === 'string' ? l : (l?.label ?? '');
}

/** Every node under `e`, depth first (the Brokers view: ranks nest as the TBON). */
async function countRanks(p: Provider, e?: unknown): Promise<number> {
  let n = 0;
  for (const c of (await p.getChildren(e)) ?? []) {
    if (/^rank \d+$/.test(await labelOf(p, c))) n += 1 + (await countRanks(p, c));
  }
  return n;
}

async function child(p: Provider, e: unknown, label: string): Promise<unknown> {
  for (const c of (await p.getChildren(e)) ?? []) if ((await labelOf(p, c)) === label) return c;
  throw new Error(`no ${label} in the view`);
}

async function workload(api: { brokers: Provider; kvs: Provider }): Promise<Partial<ActivationSample>> {
  const rss0 = process.memoryUsage().rss;
  const t0 = performance.now();
  const uri = await vscode.commands.executeCommand<string>('flux.instance.ensureStarted');
  for (;;) {
    if ((await countRanks(api.brokers)) >= 4) break;
    if (performance.now() - t0 > 60_000) throw new Error('the Brokers view never showed 4 ranks');
    await new Promise((r) => setTimeout(r, 5));
  }
  const startToViewMs = performance.now() - t0;
  const h = await Flux.open(uri);
  try {
    const txn = new KvsTxn();
    for (let i = 0; i < 10_000; i++) txn.put(`bench10k.k${i}`, String(i));
    await commit(h, txn);
  } finally {
    h.close();
  }
  await vscode.commands.executeCommand('flux.views.kvs.refresh');
  const primary = await child(api.kvs, undefined, 'primary');
  const dir = await child(api.kvs, primary, 'bench10k');
  const t1 = performance.now();
  const page = (await api.kvs.getChildren(dir)) ?? [];
  const kvsFirstPageMs = performance.now() - t1;
  const hostRssDeltaMiB = (process.memoryUsage().rss - rss0) / 1048576;
  await vscode.commands.executeCommand('flux.instance.stop');
  return { startToViewMs, kvsFirstPageMs, kvsFirstPageRows: page.length, hostRssDeltaMiB };
}

export async function run(): Promise<void> {
  const out = process.env.FLUX_BENCH_ACTIVATION_OUT;
  const write = (s: ActivationSample): void => {
    if (out) fs.writeFileSync(out, JSON.stringify(s));
  };
  try {
    const ext = vscode.extensions.getExtension(EXTENSION_ID);
    if (!ext) throw new Error(`extension ${EXTENSION_ID} is not loaded`);
    const wasActive = ext.isActive;
    const t0 = performance.now();
    const api: unknown = await ext.activate();
    const wallMs = performance.now() - t0;
    const hostUptimeMs = process.uptime() * 1000;
    const raw = typeof api === 'object' && api !== null ? (api as { activationMs?: unknown }).activationMs : undefined;
    if (typeof raw !== 'number' || !Number.isFinite(raw)) {
      throw new Error(`activate() returned no numeric activationMs (got ${typeof raw})`);
    }
    const work = await workload(api as { brokers: Provider; kvs: Provider });
    write({ ok: true, wasActive, activationMs: raw, wallMs, hostUptimeMs, ...work });
  } catch (e) {
    write({ ok: false, error: e instanceof Error ? e.message : String(e) });
    throw e;
  }
}
