/**
 * flux-modprobe's module configuration: which modules exist, on which ranks
 * they load, what they provide, require and must follow. The table below is
 * this build's own modprobe.toml (only modules it really has); TOML files in
 * the directories of `FLUX_MODPROBE_PATH` (colon-separated, `*.toml` in name
 * order) add entries, replace entries of the same name, set `alternatives`
 * (e.g. `alternatives.sched = "sched-simple"`) and update single entries with
 * a `[NAME]` table — the keys flux-core's modprobe.toml documents.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';

export interface ModuleEntry {
  name: string;
  /** What `module.load` gets as path: a bundled module name or a file. */
  module: string;
  provides: string[];
  priority: number;
  args: string[];
  exec: boolean;
  /** RFC 22 idset, or `>N` / `<N`; undefined = every rank. */
  ranks?: string;
  requires: string[];
  after: string[];
  before: string[];
  needs: string[];
  needsConfig: string[];
  needsAttrs: string[];
}

/** The modules this build has, with flux-core's placement and ordering rules. */
const BUILTIN_TABLE: Partial<ModuleEntry>[] = [
  { name: 'heartbeat' },
  // content store and KVS, as flux-core's modprobe.toml places them (issue 5)
  { name: 'content', requires: ['heartbeat', 'content-backing'] },
  { name: 'content-sqlite', ranks: '0', provides: ['content-backing'], after: ['content'] },
  { name: 'kvs', after: ['content-backing', 'content'], requires: ['content', 'heartbeat'] },
  { name: 'kvs-watch', after: ['kvs'], requires: ['kvs'] },
  { name: 'resource', after: ['kvs-watch'], requires: ['kvs-watch'] },
  // the job pipeline (issue 8), placed as flux-core's modprobe.toml places it
  { name: 'job-manager', ranks: '0', after: ['resource', 'kvs'], requires: ['kvs'] },
  { name: 'job-info', after: ['kvs-watch'], requires: ['kvs-watch'] },
  { name: 'job-list', ranks: '0', after: ['job-manager'], requires: ['job-manager'] },
  { name: 'job-ingest', after: ['job-manager', 'kvs'], requires: ['kvs'] },
  { name: 'job-exec', ranks: '0', after: ['job-manager'], requires: ['job-manager'] },
  { name: 'sched-simple', ranks: '0', provides: ['sched', 'feasibility'], after: ['job-manager', 'resource'], requires: ['job-manager', 'resource'] },
  // Fluxion (issue 10), as flux-sched's fluxion.toml places it: the default scheduler (priority over
  // sched-simple), three modules on rank 0; `alternatives.sched = "sched-simple"` picks sched-simple instead
  { name: 'sched-fluxion-resource', ranks: '0', priority: 200, after: ['job-manager', 'resource'], requires: ['resource'] },
  { name: 'sched-fluxion-feasibility', ranks: '0', priority: 200, provides: ['feasibility'], after: ['sched-fluxion-resource'], requires: ['sched-fluxion-resource'] },
  { name: 'sched-fluxion-qmanager', ranks: '0', priority: 200, provides: ['sched'], after: ['sched-fluxion-resource', 'job-manager'], requires: ['sched-fluxion-resource', 'job-manager'] },
];

/** What `flux modprobe rc1` loads (flux-core's rc1 list; names this build lacks are skipped). */
export const RC1_MODULES = [
  'content', 'heartbeat', 'cron', 'content-backing', 'kvs', 'kvs-watch', 'sdbus', 'sdbus-sys',
  'sdexec', 'sdmon', 'resource', 'job-manager', 'job-list', 'job-info', 'job-ingest', 'job-exec',
];
/** Loaded by rc1 unless FLUX_SCHED_MODULE=none. */
export const RC1_SCHED = ['sched', 'feasibility'];

export interface ModprobeConfig {
  entries: Map<string, ModuleEntry>;
  /** Load order of entries (ties in priority go to the later one). */
  order: string[];
  alternatives: Map<string, string>;
  disabled: Set<string>;
}

function strings(v: unknown, key: string, where: string): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new Error(`${where}: ${key} must be an array of strings`);
  return v as string[];
}

export function makeEntry(raw: Record<string, unknown>, where: string): ModuleEntry {
  const name = raw.name;
  if (typeof name !== 'string' || name === '') throw new Error(`${where}: module entry is missing required key 'name'`);
  const at = `${where}: ${name}`;
  const known = new Set(['name', 'module', 'provides', 'priority', 'args', 'exec', 'ranks', 'requires', 'after', 'before', 'needs', 'needs-config', 'needs-attrs']);
  for (const k of Object.keys(raw)) if (!known.has(k)) throw new Error(`${at}: unknown key '${k}'`);
  if (raw.module !== undefined && typeof raw.module !== 'string') throw new Error(`${at}: module must be a string`);
  if (raw.priority !== undefined && (typeof raw.priority !== 'number' || !Number.isInteger(raw.priority))) throw new Error(`${at}: priority must be an integer`);
  if (raw.exec !== undefined && typeof raw.exec !== 'boolean') throw new Error(`${at}: exec must be a boolean`);
  if (raw.ranks !== undefined && typeof raw.ranks !== 'string') throw new Error(`${at}: ranks must be a string`);
  return {
    name,
    module: (raw.module as string | undefined) ?? name,
    provides: strings(raw.provides, 'provides', at),
    priority: (raw.priority as number | undefined) ?? 100,
    args: strings(raw.args, 'args', at),
    exec: (raw.exec as boolean | undefined) ?? false,
    ranks: raw.ranks as string | undefined,
    requires: strings(raw.requires, 'requires', at),
    after: strings(raw.after, 'after', at),
    before: strings(raw.before, 'before', at),
    needs: strings(raw.needs, 'needs', at),
    needsConfig: strings(raw['needs-config'], 'needs-config', at),
    needsAttrs: strings(raw['needs-attrs'], 'needs-attrs', at),
  };
}

export function emptyConfig(): ModprobeConfig {
  return { entries: new Map(), order: [], alternatives: new Map(), disabled: new Set() };
}

export function addEntry(cfg: ModprobeConfig, e: ModuleEntry): void {
  cfg.entries.set(e.name, e);
  cfg.order = cfg.order.filter((n) => n !== e.name);
  cfg.order.push(e.name);
}

/** Apply one parsed TOML document (flux-core's modprobe.toml keys). */
export function applyToml(cfg: ModprobeConfig, doc: Record<string, unknown>, where: string): void {
  const mods = doc.modules;
  if (mods !== undefined) {
    if (!Array.isArray(mods)) throw new Error(`${where}: modules must be an array of tables`);
    for (const m of mods as unknown[]) {
      if (typeof m !== 'object' || m === null) throw new Error(`${where}: modules must be an array of tables`);
      addEntry(cfg, makeEntry(m as Record<string, unknown>, where));
    }
  }
  const alt = doc.alternatives;
  if (alt !== undefined) {
    if (typeof alt !== 'object' || alt === null) throw new Error(`${where}: alternatives must be a table`);
    for (const [k, v] of Object.entries(alt)) {
      if (typeof v !== 'string') throw new Error(`${where}: alternatives.${k} must be a string`);
      cfg.alternatives.set(k, v);
    }
  }
  for (const [k, v] of Object.entries(doc)) {
    if (k === 'modules' || k === 'alternatives') continue;
    const e = cfg.entries.get(k);
    if (!e || typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${where}: ${k}: no such module to update`);
    const merged = makeEntry({ ...entryToRaw(e), ...(v as Record<string, unknown>), name: e.name }, where);
    cfg.entries.set(e.name, merged);
  }
}

export function entryToRaw(e: ModuleEntry): Record<string, unknown> {
  const raw: Record<string, unknown> = { name: e.name, module: e.module, provides: e.provides, priority: e.priority, args: e.args, exec: e.exec };
  if (e.ranks !== undefined) raw.ranks = e.ranks;
  raw.requires = e.requires;
  raw.after = e.after;
  raw.before = e.before;
  raw.needs = e.needs;
  raw['needs-config'] = e.needsConfig;
  raw['needs-attrs'] = e.needsAttrs;
  return raw;
}

/** The built-in table, then the TOML files of FLUX_MODPROBE_PATH, then FLUX_MODPROBE_DISABLE. */
export async function loadConfig(env: NodeJS.ProcessEnv = process.env, extraFile?: string): Promise<ModprobeConfig> {
  const cfg = emptyConfig();
  for (const raw of BUILTIN_TABLE) addEntry(cfg, makeEntry(raw, 'builtin'));
  const files: string[] = [];
  for (const dir of (env.FLUX_MODPROBE_PATH ?? '').split(':').filter(Boolean)) {
    let names: string[];
    try {
      names = (await fs.readdir(dir)).filter((n) => n.endsWith('.toml')).sort();
    } catch {
      continue;
    }
    files.push(...names.map((n) => path.join(dir, n)));
  }
  if (extraFile) files.push(extraFile);
  // smol-toml is an ES module: loaded only when there is TOML to read.
  const parseToml = files.length > 0 ? (await import('smol-toml')).parse : undefined;
  for (const f of files) {
    const text = await fs.readFile(f, 'utf8');
    let doc: Record<string, unknown>;
    try {
      doc = parseToml!(text) as Record<string, unknown>;
    } catch (e) {
      throw new Error(`${f}: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`, { cause: e });
    }
    applyToml(cfg, doc, f);
  }
  for (const n of (env.FLUX_MODPROBE_DISABLE ?? '').split(',').map((s) => s.trim()).filter(Boolean)) cfg.disabled.add(n);
  return cfg;
}
