/**
 * `flux overlay status|lookup`: the TBON's health as flux-core reports it.
 * `status` walks the tree from a rank (default 0) asking each live broker for
 * `overlay.health`; children a parent reports `lost` or `offline` are not
 * asked, and their subtrees (from `overlay.topology`) are shown with the same
 * presumed state ("ghosts") unless --no-ghost.
 */
import { errno, FluxError } from '../common/libflux/errno';
import { FLAG_STREAMING, getJson } from '../common/libflux/message';
import type { Flux, Rpc } from '../common/libflux/handle';
import { Optparse, has, last } from '../common/liboptparse/optparse';
import { decodeIdset, encodeIdset, isIdset } from '../common/libidset/idset';
import { parseFsd } from '../common/libutil/fsd';
import { Exit, die, errText, errln, open, out, parseOrExit, usageExit } from './cli';
import { drawTree, type StatusNode } from './overlay-tree';

const PROG = 'flux-overlay';

const TOP_USAGE = [
  'Usage: flux overlay trace [OPTIONS] [topic-glob]',
  '   or: flux overlay errors [OPTIONS]',
  '   or: flux overlay status [OPTIONS]',
  '   or: flux overlay lookup [OPTIONS] TARGET',
  '   or: flux overlay parentof [OPTIONS] RANK',
  '   or: flux overlay disconnect [OPTIONS] TARGET',
  'Manage overlay network',
  '  -h, --help             Display this message.',
  '',
].join('\n');

const STATUS_OPTIONS = new Optparse('flux-overlay status', [
  { name: 'timeout', key: 't', hasArg: 1, arginfo: 'FSD', usage: 'Set RPC timeout, 0=disable (default 0.5s)' },
  { name: 'rank', key: 'r', hasArg: 1, arginfo: 'NODEID', usage: 'Check health of subtree rooted at NODEID (default 0)' },
  { name: 'verbose', key: 'v', usage: 'Increase reporting detail: 1=show time since current state was entered, 2=show round-trip RPC times.' },
  { name: 'color', key: 'L', hasArg: 2, arginfo: 'WHEN', usage: "Colorize output when supported; WHEN can be 'always' (default if omitted), 'never', or 'auto' (default)." },
  { name: 'wait', key: 'w', hasArg: 1, arginfo: 'STATE', usage: 'Wait until subtree enters STATE before reporting (full, partial, offline, degraded, lost)' },
  { name: 'summary', usage: 'Show only the root subtree status' },
  { name: 'no-pretty', usage: "Do not indent entries and use line drawing characters to show overlay tree structure" },
  { name: 'no-ghost', usage: 'Do not fill in presumed state of nodes that are inaccessible behind offline/lost overlay parents' },
]);

const LOOKUP_OPTIONS = new Optparse('flux-overlay lookup', [], '[OPTIONS] TARGET');

interface HealthChild {
  rank: number;
  status: string;
  duration: number;
}

interface Health extends HealthChild {
  children: HealthChild[];
}

interface Topo {
  rank: number;
  size: number;
  children: Topo[];
}

/** First response of `rpc`, or ETIMEDOUT after `secs` (0 or inf: wait forever). */
async function getWithin<T>(rpc: Rpc, secs: number): Promise<T> {
  if (!(secs > 0) || !Number.isFinite(secs)) return rpc.get<T>();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_res, rej) => {
    timer = setTimeout(() => {
      rpc.cancelLocal();
      rej(new FluxError(errno.ETIMEDOUT));
    }, secs * 1000);
  });
  try {
    return await Promise.race([rpc.get<T>(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function hostnames(h: Flux): Promise<string[]> {
  try {
    return (await h.getattr('hostlist')).split(',');
  } catch {
    return [];
  }
}

function findSubtree(t: Topo, rank: number): Topo | undefined {
  if (t.rank === rank) return t;
  for (const c of t.children) {
    const f = findSubtree(c, rank);
    if (f) return f;
  }
  return undefined;
}

export async function overlay(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  if (sub === '-h' || sub === '--help') {
    out.write(TOP_USAGE);
    return;
  }
  if (sub === 'status') return status(rest);
  if (sub === 'lookup') return lookup(rest);
  if (sub === undefined) {
    process.stderr.write(TOP_USAGE);
    throw new Exit(1);
  }
  errln(`${PROG}: unknown subcommand '${sub}'`);
  process.stderr.write(TOP_USAGE);
  throw new Exit(1);
}

async function status(argv: string[]): Promise<void> {
  const o = parseOrExit(STATUS_OPTIONS, argv);
  if (o.args.length !== 0) usageExit(STATUS_OPTIONS);
  let timeout = 0.5;
  const t = last(o, 'timeout');
  if (t !== undefined) {
    try {
      timeout = parseFsd(t);
    } catch {
      die(PROG, `invalid FSD: ${t}`);
    }
  }
  let root = 0;
  const r = last(o, 'rank');
  if (r !== undefined) {
    if (!/^\d+$/.test(r)) die(PROG, `invalid rank: ${r}`);
    root = Number(r);
  }
  const verbose = o.values.get('verbose')?.length ?? 0;
  const when = last(o, 'color');
  const color = when === undefined || when === 'auto' ? process.stdout.isTTY === true : when === '' || when === 'always';
  if (when !== undefined && !['', 'always', 'never', 'auto'].includes(when)) die(PROG, `invalid argument for --color: ${when}`);
  const ghosts = !has(o, 'no-ghost');
  const summaryOnly = has(o, 'summary');
  const wait = last(o, 'wait');
  if (wait !== undefined && !['full', 'partial', 'offline', 'degraded', 'lost'].includes(wait)) die(PROG, `invalid --wait state: ${wait}`);
  // Waiting is open-ended unless a timeout was asked for.
  if (wait !== undefined && t === undefined) timeout = 0;

  const h = await open(PROG);
  try {
    const hosts = await hostnames(h);
    const host = (rank: number): string => hosts[rank] ?? String(rank);
    let topo: Topo | undefined;
    const topology = async (): Promise<Topo | undefined> => {
      if (!topo) {
        try {
          topo = await getWithin<Topo>(h.rpc('overlay.topology', { rank: 0 }, { nodeid: 0 }), timeout);
        } catch {
          return undefined;
        }
      }
      return topo;
    };
    const ghost = async (rank: number, st: string): Promise<StatusNode[]> => {
      if (!ghosts) return [];
      const sub = findSubtree((await topology()) ?? { rank: -1, size: 0, children: [] }, rank);
      const mk = (t: Topo): StatusNode => ({ rank: t.rank, host: host(t.rank), status: st, ghost: true, children: t.children.map(mk) });
      return sub ? sub.children.map(mk) : [];
    };
    /** Ask `rank`; on failure below the root, an error line. */
    const walk = async (rank: number, level: number): Promise<StatusNode | undefined> => {
      const t0 = process.hrtime.bigint();
      let hl: Health;
      try {
        hl = await getWithin<Health>(h.rpc('overlay.health', undefined, { nodeid: rank }), timeout);
      } catch (e) {
        const rtt = Number(process.hrtime.bigint() - t0) / 1e6;
        if (level === 0) die(PROG, errText(e));
        return { rank, host: host(rank), error: errText(e), rtt, children: [] };
      }
      const rtt = Number(process.hrtime.bigint() - t0) / 1e6;
      const node: StatusNode = { rank: hl.rank, host: host(hl.rank), status: hl.status, duration: hl.duration, rtt, children: [] };
      if (summaryOnly) return node;
      for (const c of hl.children) {
        if (c.status === 'lost' || c.status === 'offline') {
          node.children.push({ rank: c.rank, host: host(c.rank), status: c.status, duration: c.duration, children: await ghost(c.rank, c.status) });
          continue;
        }
        const sub = await walk(c.rank, level + 1);
        if (sub) {
          if (sub.error !== undefined) sub.children = await ghost(c.rank, c.status);
          node.children.push(sub);
        }
      }
      return node;
    };
    if (wait !== undefined) await waitFor(h, root, wait, timeout);
    const tree = await walk(root, 0);
    if (!tree) return;
    if (summaryOnly) {
      out.write(`${tree.status ?? ''}\n`);
      return;
    }
    for (const line of drawTree(tree, { pretty: !has(o, 'no-pretty'), verbose, color })) out.write(line + '\n');
  } catch (e) {
    if (e instanceof Exit) throw e;
    die(PROG, errText(e));
  } finally {
    h.close();
  }
}

/** Follow `rank`'s streaming overlay.health until its status is `state`. */
async function waitFor(h: Flux, rank: number, state: string, secs: number): Promise<void> {
  const rpc = h.rpc('overlay.health', undefined, { nodeid: rank, flags: FLAG_STREAMING });
  const watch = async (): Promise<void> => {
    for await (const m of rpc) {
      if (getJson<Health>(m).status === state) return;
    }
    throw new FluxError(errno.EPROTO);
  };
  let timer: NodeJS.Timeout | undefined;
  const watching = watch();
  watching.catch(() => {}); // may lose the race to the timeout
  const limits = [watching];
  if (secs > 0 && Number.isFinite(secs)) {
    limits.push(new Promise<never>((_res, rej) => (timer = setTimeout(() => rej(new FluxError(errno.ETIMEDOUT)), secs * 1000))));
  }
  try {
    await Promise.race(limits);
  } catch (e) {
    die(PROG, errText(e));
  } finally {
    clearTimeout(timer);
    rpc.cancelLocal();
  }
}

/** `lookup IDSET` prints their hostnames; `lookup HOST[,HOST]` prints their ranks. */
async function lookup(argv: string[]): Promise<void> {
  const o = parseOrExit(LOOKUP_OPTIONS, argv);
  if (o.args.length !== 1) usageExit(LOOKUP_OPTIONS);
  const target = o.args[0];
  const h = await open(PROG);
  try {
    const hosts = await hostnames(h);
    if (isIdset(target)) {
      const ranks = decodeIdset(target);
      const bad = ranks.find((r) => r >= hosts.length);
      if (bad !== undefined) die(PROG, `${target}: No such file or directory`);
      out.write(ranks.map((r) => hosts[r]).join(',') + '\n');
      return;
    }
    const wanted = new Set(target.split(','));
    const ranks = hosts.flatMap((name, i) => (wanted.has(name) ? [i] : []));
    if (ranks.length === 0) die(PROG, `${target}: No such file or directory`);
    out.write(encodeIdset(ranks) + '\n');
  } catch (e) {
    if (e instanceof Exit) throw e;
    die(PROG, errText(e));
  } finally {
    h.close();
  }
}
