/**
 * `flux module list [-l]`, `load [--name=NAME] [--exec] [--loader=PATH] MODULE [ARGS...]`,
 * `remove [-f] [--cancel] NAME`, `reload [-f] [--name=NAME] [--exec] MODULE [ARGS...]`,
 * `stats`, `debug [-C] [-S MASK] [-s BIT] [-c BIT] NAME`: flux-core's formats and
 * errors (`flux-module: load NAME: File exists`). MODULE is a bundled module's
 * name or a path to a module file (made absolute here, as flux-core does).
 */
import * as fs from 'node:fs';
import { FluxError, errno, strerror } from '../common/libflux/errno';
import type { Flux } from '../common/libflux/handle';
import { Optparse, has, last } from '../common/liboptparse/optparse';
import { formatDebugFlags, strtoul } from '../module/debug-flags';
import { Exit, die, errText, errln, open, out, parseOrExit, usageExit } from './cli';
import type { ModuleInfo } from '../module/module-info';

const PROG = 'flux-module';

const STATE = ['I', 'R', 'F', 'X'];

export function formatModuleList(mods: ModuleInfo[], long: boolean): string {
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
  { name: 'exec', usage: 'Load module as a separate process' },
  { name: 'loader', hasArg: 1, arginfo: 'PATH', usage: 'Use the specified loader program' },
], '[OPTIONS] module', 25, 'Load module');
const CANCEL = {
  name: 'cancel',
  usage: 'Forcibly stop an unresponsive module thread when it reaches the next pthread(7) cancellation point',
};
const REMOVE = new Optparse(`${PROG} remove`, [
  { name: 'force', key: 'f', usage: 'Ignore nonexistent modules' },
  CANCEL,
], '[OPTIONS] module', 25, 'Unload module');
const RELOAD = new Optparse(`${PROG} reload`, [
  { name: 'force', key: 'f', usage: 'Ignore nonexistent modules' },
  { name: 'name', hasArg: 1, arginfo: 'NAME', usage: 'Override default module name' },
  CANCEL,
  { name: 'exec', usage: 'Load module as a separate process' },
  { name: 'loader', hasArg: 1, arginfo: 'PATH', usage: 'Use the specified loader program' },
], '[OPTIONS] module', 25, 'Reload module');
// No arginfo on these in flux-core: its --help shows the bare option names.
export const DEBUG_OPTIONS = new Optparse(`${PROG} debug`, [
  { name: 'clear', key: 'C', usage: 'Set debug flags to 0' },
  { name: 'set', key: 'S', hasArg: 1, arginfo: '', usage: 'Set debug flags to MASK' },
  { name: 'setbit', key: 's', hasArg: 1, arginfo: '', usage: 'Set one debug flag to 1' },
  { name: 'clearbit', key: 'c', hasArg: 1, arginfo: '', usage: 'Set one debug flag to 0' },
], '[OPTIONS] module', 25, 'Get/set module debug flags');

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

/**
 * flux-core makes a module path absolute (realpath) before sending it, so the
 * broker, running elsewhere, finds the same file; names are sent as they are.
 */
function canonical(spec: string): string {
  if (!spec.includes('/') && !/\.(c|m)?js$/.test(spec)) return spec;
  try {
    return fs.realpathSync(spec);
  } catch (e) {
    die(PROG, `could not canonicalize module path '${spec}': ${errText(FluxError.fromNode(e))}`);
  }
}

interface LoadOptions {
  name?: string;
  exec: boolean;
  loader?: string;
}

async function load(h: Flux, spec: string, args: string[], o: LoadOptions): Promise<void> {
  const req: Record<string, unknown> = { path: canonical(spec), args };
  if (o.name) req.name = o.name;
  if (o.exec) req.exec = true;
  if (o.loader) req.loader = canonical(o.loader);
  await h.rpc('module.load', req).get().catch((e: unknown) => die(PROG, `load ${spec}: ${rpcText(e)}`));
}

async function remove(h: Flux, spec: string, force: boolean, cancel: boolean): Promise<void> {
  try {
    await h.rpc('module.remove', { name: canonical(spec), cancel }).get();
  } catch (e) {
    if (force && e instanceof FluxError && e.errnum === errno.ENOENT) return;
    die(PROG, `remove ${spec}: ${rpcText(e)}`);
  }
}

/** `flux module debug`: the op flux-core picks (-C, then -S, -c, -s; none = read with setbit 0). */
export function debugRequest(o: ReturnType<Optparse['parse']>): { op: string; flags: number } {
  if (has(o, 'clear')) return { op: 'clr', flags: 0 };
  for (const [opt, op] of [['set', 'set'], ['clearbit', 'clrbit'], ['setbit', 'setbit']] as const) {
    const v = last(o, opt);
    if (v !== undefined) return { op, flags: strtoul(v) };
  }
  return { op: 'setbit', flags: 0 };
}

async function debug(h: Flux, name: string, o: ReturnType<Optparse['parse']>): Promise<void> {
  const topic = `${name}.debug`;
  // flux-core reports this failure with log_err_exit: strerror only, never the service's text.
  const r = await h.rpc(topic, debugRequest(o)).get<{ flags?: unknown }>().catch((e: unknown) => die(PROG, `${topic}: ${errText(e)}`));
  if (typeof r.flags !== 'number') die(PROG, `${topic}: ${strerror(errno.EPROTO)}`);
  out.write(formatDebugFlags(r.flags) + '\n');
}

const SUBCOMMANDS: [string, string][] = [
  ['list', 'List loaded modules'],
  ['remove', 'Unload module'],
  ['load', 'Load module'],
  ['reload', 'Reload module'],
  ['stats', 'Display stats on module'],
  ['debug', 'Get/set module debug flags'],
  ['trace', 'Trace module messages'],
];

function mainUsage(): never {
  process.stderr.write(`Usage: ${PROG} COMMAND [OPTIONS]\n  -h, --help             Display this message.\n`);
  process.stderr.write('\nflux module subcommands:\n');
  for (const [n, d] of SUBCOMMANDS) process.stderr.write(`   ${n.padEnd(15)} ${d}\n`);
  throw new Exit(1);
}

export async function module(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'list': {
      const o = parseOrExit(LIST, rest);
      return withHandle(async (h) => {
        const { mods } = await h.rpc('module.list').get<{ mods: ModuleInfo[] }>().catch((e: unknown) => die(PROG, `module.list: ${errText(e)}`));
        out.write(formatModuleList(mods, has(o, 'long')));
      });
    }
    case 'load': {
      const o = parseOrExit(LOAD, rest);
      if (o.args.length === 0) usageExit(LOAD);
      return withHandle((h) => load(h, o.args[0], o.args.slice(1), { name: last(o, 'name'), exec: has(o, 'exec'), loader: last(o, 'loader') }));
    }
    case 'remove':
    case 'unload': {
      const o = parseOrExit(REMOVE, rest);
      if (o.args.length !== 1) usageExit(REMOVE);
      return withHandle((h) => remove(h, o.args[0], has(o, 'force'), has(o, 'cancel')));
    }
    case 'stats': {
      const o = parseOrExit(STATS_OPTIONS, rest);
      if (o.args.length !== 1) usageExit(STATS_OPTIONS);
      return withHandle((h) => stats(h, o, o.args[0]));
    }
    case 'debug': {
      const o = parseOrExit(DEBUG_OPTIONS, rest);
      if (o.args.length !== 1) die(PROG, 'flux-debug requires service argument');
      return withHandle((h) => debug(h, o.args[0], o));
    }
    case 'reload': {
      const o = parseOrExit(RELOAD, rest);
      if (o.args.length === 0) usageExit(RELOAD);
      const name = last(o, 'name');
      return withHandle(async (h) => {
        // With --name, remove by that name: the right instance of a file loaded twice.
        await remove(h, name ?? o.args[0], has(o, 'force'), has(o, 'cancel'));
        await load(h, o.args[0], o.args.slice(1), { name, exec: has(o, 'exec'), loader: last(o, 'loader') });
      });
    }
    case '-h':
    case '--help':
      return mainUsage();
    case undefined:
      errln(`${PROG}: missing subcommand`);
      process.stderr.write(`Usage: ${PROG} COMMAND [OPTIONS]\n  -h, --help             Display this message.\n`);
      throw new Exit(1);
    default:
      die(PROG, `Unknown subcommand: ${sub}`);
  }
}
