/**
 * Broker modules over flux-core's RPCs, each sent to one rank (nodeid): `module.list`,
 * `module.load {path,args[,name]}`, `module.remove {name,cancel}`. The modules a user may
 * load come from the modprobe table (this build's modules plus FLUX_MODPROBE_PATH's TOML files),
 * the bundled dist/modules/*.js, and any module file the user picks.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Flux } from '../../../broker/src/common/libflux/handle';
import { loadConfig } from '../../../broker/src/common/libmodprobe/config';
import { parseModuleList, type ModuleInfo } from '../../../broker/src/module/module-info';

/** flux module list's S column: I(nit) R(unning) F(inalizing) X (exited). */
export const MODULE_STATES = ['init', 'running', 'finalizing', 'exited'] as const;

export function moduleState(status: number): string {
  return MODULE_STATES[status] ?? `state ${status}`;
}

export async function listModules(h: Flux, rank: number): Promise<ModuleInfo[]> {
  return parseModuleList(await h.rpc('module.list', {}, { nodeid: rank }).get<{ mods?: unknown }>());
}

export async function loadModule(h: Flux, rank: number, spec: string, args: string[], name?: string): Promise<void> {
  const req: Record<string, unknown> = { path: spec, args };
  if (name) req.name = name;
  await h.rpc('module.load', req, { nodeid: rank }).response();
}

export async function removeModule(h: Flux, rank: number, name: string): Promise<void> {
  await h.rpc('module.remove', { name, cancel: false }, { nodeid: rank }).response();
}

/** Split an argument line the way a shell would for simple words (quotes group, no expansion). */
export function splitArgs(line: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(line)) !== null) out.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : (m[2] ?? m[3]));
  return out;
}

export interface KnownModule {
  /** What `module.load` gets as path. */
  module: string;
  name: string;
  /** Where it came from, for the quick pick. */
  detail: string;
  /** Default arguments from the modprobe table. */
  args: string[];
}

/** The modules this broker build knows: modprobe's table, then any other bundled module file. */
export async function knownModules(extensionPath: string): Promise<KnownModule[]> {
  const out = new Map<string, KnownModule>();
  try {
    const cfg = await loadConfig(process.env);
    for (const name of cfg.order) {
      const e = cfg.entries.get(name);
      if (e) out.set(e.name, { module: e.module, name: e.name, args: e.args, detail: `modprobe${e.ranks !== undefined ? `, ranks ${e.ranks}` : ''}${e.provides.length ? `, provides ${e.provides.join(',')}` : ''}` });
    }
  } catch {
    // a broken FLUX_MODPROBE_PATH file: the bundled modules are still worth offering
  }
  try {
    for (const f of fs.readdirSync(path.join(extensionPath, 'dist', 'modules')).sort()) {
      const m = /^(.*)\.js$/.exec(f);
      if (m && !out.has(m[1])) out.set(m[1], { module: m[1], name: m[1], args: [], detail: 'bundled' });
    }
  } catch {
    // not built
  }
  return [...out.values()];
}
