/**
 * Brokers view actions: load / remove / reload a module on a rank, ping a rank, show its
 * attributes and its dmesg. Each takes the view's node, or (from the palette or another
 * extension) a plain `{ rank, name? }`; without one it asks for the rank.
 */
import * as vscode from 'vscode';
import { listModules, loadModule, knownModules, removeModule, splitArgs } from '../modules/modules-api';
import { reported, withProgress } from '../util/report';
import type { CommandContext, Handler } from './context';

interface RankRef {
  rank: number;
}
interface ModuleRef extends RankRef {
  name: string;
  info?: { path: string };
}
export interface LoadSpec {
  /** Module name (bundled / modprobe) or path to a module file. */
  module: string;
  args?: string[];
  name?: string;
}

function isRankRef(x: unknown): x is RankRef {
  return typeof x === 'object' && x !== null && Number.isInteger((x as RankRef).rank);
}

async function pickRank(ctx: CommandContext, title: string): Promise<number | undefined> {
  const size = ctx.instance.instanceSize;
  if (size <= 1) return 0;
  const pick = await vscode.window.showQuickPick(
    Array.from({ length: size }, (_, r) => ({ label: `rank ${r}`, rank: r })),
    { title, placeHolder: 'Which broker?' },
  );
  return pick?.rank;
}

async function rankOf(ctx: CommandContext, node: unknown, title: string): Promise<number | undefined> {
  ctx.instance.requireFlux();
  return isRankRef(node) ? node.rank : pickRank(ctx, title);
}

async function pickModule(ctx: CommandContext, rank: number): Promise<LoadSpec | undefined> {
  const h = ctx.instance.requireFlux();
  const [known, loaded] = await Promise.all([knownModules(ctx.extensionPath), listModules(h, rank).catch(() => [])]);
  const have = new Set(loaded.map((m) => m.name));
  type Item = vscode.QuickPickItem & { spec?: LoadSpec; browse?: boolean };
  const items: Item[] = known.map((k) => ({
    label: k.name,
    description: have.has(k.name) ? `${k.detail} · loaded` : k.detail,
    detail: k.module !== k.name ? `module ${k.module}` : undefined,
    spec: { module: k.module, args: k.args, name: k.module !== k.name ? k.name : undefined },
  }));
  items.push({ label: '$(folder-opened) Module file…', description: 'a .js module exporting mod_main', browse: true });
  const pick = await vscode.window.showQuickPick(items, { title: `Load Module on rank ${rank}`, placeHolder: 'Module to load (flux module load)', matchOnDescription: true });
  if (!pick) return undefined;
  let spec = pick.spec;
  if (pick.browse) {
    const files = await vscode.window.showOpenDialog({ canSelectMany: false, filters: { 'Flux module': ['js', 'mjs', 'cjs'] }, title: 'Module file' });
    if (!files?.length) return undefined;
    spec = { module: files[0].fsPath };
  }
  if (!spec) return undefined;
  const line = await vscode.window.showInputBox({
    title: `Load ${pick.label} on rank ${rank}`,
    prompt: 'Module arguments (optional), e.g. load-allowlist=node,socket,core',
    value: (spec.args ?? []).join(' '),
  });
  if (line === undefined) return undefined;
  return { ...spec, args: splitArgs(line) };
}

export function brokerCommands(ctx: CommandContext): Record<string, Handler> {
  const { instance, log, refresh, info } = ctx;
  return {
    'flux.broker.loadModule': (node?: unknown, given?: unknown) =>
      reported(log, 'load module', async () => {
        const rank = await rankOf(ctx, node, 'Load Module');
        if (rank === undefined) return undefined;
        const spec = (given as LoadSpec | undefined) ?? (await pickModule(ctx, rank));
        if (!spec) return undefined;
        const h = instance.requireFlux();
        const label = spec.name ?? spec.module;
        try {
          await withProgress(`Loading ${label} on rank ${rank}`, () => loadModule(h, rank, spec.module, spec.args ?? [], spec.name));
        } finally {
          refresh.moduleChanged(rank);
        }
        log.info(`module load ${spec.module}${spec.args?.length ? ` ${spec.args.join(' ')}` : ''} on rank ${rank}`);
        return { rank, module: spec.module };
      }),

    'flux.module.remove': (node?: unknown) =>
      reported(log, 'remove module', async () => {
        const m = node as ModuleRef | undefined;
        if (!m || !isRankRef(m) || typeof m.name !== 'string') throw new Error('choose a module in the Brokers view');
        const h = instance.requireFlux();
        try {
          await withProgress(`Removing ${m.name} from rank ${m.rank}`, () => removeModule(h, m.rank, m.name));
        } finally {
          refresh.moduleChanged(m.rank);
        }
        log.info(`module remove ${m.name} on rank ${m.rank}`);
        return { rank: m.rank, name: m.name };
      }),

    'flux.module.reload': (node?: unknown) =>
      reported(log, 'reload module', async () => {
        const m = node as ModuleRef | undefined;
        if (!m || !isRankRef(m) || typeof m.name !== 'string') throw new Error('choose a module in the Brokers view');
        const h = instance.requireFlux();
        const path = m.info?.path ?? (await listModules(h, m.rank)).find((x) => x.name === m.name)?.path;
        if (!path) throw new Error(`${m.name}: not loaded on rank ${m.rank}`);
        if (path === 'builtin') throw new Error(`${m.name} is built into the broker and cannot be reloaded`);
        try {
          await withProgress(`Reloading ${m.name} on rank ${m.rank}`, async () => {
            await removeModule(h, m.rank, m.name);
            await loadModule(h, m.rank, path, [], m.name);
          });
        } finally {
          refresh.moduleChanged(m.rank);
        }
        log.info(`module reload ${m.name} on rank ${m.rank}`);
        return { rank: m.rank, name: m.name };
      }),

    'flux.broker.ping': (node?: unknown) =>
      reported(log, 'ping', async () => {
        const rank = await rankOf(ctx, node, 'Ping Broker');
        if (rank === undefined) return undefined;
        const h = instance.requireFlux();
        const t0 = process.hrtime.bigint();
        const [sec, nsec] = process.hrtime();
        const r = await h.rpc('broker.ping', { seq: 0, 'time.tv_sec': sec, 'time.tv_nsec': nsec, pad: '' }, { nodeid: rank }).get<{ route?: string }>();
        const ms = Number(process.hrtime.bigint() - t0) / 1e6;
        const text = `rank ${rank}!broker.ping: time=${ms.toFixed(3)} ms${r.route ? ` (route ${r.route})` : ''}`;
        log.info(text);
        void vscode.window.showInformationMessage(`Flux: ${text}`);
        return { rank, ms, route: r.route };
      }),

    'flux.broker.showAttributes': (node?: unknown) =>
      reported(log, 'show attributes', async () => {
        const rank = await rankOf(ctx, node, 'Show Attributes');
        if (rank === undefined) return undefined;
        const doc = await withProgress(`Reading attributes of rank ${rank}`, () => info.open(rank, 'attributes'));
        return doc.uri.toString();
      }),

    /** Every rank's log in one channel, following; `{ fromNow: true }` skips the backlog. */
    'flux.dmesg.show': (opts?: unknown) =>
      reported(log, 'show dmesg', async () => {
        instance.requireFlux();
        let fromNow = (opts as { fromNow?: boolean } | undefined)?.fromNow;
        if (fromNow === undefined) {
          const pick = await vscode.window.showQuickPick(
            [{ label: 'Whole log rings', fromNow: false }, { label: 'New messages only', description: 'from now on', fromNow: true }],
            { title: 'Flux: Show dmesg (all ranks)' },
          );
          if (!pick) return undefined;
          fromNow = pick.fromNow;
        }
        return ctx.dmesg.show(fromNow);
      }),

    'flux.broker.showDmesg': (node?: unknown) =>
      reported(log, 'show dmesg', async () => {
        const rank = await rankOf(ctx, node, 'Show dmesg');
        if (rank === undefined) return undefined;
        const doc = await withProgress(`Reading the log of rank ${rank}`, () => info.open(rank, 'dmesg'));
        return doc.uri.toString();
      }),
  };
}
