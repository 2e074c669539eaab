/**
 * `flux overlay errors`, `parentof` and `disconnect`, as flux-core's flux-overlay(1):
 *
 * - errors: walk the live tree from rank 0; each lost child contributes its
 *   recorded reason (its subtree: `lost parent`), an unreachable broker the
 *   error of the health request; one `HOSTLIST: reason` line per reason.
 * - parentof RANK: the parent from the instance topology.
 * - disconnect [-r PARENT] TARGET: ask the parent to drop TARGET's subtree
 *   (`overlay.disconnect-subtree`); it becomes lost.
 */
import type { Flux } from '../common/libflux/handle';
import { Optparse, last } from '../common/liboptparse/optparse';
import type { TopologyNode } from '../broker/topology';
import { Exit, die, errText, errln, open, out, parseOrExit } from './cli';
import { PROG, encodeHostlist, futureStrerror, health, hostnames, timeoutOption, topology } from './overlay-common';
import { findSubtree, subtreeRanks } from './overlay-tree';

const ERRORS_OPTIONS = new Optparse('flux-overlay errors', [
  { name: 'timeout', key: 't', hasArg: 1, arginfo: 'FSD', usage: 'Set RPC timeout, 0=disable (default 0.5s)' },
], '[OPTIONS]', 25, 'Summarize overlay errors');

const PARENTOF_OPTIONS = new Optparse('flux-overlay parentof', [], '[OPTIONS] RANK', 25, 'show the parent of RANK');

const DISCONNECT_OPTIONS = new Optparse('flux-overlay disconnect', [
  { name: 'parent', key: 'r', hasArg: 1, arginfo: 'NODEID', usage: 'Set parent rank to NODEID (default: determine from topology)' },
], '[OPTIONS] TARGET', 25, 'disconnect a subtree rooted at TARGET (hostname or rank)');

/** reason -> ranks, in the order reasons were first met. */
type ErrorTable = Map<string, Set<number>>;

function note(table: ErrorTable, reason: string, ranks: Iterable<number>): void {
  const set = table.get(reason) ?? new Set<number>();
  for (const r of ranks) set.add(r);
  if (set.size > 0) table.set(reason, set);
}

/** Record `rank` with `reason` and everything below it as `lost parent`. */
function noteSubtree(table: ErrorTable, topo: TopologyNode, rank: number, reason: string): void {
  note(table, reason, [rank]);
  const below = subtreeRanks(findSubtree(topo, rank));
  below.delete(rank);
  note(table, 'lost parent', below);
}

async function gather(h: Flux, topo: TopologyNode, rank: number, secs: number, table: ErrorTable): Promise<void> {
  const res = await health(h, rank, secs);
  if (!res.ok) {
    noteSubtree(table, topo, rank, res.error);
    return;
  }
  for (const c of res.reply.children) {
    if (c.status === 'lost') noteSubtree(table, topo, c.rank, c.error ?? 'unknown error');
    else if (c.status !== 'offline') await gather(h, topo, c.rank, secs, table); // offline is not an error
  }
}

export async function errors(argv: string[]): Promise<void> {
  const o = parseOrExit(ERRORS_OPTIONS, argv);
  const secs = timeoutOption(o);
  const h = await open(PROG);
  try {
    const topo = await topology(h);
    const hosts = await hostnames(h);
    const table: ErrorTable = new Map();
    await gather(h, topo, 0, secs, table);
    for (const [reason, ranks] of table) {
      const sorted = [...ranks].sort((a, b) => a - b);
      out.write(`${encodeHostlist(sorted.map((r) => hosts[r] ?? String(r)))}: ${reason}\n`);
    }
  } catch (e) {
    if (e instanceof Exit) throw e;
    die(PROG, errText(e));
  } finally {
    h.close();
  }
}

function parentIn(t: TopologyNode, rank: number): number | undefined {
  for (const c of t.children) {
    if (c.rank === rank) return t.rank;
    const p = parentIn(c, rank);
    if (p !== undefined) return p;
  }
  return undefined;
}

/** The parent of `rank` from rank 0's topology; flux-core's messages for ranks without one. */
async function lookupParent(h: Flux, rank: number): Promise<number> {
  const topo = await topology(h);
  if (rank < 0 || rank >= topo.size) die(PROG, `${rank} is not a valid rank in this instance`);
  if (rank === 0) die(PROG, `${rank} has no parent`);
  return parentIn(topo, rank) ?? -1;
}

export async function parentof(argv: string[]): Promise<void> {
  const o = parseOrExit(PARENTOF_OPTIONS, argv);
  if (o.args.length !== 1) die(PROG, 'RANK is required');
  // strtoul: leading digits count, anything else reads as 0.
  const rank = parseInt(o.args[0], 10) || 0;
  const h = await open(PROG);
  try {
    out.write(`${await lookupParent(h, rank)}\n`);
  } catch (e) {
    if (e instanceof Exit) throw e;
    die(PROG, errText(e));
  } finally {
    h.close();
  }
}

export async function disconnect(argv: string[]): Promise<void> {
  const o = parseOrExit(DISCONNECT_OPTIONS, argv);
  if (o.args.length !== 1) die(PROG, 'TARGET is required');
  const target = o.args[0];
  const p = last(o, 'parent');
  if (p !== undefined && !/^-?\d+$/.test(p)) die(PROG, `invalid value for --parent: ${p}`);
  const h = await open(PROG);
  try {
    const hosts = await hostnames(h);
    let rank: number;
    if (/^\d+$/.test(target)) rank = Number(target);
    else {
      rank = hosts.indexOf(target);
      if (rank < 0) die(PROG, 'TARGET must be a valid rank or hostname');
    }
    const parent = p !== undefined ? Number(p) : await lookupParent(h, rank);
    const host = (r: number): string => hosts[r] ?? '(null)';
    errln(`${PROG}: asking ${host(parent)} (rank ${parent}) to disconnect child ${host(rank)} (rank ${rank})`);
    try {
      await h.rpc('overlay.disconnect-subtree', { rank }, { nodeid: parent }).get();
    } catch (e) {
      die(PROG, `overlay.disconnect-subtree: ${futureStrerror(e)}`);
    }
  } catch (e) {
    if (e instanceof Exit) throw e;
    die(PROG, errText(e));
  } finally {
    h.close();
  }
}
