/**
 * `flux module list [-l]`, `load [--name=NAME] MODULE [ARGS...]`,
 * `remove [-f] NAME`, `reload [-f] [--name=NAME] MODULE [ARGS...]`: flux-core's
 * formats and errors (`flux-module: load NAME: File exists`).
 */
import { FluxError } from '../common/libflux/errno';
import type { Flux } from '../common/libflux/handle';
import { Optparse, has, last } from '../common/liboptparse/optparse';
import { Exit, die, errText, errln, open, out, parseOrExit } from './cli';

const PROG = 'flux-module';

interface ModInfo {
  name: string;
  path: string;
  idle: number;
  status: number;
  services: string[];
  sendqueue: number;
  recvqueue: number;
}

const STATE = ['I', 'R', 'F', 'X'];

export function formatModuleList(mods: ModInfo[], long: boolean): string {
  const lines = [`${'Module'.padEnd(25)} Idle  S Sendq Recvq Service${long ? '  Path' : ''}`];
  for (const m of mods) {
    const idle = m.idle > 99 ? 'idle' : String(m.idle);
    const extra = m.services.filter((s) => s !== m.name).join(',');
    const head = `${m.name.padEnd(25)} ${idle.padStart(4)}  ${STATE[m.status] ?? '?'} ${String(m.sendqueue).padStart(5)} ${String(m.recvqueue).padStart(5)}`;
    if (long) {
      const svc = extra.length > 8 ? extra.slice(0, 7) + '+' : extra;
      lines.push(`${head} ${svc.padEnd(8)} ${m.path}`);
    } else {
      lines.push(`${head} ${extra}`);
    }
  }
  return lines.join('\n') + '\n';
}

const LIST = new Optparse(`${PROG} list`, [{ name: 'long', key: 'l', usage: 'Include full DSO path for each module' }], '[OPTIONS]', 25, 'List loaded modules');
const LOAD = new Optparse(`${PROG} load`, [
  { name: 'name', hasArg: 1, arginfo: 'NAME', usage: 'Override default module name' },
], '[OPTIONS] module', 25, 'Load module');
const REMOVE = new Optparse(`${PROG} remove`, [
  { name: 'force', key: 'f', usage: 'Ignore nonexistent modules' },
], '[OPTIONS] module', 25, 'Unload module');
const RELOAD = new Optparse(`${PROG} reload`, [
  { name: 'name', hasArg: 1, arginfo: 'NAME', usage: 'Override default module name' },
  { name: 'force', key: 'f', usage: 'Ignore nonexistent modules' },
], '[OPTIONS] module');

export const STATS_OPTIONS = new Optparse(`${PROG} stats`, [
  { name: 'parse', key: 'p', hasArg: 1, arginfo: 'OBJNAME', usage: 'Parse object period-delimited object name' },
  { name: 'scale', key: 's', hasArg: 1, arginfo: 'N', usage: 'Scale numeric JSON value by N' },
  { name: 'type', key: 't', hasArg: 1, arginfo: 'int|double', usage: 'Convert JSON value to specified type' },
  { name: 'rusage', key: 'R', hasArg: 2, arginfo: 'self|children|thread', usage: 'Request rusage data instead of stats (default: self)' },
  { name: 'clear', key: 'c', usage: 'Clear stats on target rank' },
  { name: 'clear-all', key: 'C', usage: 'Clear stats on all ranks' },
], '[OPTIONS] module', 25, 'Display stats on module');

/** The text flux-core prints for a failed RPC: the service's own message when it sent one. */
function rpcText(e: unknown): string {
  return e instanceof FluxError ? e.message : errText(e);
}

/** `--parse a.b.c`: the value at that path, printed as flux-core does (optionally scaled/converted). */
export function formatParsed(obj: unknown, objname: string, scale?: number, type?: string): string {
  let v: unknown = obj;
  for (const part of objname.split('.')) {
    if (v === null || typeof v !== 'object' || !(part in v)) throw new Error(`\`${objname}' not found in response`);
    v = (v as Record<string, unknown>)[part];
  }
  if (typeof v === 'number') {
    let n = scale !== undefined ? v * scale : v;
    const asInt = type === 'int' || (type === undefined && Number.isInteger(n));
    if (asInt) n = Math.trunc(n);
    return asInt ? String(n) : n.toFixed(6);
  }
  if (typeof v === 'string') return v;
  return JSON.stringify(v, null, 1);
}

async function stats(h: Flux, o: ReturnType<Optparse['parse']>, name: string): Promise<void> {
  if (has(o, 'clear-all')) {
    // Every rank that runs the module; ranks without it answer ENOSYS, which is fine.
    const size = Number(await h.getattr('size'));
    const results = await Promise.allSettled(Array.from({ length: size }, (_, rank) => h.rpc(`${name}.stats-clear`, {}, { nodeid: rank }).get()));
    const real = results.find((x): x is PromiseRejectedResult => x.status === 'rejected' && !(x.reason instanceof FluxError && x.reason.errnum === 38));
    if (real) die(PROG, `${name}.stats-clear: ${rpcText(real.reason)}`);
    return;
  }
  if (has(o, 'clear')) {
    await h.rpc(`${name}.stats-clear`, {}).get().catch((e: unknown) => die(PROG, `${name}.stats-clear: ${rpcText(e)}`));
    return;
  }
  let topic = `${name}.stats-get`;
  let payload: Record<string, unknown> = {};
  if (has(o, 'rusage')) {
    topic = `${name}.rusage`;
    const who = last(o, 'rusage');
    payload = { who: who ? who : 'self' };
  }
  const r = await h.rpc(topic, payload).get().catch((e: unknown) => die(PROG, `${topic}: ${rpcText(e)}`));
  const objname = last(o, 'parse');
  if (objname === undefined) {
    out.write(JSON.stringify(r, null, 1) + '\n');
    return;
  }
  const scaleText = last(o, 'scale');
  const type = last(o, 'type');
  if (type !== undefined && type !== 'int' && type !== 'double') die(PROG, `--type must be int or double`);
  try {
    out.write(formatParsed(r, objname, scaleText === undefined ? undefined : Number(scaleText), type) + '\n');
  } catch (e) {
    die(PROG, e instanceof Error ? e.message : String(e));
  }
}

async function withHandle(run: (h: Flux) => Promise<void>): Promise<void> {
  const h = await open(PROG);
  try {
    await run(h);
  } finally {
    h.close();
  }
}

function moduleName(spec: string): string {
  return spec.replace(/^.*\//, '').replace(/\.js$/, '');
}

async function load(h: Flux, spec: string, args: string[], name?: string): Promise<void> {
  try {
    const req: Record<string, unknown> = { path: spec, args };
    if (name) req.name = name;
    await h.rpc('module.load', req).get();
  } catch (e) {
    die(PROG, `load ${name ?? moduleName(spec)}: ${errText(e)}`);
  }
}

async function remove(h: Flux, name: string, force: boolean): Promise<void> {
  try {
    await h.rpc('module.remove', { name, cancel: false }).get();
  } catch (e) {
    if (force && e instanceof FluxError && e.errnum === 2) return;
    die(PROG, `remove ${name}: ${errText(e)}`);
  }
}

export async function module(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'list': {
      const o = parseOrExit(LIST, rest);
      return withHandle(async (h) => {
        const { mods } = await h.rpc('module.list').get<{ mods: ModInfo[] }>().catch((e: unknown) => die(PROG, `module.list: ${errText(e)}`));
        out.write(formatModuleList(mods, has(o, 'long')));
      });
    }
    case 'load': {
      const o = parseOrExit(LOAD, rest);
      if (o.args.length === 0) {
        process.stderr.write(LOAD.usage());
        throw new Exit(1);
      }
      return withHandle((h) => load(h, o.args[0], o.args.slice(1), last(o, 'name')));
    }
    case 'remove':
    case 'unload': {
      const o = parseOrExit(REMOVE, rest);
      if (o.args.length !== 1) {
        process.stderr.write(REMOVE.usage());
        throw new Exit(1);
      }
      return withHandle((h) => remove(h, o.args[0], has(o, 'force')));
    }
    case 'stats': {
      const o = parseOrExit(STATS_OPTIONS, rest);
      if (o.args.length !== 1) {
        process.stderr.write(STATS_OPTIONS.usage());
        throw new Exit(1);
      }
      return withHandle((h) => stats(h, o, o.args[0]));
    }
    case 'reload': {
      const o = parseOrExit(RELOAD, rest);
      if (o.args.length === 0) {
        process.stderr.write(RELOAD.usage());
        throw new Exit(1);
      }
      const name = last(o, 'name') ?? moduleName(o.args[0]);
      return withHandle(async (h) => {
        await remove(h, name, has(o, 'force'));
        await load(h, o.args[0], o.args.slice(1), last(o, 'name'));
      });
    }
    case undefined:
      errln(`${PROG}: missing subcommand`);
      process.stderr.write(`Usage: ${PROG} COMMAND [OPTIONS]\n  -h, --help             Display this message.\n`);
      throw new Exit(1);
    default:
      die(PROG, `Unknown subcommand: ${sub}`);
  }
}
