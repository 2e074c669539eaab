/**
 * `flux resource list|info|status|drain|undrain|R`: `list`, `info` and `R`
 * show the resources as `resource.sched-status` gives them (`sched.resource-status`
 * when the resource module does not serve it) → {all, allocated, down}, down
 * being offline or drained nodes, in flux-core 0.88's layouts (resource-list.txt,
 * resource-info.txt): free/allocated/down node, core and GPU counts. `status`
 * is in resource-status.ts, `drain` and `undrain` in resource-drain.ts.
 */
import { Rlist, type RankResources } from '../common/librlist/rlist';
import { Optparse, has, last } from '../common/liboptparse/optparse';
import { die, open, out, parseOrExit, usageExit } from './cli';
import { errMsg } from './job-common';
import { FluxError, errno } from '../common/libflux/errno';
import { COLOR_OPTION, drainCmd, undrainCmd } from './resource-drain';
import { STATUS_FORMATS, printStatus } from './resource-status';
import { FormatError } from './resource-format';
import { eventlogCmd } from './resource-eventlog';

const PROG = 'flux-resource';

async function schedStatus(h: Awaited<ReturnType<typeof open>>): Promise<{ all: unknown; allocated: unknown; down: unknown }> {
  type S = { all: unknown; allocated: unknown; down: unknown };
  try {
    return await h.rpc('resource.sched-status', {}, { nodeid: 0 }).get<S>();
  } catch (e) {
    if (!(e instanceof FluxError) || e.errnum !== errno.ENOSYS) throw e;
    return await h.rpc('sched.resource-status', {}, { nodeid: 0 }).get<S>();
  }
}

interface Status {
  all: Rlist;
  allocated: Rlist;
  down: Rlist;
}

/** `a` minus `b`, rank by rank (cores and GPUs); ranks left with nothing are dropped. */
export function rlistDiff(a: Rlist, b: Rlist): Rlist {
  const sub = new Map(b.ranks.map((r) => [r.rank, r]));
  const out: RankResources[] = [];
  for (const r of a.ranks) {
    const s = sub.get(r.rank);
    const cores = s ? r.cores.filter((c) => !s.cores.includes(c)) : [...r.cores];
    const gpus = s ? r.gpus.filter((g) => !s.gpus.includes(g)) : [...r.gpus];
    if (cores.length > 0 || gpus.length > 0) out.push({ rank: r.rank, hostname: r.hostname, cores, gpus });
  }
  return new Rlist(out);
}

/** The hostnames of an Rlist's ranks joined with commas (flux-core prints them unfolded here). */
function nodelist(rl: Rlist): string {
  return rl.ranks.map((r) => r.hostname).join(',');
}

/** `flux resource list` lines for the free, allocated and down sets. */
export function listLines(st: Status, noHeader = false): string[] {
  const free = rlistDiff(rlistDiff(st.all, st.allocated), st.down);
  const rows: [string, Rlist][] = [['free', free], ['allocated', st.allocated], ['down', st.down]];
  const lines = noHeader ? [] : [`${'STATE'.padStart(10)} ${'NNODES'.padStart(6)} ${'NCORES'.padStart(6)} ${'NGPUS'.padStart(5)} NODELIST`];
  for (const [name, rl] of rows) lines.push(`${name.padStart(10)} ${String(rl.nnodes).padStart(6)} ${String(rl.ncores).padStart(6)} ${String(rl.ngpus).padStart(5)} ${nodelist(rl)}`);
  return lines;
}

async function fetchStatus(): Promise<Status> {
  const h = await open(PROG);
  try {
    const r = await schedStatus(h);
    const rl = (v: unknown): Rlist => (v && typeof v === 'object' ? Rlist.fromR(v) : new Rlist([]));
    const all = rl(r.all);
    // R sets without nodelists: take the hostnames from the whole set
    const names = new Map(all.ranks.map((x) => [x.rank, x.hostname]));
    const named = (x: Rlist): Rlist => new Rlist(x.ranks.map((y) => ({ ...y, hostname: y.hostname || names.get(y.rank) || '' })));
    return { all, allocated: named(rl(r.allocated)), down: named(rl(r.down)) };
  } catch (e) {
    die(PROG, `ERROR: ${errMsg(e)}`);
  } finally {
    h.close();
  }
}

/** Stop resource.acquire's updates to the scheduler (used at shutdown). */
async function acquireMute(): Promise<void> {
  const h = await open(PROG);
  try {
    await h.rpc('resource.acquire-mute', {}, { nodeid: 0 }).get();
  } catch (e) {
    die(PROG, `ERROR: ${errMsg(e)}`);
  } finally {
    h.close();
  }
}

async function statusCmd(argv: string[]): Promise<void> {
  const p = new Optparse(`${PROG} status`, [
    { name: 'format', key: 'o', hasArg: 1, arginfo: 'FORMAT', usage: "Specify output format using Python's string format syntax or a defined format by name (use 'help' to get a list of names)" },
    { name: 'states', key: 's', hasArg: 1, arginfo: 'STATE,...', usage: 'Output resources in given states' },
    { name: 'include', key: 'i', hasArg: 1, arginfo: 'TARGETS', usage: 'Include only specified targets in output set. TARGETS may be provided as an idset or hostlist.' },
    { name: 'queue', key: 'q', hasArg: 1, arginfo: 'QUEUE,...', usage: 'Include only specified queues in output' },
    { name: 'no-header', key: 'n', usage: 'Suppress header output' },
    COLOR_OPTION,
    { name: 'skip-empty', usage: 'Skip empty lines of output even with --states' },
  ]);
  const o = parseOrExit(p, argv);
  if (o.args.length > 0) usageExit(p);
  const color = last(o, 'color');
  const h = await open(PROG);
  try {
    await printStatus(h, {
      format: last(o, 'format') ?? 'default', formats: STATUS_FORMATS, states: last(o, 'states'), include: last(o, 'include'),
      noHeader: has(o, 'no-header'), color: color === undefined ? 'auto' : color === '' ? 'always' : color, skipEmpty: has(o, 'skip-empty'),
    });
  } catch (e) {
    if (e instanceof FormatError || e instanceof FluxError) die(PROG, `ERROR: ${errMsg(e)}`);
    throw e;
  } finally {
    h.close();
  }
}

export async function resource(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '-h' || sub === '--help') {
    process.stderr.write('Usage: flux-resource {acquire-mute,drain,undrain,status,list,info,R,eventlog} [OPTIONS]\n');
    if (sub === undefined) die(PROG, 'ERROR: a subcommand is required');
    return;
  }
  if (sub === 'drain') return drainCmd(rest);
  if (sub === 'undrain') return undrainCmd(rest);
  if (sub === 'status') return statusCmd(rest);
  if (sub === 'eventlog') return eventlogCmd(rest);
  if (sub === 'acquire-mute') return acquireMute();
  const p = new Optparse(`${PROG} ${sub}`, [{ name: 'no-header', key: 'n', usage: 'Suppress header' }], '[OPTIONS]');
  const o = parseOrExit(p, rest);
  if (o.args.length > 0) usageExit(p);
  switch (sub) {
    case 'list': {
      const st = await fetchStatus();
      for (const l of listLines(st, has(o, 'no-header'))) out.write(`${l}\n`);
      return;
    }
    case 'info': {
      const { all } = await fetchStatus();
      out.write(`${all.nnodes} Nodes, ${all.ncores} Cores, ${all.ngpus} GPUs\n`);
      return;
    }
    case 'R': {
      const { all } = await fetchStatus();
      out.write(`${all.encode()}\n`);
      return;
    }
    default:
      die(PROG, `ERROR: unknown subcommand ${sub}`);
  }
}
