/**
 * `flux overlay status|errors|lookup|parentof|disconnect|trace`: the TBON as
 * flux-core's flux-overlay(1) shows and manages it. `status` walks the tree
 * from a rank (default 0) asking live brokers for `overlay.health`
 * (overlay-tree.ts); the others are in overlay-admin.ts and overlay-trace.ts.
 */
import { Optparse, has, last } from '../common/liboptparse/optparse';
import { Exit, die, errText, errln, open, out, parseOrExit, usageExit } from './cli';
import { PROG, encodeHostlist, encodeIdset, health, hostnames, targetRanks, timeoutOption, topology, useColor } from './overlay-common';
import { disconnect, errors, parentof } from './overlay-admin';
import { trace } from './overlay-trace';
import { statusLines, type StatusMode } from './overlay-tree';

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
  { name: 'rank', key: 'r', hasArg: 1, arginfo: 'NODEID', usage: 'Check health of subtree rooted at NODEID (default 0)' },
  { name: 'verbose', key: 'v', hasArg: 2, arginfo: 'LEVEL', usage: 'Increase reporting detail: 1=show time since current state was entered, 2=show round-trip RPC times.' },
  { name: 'timeout', key: 't', hasArg: 1, arginfo: 'FSD', usage: 'Set RPC timeout, 0=disable (default 0.5s)' },
  { name: 'summary', usage: 'Show only the root subtree status.' },
  { name: 'down', usage: 'Show only the partial/degraded subtrees.' },
  { name: 'no-pretty', usage: 'Do not indent entries and use line drawing characters to show overlay tree structure' },
  { name: 'no-ghost', usage: 'Do not fill in presumed state of nodes that are inaccessible behind offline/lost overlay parents' },
  { name: 'color', key: 'L', hasArg: 2, arginfo: 'WHEN', usage: "Colorize output when supported; WHEN can be 'always' (default if omitted), 'never', or 'auto' (default)." },
  { name: 'highlight', key: 'H', hasArg: 1, arginfo: 'TARGET', usage: 'Highlight one or more TARGETs and their ancestors.' },
  { name: 'wait', key: 'w', hasArg: 1, arginfo: 'STATE', usage: 'Wait until subtree enters STATE before reporting (full, partial, offline, degraded, lost)' },
], '[OPTIONS]', 25, 'Display overlay subtree health status');

const LOOKUP_OPTIONS = new Optparse('flux-overlay lookup', [], '[OPTIONS] TARGET', 25, 'translate rank idset to hostlist or the reverse');

const WAIT_STATES = ['full', 'partial', 'degraded', 'lost', 'offline'];

export async function overlay(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  if (sub === '-h' || sub === '--help') {
    out.write(TOP_USAGE);
    return;
  }
  switch (sub) {
    case 'status':
      return status(rest);
    case 'errors':
      return errors(rest);
    case 'lookup':
      return lookup(rest);
    case 'parentof':
      return parentof(rest);
    case 'disconnect':
      return disconnect(rest);
    case 'trace':
      return trace(rest);
    case undefined:
      process.stderr.write(TOP_USAGE);
      throw new Exit(1);
  }
  errln(`${PROG}: unknown subcommand '${sub}'`);
  process.stderr.write(TOP_USAGE);
  throw new Exit(1);
}

/** `-H TARGET`s as a rank set; out-of-range ranks are an error, as in flux-core. */
function highlightRanks(targets: string[], hosts: string[], size: number): Set<number> {
  const ids = new Set<number>();
  for (const t of targets) {
    const ranks = targetRanks(t, hosts);
    if (!ranks) die(PROG, `Error decoding ${t}: ${t}: No such file or directory`);
    for (const r of ranks) ids.add(r);
  }
  const outside = [...ids].filter((r) => r >= size);
  if (outside.length > 0) {
    die(PROG, `--highlight: rank${outside.length > 1 ? 's' : ''} ${encodeIdset(outside)} not in set ${encodeIdset(Array.from({ length: size }, (_, i) => i))}`);
  }
  return ids;
}

async function status(argv: string[]): Promise<void> {
  const o = parseOrExit(STATUS_OPTIONS, argv);
  if (o.args.length !== 0) usageExit(STATUS_OPTIONS);
  const timeout = timeoutOption(o);
  let root = 0;
  const r = last(o, 'rank');
  if (r !== undefined) {
    if (!/^\d+$/.test(r)) die(PROG, `invalid rank: ${r}`);
    root = Number(r);
  }
  // Each -v counts (our parser hands `-vv` over as -v with argument "v"); --verbose=N sets the level.
  let verbose = 0;
  for (const v of o.values.get('verbose') ?? []) verbose = /^v*$/.test(v) ? verbose + 1 + v.length : Number(v) || 0;
  const color = useColor(has(o, 'color') ? last(o, 'color') : undefined);
  const wait = last(o, 'wait');
  if (wait !== undefined && !WAIT_STATES.includes(wait)) die(PROG, 'invalid --wait state');
  const mode: StatusMode = has(o, 'summary') ? 'summary' : has(o, 'down') ? 'down' : 'all';

  const h = await open(PROG);
  try {
    const hosts = await hostnames(h);
    const topo = await topology(h);
    const highlight = highlightRanks(o.values.get('highlight') ?? [], hosts, topo.size);
    let lines: string[];
    try {
      lines = await statusLines(root, {
        mode,
        verbose,
        color,
        pretty: !has(o, 'no-pretty'),
        ghost: !has(o, 'no-ghost'),
        highlight,
        host: (rank) => hosts[rank] ?? String(rank),
        topology: topo,
        health: (rank) => health(h, rank, timeout, wait),
      });
    } catch (e) {
      die(PROG, errText(e));
    }
    for (const line of lines) out.write(line + '\n');
  } catch (e) {
    if (e instanceof Exit) throw e;
    die(PROG, errText(e));
  } finally {
    h.close();
  }
}

/** `lookup IDSET` prints their hostnames; `lookup HOST[,HOST]` prints their ranks. */
async function lookup(argv: string[]): Promise<void> {
  const o = parseOrExit(LOOKUP_OPTIONS, argv);
  if (o.args.length !== 1) die(PROG, 'single TARGET argument is required');
  const target = o.args[0];
  const h = await open(PROG);
  try {
    const hosts = await hostnames(h);
    const ranks = targetRanks(target, hosts);
    if (!ranks || ranks.some((rank) => rank >= hosts.length)) die(PROG, `${target}: No such file or directory`);
    // A rank idset becomes a hostlist; hostnames become a rank idset.
    out.write((/^[\d,-]+$/.test(target) ? encodeHostlist(ranks.map((rank) => hosts[rank])) : encodeIdset(ranks)) + '\n');
  } catch (e) {
    if (e instanceof Exit) throw e;
    die(PROG, errText(e));
  } finally {
    h.close();
  }
}
