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

const LIST = new Optparse(`${PROG} list`, [{ name: 'long', key: 'l', usage: 'Include full DSO path for each module' }], '[OPTIONS]');
const LOAD = new Optparse(`${PROG} load`, [
  { name: 'name', hasArg: 1, arginfo: 'NAME', usage: 'Override default module name' },
], '[OPTIONS] module');
const REMOVE = new Optparse(`${PROG} remove`, [
  { name: 'force', key: 'f', usage: 'Ignore nonexistent modules' },
], '[OPTIONS] module');
const RELOAD = new Optparse(`${PROG} reload`, [
  { name: 'name', hasArg: 1, arginfo: 'NAME', usage: 'Override default module name' },
  { name: 'force', key: 'f', usage: 'Ignore nonexistent modules' },
], '[OPTIONS] module');

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
