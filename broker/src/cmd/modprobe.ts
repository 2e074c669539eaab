/**
 * `flux modprobe SUBCOMMAND`: task and module load/unload management
 * (flux-core's flux-modprobe): `rc1`, `rc3`, `load MODULE...`, `remove
 * MODULE...`, `run FILE.py`, `list`, `list-dependencies MODULE`, `show
 * MODULE`. flux-core's is a Python argparse program; usage errors print as
 * argparse does (exit 2), failures as `flux-modprobe: ERROR: ...` (exit 1).
 */
import * as path from 'node:path';
import { FluxError } from '../common/libflux/errno';
import type { Flux } from '../common/libflux/handle';
import { entryToRaw } from '../common/libmodprobe/config';
import { Modprobe, type BrokerCall } from '../common/libmodprobe/modprobe';
import { runPythonRc } from '../common/libmodprobe/pyrc';
import { ModprobeError } from '../common/libmodprobe/solve';
import { Exit, errln, open, out } from './cli';

const PROG = 'flux-modprobe';
const SUBCOMMANDS = ['load', 'remove', 'run', 'rc1', 'rc3', 'list', 'list-dependencies', 'show'];

interface Spec {
  flags: Record<string, string>;
  /** Options taking a value (long name → short alias or ''). */
  valued?: Record<string, string>;
  positional: { name: string; many?: boolean; help: string };
  /** Subcommands that take no positional. */
  none?: boolean;
}

const SPECS: Record<string, Spec> = {
  load: { flags: { 'dry-run': '' }, positional: { name: 'MODULE', many: true, help: 'Module to load' } },
  remove: { flags: { 'dry-run': '' }, positional: { name: 'MODULE', many: true, help: 'Module to remove' } },
  run: { flags: { 'show-deps': '', verbose: 'v', 'dry-run': '' }, positional: { name: 'FILE', help: 'Run commands defined in Python rc file FILE' } },
  rc1: { flags: { timing: '', 'show-deps': '', verbose: 'v', 'dry-run': '' }, positional: { name: '', help: '' }, none: true },
  rc3: { flags: { verbose: 'v', 'dry-run': '' }, positional: { name: '', help: '' }, none: true },
  list: { flags: {}, positional: { name: '', help: '' }, none: true },
  'list-dependencies': { flags: { full: 'f' }, valued: { 'set-alternative': 'S', disable: 'D' }, positional: { name: 'MODULE', help: 'Module name for which to display dependencies' } },
  show: { flags: {}, valued: { path: '', 'set-alternative': 'S', disable: 'D' }, positional: { name: 'MODULE', help: 'Module name to show' } },
};

function topUsage(): string {
  return `usage: ${PROG} [-h] {${SUBCOMMANDS.join(',')}} ...`;
}

function usageError(usage: string, msg: string): never {
  errln(usage);
  errln(`${PROG}: error: ${msg}`);
  throw new Exit(2);
}

interface Parsed {
  flags: Set<string>;
  values: Map<string, string[]>;
  args: string[];
}

function subUsage(sub: string, s: Spec): string {
  const parts = [`usage: ${PROG} ${sub} [-h]`];
  for (const [long, short] of Object.entries(s.flags)) parts.push(short ? `[-${short}]` : `[--${long}]`);
  for (const [long, short] of Object.entries(s.valued ?? {})) parts.push(short ? `[-${short} ${long.toUpperCase().replace(/-/g, '_')}]` : `[--${long} ${long.toUpperCase()}]`);
  if (!s.none) parts.push(s.positional.many ? `${s.positional.name} [${s.positional.name} ...]` : s.positional.name);
  return parts.join(' ');
}

function parseSub(sub: string, argv: string[]): Parsed {
  const s = SPECS[sub];
  const usage = subUsage(sub, s);
  const p: Parsed = { flags: new Set(), values: new Map(), args: [] };
  const short = new Map<string, { long: string; valued: boolean }>();
  for (const [l, c] of Object.entries(s.flags)) if (c) short.set(c, { long: l, valued: false });
  for (const [l, c] of Object.entries(s.valued ?? {})) if (c) short.set(c, { long: l, valued: true });
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-h' || a === '--help') {
      out.write(`${usage}\n`);
      throw new Exit(0);
    }
    let long: string | undefined;
    let valued = false;
    let inline: string | undefined;
    if (a.startsWith('--') && a.length > 2) {
      const [n, v] = a.slice(2).split(/=(.*)/s, 2);
      if (n in s.flags) long = n;
      else if (s.valued && n in s.valued) [long, valued] = [n, true];
      inline = v;
    } else if (a.startsWith('-') && a.length > 1) {
      const o = short.get(a[1]);
      if (o) [long, valued] = [o.long, o.valued];
      if (a.length > 2) inline = a.slice(2);
    } else {
      p.args.push(a);
      continue;
    }
    if (!long) usageError(topUsage(), `unrecognized arguments: ${a}`);
    if (valued) {
      const v = inline ?? argv[++i];
      if (v === undefined) usageError(usage, `argument --${long}: expected one argument`);
      p.values.set(long, [...(p.values.get(long) ?? []), v]);
    } else {
      p.flags.add(long);
    }
  }
  if (s.none && p.args.length > 0) usageError(topUsage(), `unrecognized arguments: ${p.args.join(' ')}`);
  if (!s.none && p.args.length === 0) usageError(usage, `the following arguments are required: ${s.positional.name}`);
  if (!s.none && !s.positional.many && p.args.length > 1) usageError(topUsage(), `unrecognized arguments: ${p.args.slice(1).join(' ')}`);
  return p;
}

function callOf(h: Flux, nodeid?: number): BrokerCall {
  return async (topic, payload) => await h.rpc(topic, payload, nodeid === undefined ? {} : { nodeid }).get<Record<string, unknown>>();
}

async function rankOf(h: Flux): Promise<number> {
  return Number(await h.getattr('rank'));
}

export async function modprobe(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  if (sub === '-h' || sub === '--help') {
    out.write(`${topUsage()}\n\nTask and module load/unload management for Flux\n\nsubcommands:\n  {${SUBCOMMANDS.join(',')}}\n`);
    return;
  }
  if (sub === undefined) usageError(topUsage(), 'the following arguments are required: subcommand');
  if (!(sub in SPECS)) usageError(topUsage(), `argument subcommand: invalid choice: '${sub}' (choose from ${SUBCOMMANDS.map((s) => `'${s}'`).join(', ')})`);
  const p = parseSub(sub, rest);
  try {
    await runSub(sub, p);
  } catch (e) {
    if (e instanceof Exit) throw e;
    if (e instanceof ModprobeError || e instanceof FluxError || e instanceof Error) {
      errln(`${PROG}: ERROR: ${e.message}`);
      throw new Exit(1);
    }
    throw e;
  }
}

async function offline(p: Parsed): Promise<Modprobe> {
  const mp = await Modprobe.create({ call: () => Promise.reject(new ModprobeError('not connected')), rank: 0 }, p.values.get('path')?.at(-1));
  for (const d of p.values.get('disable') ?? []) mp.cfg.disabled.add(d);
  for (const a of p.values.get('set-alternative') ?? []) {
    const eq = a.indexOf('=');
    if (eq <= 0 || eq === a.length - 1) throw new ModprobeError(`--set-alternative: invalid value '${a}'`);
    mp.cfg.alternatives.set(a.slice(0, eq), a.slice(eq + 1));
  }
  return mp;
}

async function runSub(sub: string, p: Parsed): Promise<void> {
  if (sub === 'show') {
    const mp = await offline(p);
    const node = mp.planner.resolve(p.args[0]);
    if (!node?.entry) throw new ModprobeError(`no such module or task: ${p.args[0]}`);
    out.write(JSON.stringify(entryToRaw(node.entry)) + '\n');
    return;
  }
  if (sub === 'list-dependencies') {
    const mp = await offline(p);
    out.write(dependencyTree(mp, p.args[0], p.flags.has('full')));
    return;
  }
  const h = await open(PROG);
  try {
    const rank = await rankOf(h);
    const opts = { call: callOf(h), rank, dryRun: p.flags.has('dry-run'), verbose: p.flags.has('verbose'), out: (s: string) => out.write(s + '\n'), err: errln };
    const mp = await Modprobe.create(opts);
    let rc = 0;
    switch (sub) {
      case 'rc1':
        rc = await mp.rc1();
        break;
      case 'rc3':
        rc = await mp.rc3();
        break;
      case 'load':
        rc = await mp.load(p.args);
        break;
      case 'remove':
        rc = await mp.remove(p.args);
        break;
      case 'list':
        out.write(await listModules(mp));
        break;
      case 'run':
        rc = await runPythonRc(mp, {
          shim: path.join(__dirname, 'python', 'modprobe_shim.py'),
          file: p.args[0],
          callAt: (topic, payload, nodeid) => callOf(h, nodeid)(topic, payload),
          env: process.env,
        }, p.flags.has('show-deps'));
        break;
    }
    if (rc !== 0) throw new Exit(rc);
  } finally {
    h.close();
  }
}

/** Every configured module: where it loads, what it provides and needs, and whether it is loaded here. */
async function listModules(mp: Modprobe): Promise<string> {
  const loaded = new Set(await mp.loadedModules());
  const rows = [['NAME', 'RANKS', 'PROVIDES', 'REQUIRES', 'LOADED']];
  for (const name of mp.cfg.order) {
    const e = mp.cfg.entries.get(name)!;
    rows.push([e.name, e.ranks ?? 'all', e.provides.join(',') || '-', e.requires.join(',') || '-', loaded.has(e.name) ? 'yes' : mp.cfg.disabled.has(e.name) ? 'disabled' : 'no']);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ')).join('\n') + '\n';
}

/** `list-dependencies`: the requires tree, breadth first, each module once unless --full. */
function dependencyTree(mp: Modprobe, root: string, full: boolean): string {
  interface TreeNode { label: string; children: TreeNode[] }
  const rootNode = mp.planner.resolve(root);
  if (!rootNode) throw new ModprobeError(`no such module or task: ${root}`);
  const top: TreeNode = { label: root, children: [] };
  const visited = new Set<string>();
  const queue: { t: TreeNode; name: string }[] = [{ t: top, name: root }];
  while (queue.length > 0) {
    const { t, name } = queue.shift()!;
    const node = mp.planner.resolve(name);
    if (!node) continue;
    if (!full) visited.add(node.name);
    for (const dep of node.requires) {
      if (visited.has(dep)) continue;
      const child: TreeNode = { label: dep, children: [] };
      t.children.push(child);
      queue.push({ t: child, name: dep });
      if (!full) visited.add(dep);
    }
    if (node.name !== t.label) t.label += ` (${node.name})`;
  }
  const lines: string[] = [top.label];
  const render = (t: TreeNode, prefix: string): void => {
    t.children.forEach((c, i) => {
      const last = i === t.children.length - 1;
      lines.push(`${prefix}${last ? '└── ' : '├── '}${c.label}`);
      render(c, prefix + (last ? '    ' : '│   '));
    });
  };
  render(top, '');
  return lines.join('\n') + '\n';
}
