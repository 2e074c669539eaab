/**
 * `flux resource list|info|status|R`: the instance's resources as the
 * scheduler sees them (`sched.resource-status` → {all, allocated, down}),
 * in flux-core 0.88's layouts (resource-list.txt, resource-info.txt,
 * resource-status.txt): free/allocated/down node, core and GPU counts.
 */
import { Rlist, type RankResources } from '../common/librlist/rlist';
import { Optparse, has } from '../common/liboptparse/optparse';
import { die, open, out, parseOrExit, usageExit } from './cli';
import { errMsg } from './job-common';

const PROG = 'flux-resource';

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
    const r = await h.rpc('sched.resource-status', {}, { nodeid: 0 }).get<{ all: unknown; allocated: unknown; down: unknown }>();
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

export async function resource(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '-h' || sub === '--help') {
    process.stderr.write('Usage: flux-resource {list,info,status,R} [OPTIONS]\n');
    if (sub === undefined) die(PROG, 'ERROR: a subcommand is required');
    return;
  }
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
    case 'status': {
      const st = await fetchStatus();
      const avail = rlistDiff(st.all, st.down);
      if (!has(o, 'no-header')) out.write(`${'STATE'.padStart(12)}${'UP'.padStart(2)} ${'NNODES'.padStart(6)} NODELIST\n`);
      if (avail.nnodes > 0) out.write(`${'avail'.padStart(12)} ✔ ${String(avail.nnodes).padStart(6)} ${nodelist(avail)}\n`);
      if (st.down.nnodes > 0) out.write(`${'offline'.padStart(12)} ✗ ${String(st.down.nnodes).padStart(6)} ${nodelist(st.down)}\n`);
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
