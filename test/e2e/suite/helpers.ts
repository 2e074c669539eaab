// Shared helpers of the in-extension-host suites: the extension's API, waiting, tree walking,
// and the bundled `flux` CLI (run as a child process to check what the extension did).
import * as assert from 'assert';
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import type { FluxExtensionApi } from '../../../extension/src/main';
import { Flux } from '../../../broker/src/common/libflux/handle';

export const EXTENSION_ID = 'flux-vscode.flux-vscode';

/** The API returned by the extension's activate(): the contract is extension/src/main.ts's own type. */
export type { FluxExtensionApi } from '../../../extension/src/main';

export interface StartResult {
  uri: string;
  size: number;
}

export async function activateExtension(): Promise<{ api: FluxExtensionApi; root: string }> {
  const ext = vscode.extensions.getExtension<FluxExtensionApi>(EXTENSION_ID);
  assert.ok(ext, `extension ${EXTENSION_ID} is not loaded`);
  const api = await ext.activate();
  assert.ok(api && api.instance && api.brokers, 'activate() did not return { instance, brokers }');
  return { api, root: ext.extensionPath };
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw e; // EPERM would mean "alive but not ours": not expected here
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it returns true or `ms` elapses; returns its last answer. */
export async function waitFor(check: () => boolean | Promise<boolean>, ms: number, every = 100): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(every);
  }
}

export function labelText(label: string | vscode.TreeItemLabel | undefined): string {
  return typeof label === 'string' ? label : (label?.label ?? '');
}

export function descriptionText(d: string | boolean | undefined): string {
  return typeof d === 'string' ? d : '';
}

export interface Row {
  node: unknown;
  label: string;
  description: string;
  id: string | undefined;
  contextValue: string | undefined;
  item: vscode.TreeItem;
}

/** The children of `element` as the view would render them. */
export async function rows(provider: vscode.TreeDataProvider<unknown>, element?: unknown): Promise<Row[]> {
  const nodes = (await provider.getChildren(element)) ?? [];
  const out: Row[] = [];
  for (const node of nodes) {
    const item = await provider.getTreeItem(node);
    out.push({ node, item, label: labelText(item.label), description: descriptionText(item.description), id: item.id, contextValue: item.contextValue });
  }
  return out;
}

/** Follows labels from the root (e.g. ['primary', 'test', 'greeting']); undefined if a step is missing. */
export async function findPath(provider: vscode.TreeDataProvider<unknown>, labels: string[]): Promise<Row | undefined> {
  let parent: unknown = undefined;
  let found: Row | undefined;
  for (const l of labels) {
    found = (await rows(provider, parent)).find((r) => r.label === l);
    if (!found) return undefined;
    parent = found.node;
  }
  return found;
}

/** Finds a row by its tree item id anywhere below `element` (depth first, ranks only expanded as needed). */
export async function findById(provider: vscode.TreeDataProvider<unknown>, id: string, element?: unknown, depth = 0): Promise<Row | undefined> {
  if (depth > 12) return undefined;
  for (const r of await rows(provider, element)) {
    if (r.id === id) return r;
    if (r.item.collapsibleState !== vscode.TreeItemCollapsibleState.None && id.startsWith(`${r.id ?? ''}.`)) {
      const below = await findById(provider, id, r.node, depth + 1);
      if (below) return below;
    }
  }
  return undefined;
}

/** The bundled `flux` CLI against FLUX_URI; resolves with stdout, rejects with stderr in the message. */
export function fluxCli(root: string, uri: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(process.execPath, [path.join(root, 'dist/flux.js'), ...args], {
      env: { ...process.env, FLUX_URI: uri, ELECTRON_RUN_AS_NODE: '1' }, maxBuffer: 64 << 20, timeout: 60000,
    }, (err, stdout, stderr) => {
      if (err) reject(new Error(`flux ${args.join(' ')}: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

export function tmpDir(tag: string): string {
  return fs.mkdtempSync(path.join(fs.realpathSync(os.tmpdir()), `flux-e2e-${tag}-`));
}

/** The rank's row, walking only broker rows (ranks nest as the TBON). */
export async function rankRow(api: FluxExtensionApi, rank: number): Promise<Row> {
  const walk = async (element: unknown): Promise<Row | undefined> => {
    for (const r of await rows(api.brokers, element)) {
      if (!/^flux\.broker\.\d+$/.test(r.id ?? '')) continue;
      if (r.id === `flux.broker.${rank}`) return r;
      const below = await walk(r.node);
      if (below) return below;
    }
    return undefined;
  };
  const r = await walk(undefined);
  assert.ok(r, `rank ${rank} is not in the Brokers view`);
  return r;
}

/** The extension's instance, started if need be, with every one of its 4 ranks online; a handle on it. */
export async function startedAllOnline(): Promise<{ uri: string; h: Flux }> {
  const uri = await vscode.commands.executeCommand<string>('flux.instance.ensureStarted');
  assert.match(uri, /^local:\/\//, `ensureStarted returned ${uri}`);
  const h = await Flux.open(uri);
  const ok = await waitFor(async () => {
    const r = await h.rpc('groups.get', { name: 'broker.online' }, { nodeid: 0 }).get<{ members: string }>().catch(() => undefined);
    return r?.members === '0-3';
  }, 20000, 200);
  assert.ok(ok, 'not all 4 ranks came online');
  return { uri, h };
}
