/**
 * `flux config get [-t TYPE] [-q] [-d VAL] [PATH]`, `flux config reload`,
 * `flux config builtin NAME`: the local broker's configuration, printed as
 * flux-core does (strings bare, everything else compact JSON).
 */
import * as path from 'node:path';
import { Optparse, has, last } from '../common/liboptparse/optparse';
import { confLookup } from '../common/libutil/conf';
import { parseFsd } from '../common/libutil/fsd';
import { Exit, die, errText, errln, open, out, parseOrExit, usageExit } from './cli';

const PROG = 'flux-config';

const GET = new Optparse(`${PROG} get`, [
  { name: 'type', key: 't', hasArg: 1, arginfo: 'TYPE', usage: 'Set expected type (any, string, integer, real, boolean, object, array, fsd, fsd-integer, fsd-real)' },
  { name: 'quiet', key: 'q', usage: 'Suppress printing of "[key] is not set" errors.' },
  { name: 'default', key: 'd', hasArg: 1, arginfo: 'VAL', usage: 'Use this value if config key is unset' },
], '[--type=TYPE] [--quiet] [--default=VAL] [PATH]');
const RELOAD = new Optparse(`${PROG} reload`, [], '[OPTIONS]');
const BUILTIN = new Optparse(`${PROG} builtin`, [], 'NAME');

const TYPES = ['any', 'string', 'integer', 'real', 'boolean', 'object', 'array', 'fsd', 'fsd-integer', 'fsd-real'];

function typeOf(v: unknown): string {
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'boolean';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'real';
  if (Array.isArray(v)) return 'array';
  return v === null ? 'null' : 'object';
}

function show(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

async function get(argv: string[]): Promise<void> {
  const o = parseOrExit(GET, argv);
  if (o.args.length > 1) usageExit(GET);
  const want = (last(o, 'type') ?? 'any').toLowerCase();
  if (!TYPES.includes(want)) die(PROG, `Unknown type: ${last(o, 'type')}`);
  const h = await open(PROG);
  let conf: Record<string, unknown>;
  try {
    conf = await h.rpc('config.get').get<Record<string, unknown>>();
  } catch (e) {
    die(PROG, `Error fetching config object: ${errText(e)}`);
  } finally {
    h.close();
  }
  const key = o.args[0];
  let v: unknown = conf;
  if (key !== undefined) {
    v = confLookup(conf, key);
    if (v === undefined) {
      if (has(o, 'default')) {
        out.write(`${last(o, 'default')}\n`);
        return;
      }
      if (has(o, 'quiet')) throw new Exit(1);
      die(PROG, `${key} is not set`);
    }
  }
  const t = typeOf(v);
  if (want === 'any' || want === t) {
    out.write(`${show(v)}\n`);
    return;
  }
  if (want.startsWith('fsd') && typeof v === 'string') {
    let secs: number | undefined;
    try {
      secs = parseFsd(v);
    } catch {
      secs = undefined;
    }
    if (secs !== undefined) {
      out.write(want === 'fsd-integer' ? `${Math.trunc(secs)}\n` : want === 'fsd-real' ? `${secs.toFixed(6)}\n` : `${v}\n`);
      return;
    }
  }
  die(PROG, `${key ?? 'value'} does not have the requested type`);
}

async function reload(argv: string[]): Promise<void> {
  const o = parseOrExit(RELOAD, argv);
  if (o.args.length > 0) usageExit(RELOAD);
  const h = await open(PROG);
  try {
    await h.rpc('config.reload').get();
  } catch (e) {
    die(PROG, `reload: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    h.close();
  }
}

/** This build's compiled-in paths (flux_conf_builtin_get), where we have one. */
function builtinValue(name: string): string | undefined {
  const dist = __dirname;
  const table: Record<string, string> = {
    exec_path: path.join(dist, 'bin'),
    module_path: path.join(dist, 'modules'),
    rc1_path: 'flux modprobe rc1',
    rc3_path: 'flux modprobe rc3',
  };
  return table[name];
}

async function builtin(argv: string[]): Promise<void> {
  const o = parseOrExit(BUILTIN, argv);
  if (o.args.length !== 1) usageExit(BUILTIN);
  const v = builtinValue(o.args[0]);
  if (v === undefined) die(PROG, `${o.args[0]} is invalid`);
  out.write(`${v}\n`);
}

const SUBCOMMANDS: Record<string, (argv: string[]) => Promise<void>> = { get, reload, builtin };

export async function config(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  const usage = `Usage: flux-config COMMAND [OPTIONS]\n  -h, --help             Display this message.\n`;
  if (sub === undefined) {
    errln(`${PROG}: missing subcommand`);
    process.stderr.write(usage);
    throw new Exit(1);
  }
  if (sub === '-h' || sub === '--help') {
    out.write(usage);
    return;
  }
  const run = SUBCOMMANDS[sub];
  if (!run) {
    errln(`${PROG}: Unknown subcommand: ${sub}`);
    process.stderr.write(usage);
    throw new Exit(1);
  }
  await run(rest);
}
