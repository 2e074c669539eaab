/**
 * `flux resource status` and the listing of `flux resource drain` (no
 * targets), as flux-core 0.88's flux-resource.py prints them: the resource
 * module's `resource.status` (R, drain reasons, online/offline/exclude ranks)
 * with the allocated ranks from `resource.sched-status`; one line per state
 * (avail, exclude, allocated, torpid, housekeeping, draining = drained but
 * still running a job, drained), split by online/offline (an offline line's
 * state gets a `*`, its UP column ✗), lines alike but for their nodes merged.
 */
import { FluxError, errno } from '../common/libflux/errno';
import { decodeIdset } from '../common/libidset/idset';
import { Rlist } from '../common/librlist/rlist';
import { decodeHostlist } from '../common/libhostlist/hostlist';
import type { Flux } from '../common/libflux/handle';
import { Exit, errln, out } from './cli';
import { OutputFormat, type Row } from './resource-format';

export const PROG = 'flux-resource';

export const STATUS_FORMATS: Record<string, string> = {
  default: '{state:>12} {color_up}{up:>2}{color_off} {nnodes:>6} {nodelist}',
  long: '{state:>12} {color_up}{up:>2}{color_off} {nnodes:>6} +:{reason:<30.30} {nodelist}',
};
export const DRAIN_FORMATS: Record<string, string> = {
  default: '{timestamp!d:%b%d %R::<12} {state:<8.8} {reason:<30.30+} {nodelist}',
  long: '{timestamp!d:%b%d %R::<12} {state:<8.8} {ranks:<8.8+} +:{reason:<30.30} {nodelist}',
};
const HEADINGS: Record<string, string> = {
  state: 'STATE', statex: 'STATE', nnodes: 'NNODES', ranks: 'RANKS', nodelist: 'NODELIST', reason: 'REASON',
  timestamp: 'TIME', status: 'STATUS', up: 'UP', 'up.ascii': 'UP', color_up: '', color_off: '',
};
const VALID_STATES = ['all', 'online', 'avail', 'offline', 'exclude', 'drain', 'draining', 'drained', 'torpid', 'allocated', 'housekeeping'];
const DEFAULT_STATES = 'avail,exclude,draining,drained,torpid,housekeeping';

/** What flux-core's Python ResourceStatus derives from resource.status and the allocated ranks. */
export interface ResourceStatus {
  hosts: Map<number, string>;
  sets: Record<string, Set<number>>;
  drainInfo: Map<number, { timestamp: number; reason: string }>;
}

const inter = (a: Set<number>, b: Set<number>): Set<number> => new Set([...a].filter((x) => b.has(x)));
const minus = (a: Set<number>, ...b: Set<number>[]): Set<number> => new Set([...a].filter((x) => !b.some((s) => s.has(x))));
const ids = (v: unknown): Set<number> => new Set(typeof v === 'string' && v !== '' ? decodeIdset(v) : []);

export function deriveStatus(st: Record<string, unknown>, allocated: Set<number>, include?: Set<number>): ResourceStatus {
  const rl = st.R && typeof st.R === 'object' ? Rlist.fromR(st.R) : new Rlist([]);
  const hosts = new Map(rl.ranks.map((r) => [r.rank, r.hostname]));
  const f = (s: Set<number>): Set<number> => (include ? inter(s, include) : s);
  const all = f(new Set(rl.ranks.map((r) => r.rank)));
  let drained = new Set<number>();
  const drainInfo = new Map<number, { timestamp: number; reason: string }>();
  const drain = (st.drain && typeof st.drain === 'object' ? st.drain : {}) as Record<string, { timestamp?: number; reason?: string }>;
  for (const [key, e] of Object.entries(drain)) {
    for (const rank of f(ids(key))) {
      drained.add(rank);
      drainInfo.set(rank, { timestamp: Number(e.timestamp ?? 0), reason: String(e.reason ?? '') });
    }
  }
  const alloc = f(allocated);
  const draining = inter(drained, alloc);
  drained = minus(drained, draining);
  const exclude = f(ids(st.exclude));
  return {
    hosts, drainInfo,
    sets: {
      all, online: f(ids(st.online)), offline: f(ids(st.offline)), exclude, allocated: alloc, drained, draining,
      torpid: new Set(), housekeeping: new Set(), avail: minus(all, exclude, drained, draining),
    },
  };
}

/** Targets for -i/--include: an idset, else hostnames (every rank on them). */
export function includeRanks(arg: string, hosts: Map<number, string>): Set<number> {
  try {
    return new Set(decodeIdset(arg));
  } catch {
    const want = new Set(decodeHostlist(arg));
    return new Set([...hosts].filter(([, h]) => want.has(h)).map(([r]) => r));
  }
}

interface Line {
  state: string;
  online: boolean;
  ranks: number[];
  reason: string;
  timestamp: number | '';
}

function rowOf(l: Line, hosts: Map<number, string>): Row {
  const ranks = [...l.ranks].sort((a, b) => a - b);
  return {
    state: l.online ? l.state : `${l.state}*`, statex: l.state, status: l.online ? 'online' : 'offline',
    color_up: l.online ? '\u001b[01;32m' : '\u001b[01;31m', color_off: '\u001b[0;0m',
    up: l.online ? '✔' : '✗', 'up.ascii': l.online ? 'y' : 'n',
    nodelist: ranks.map((r) => hosts.get(r) ?? '').join(','), ranks: encodeRanks(ranks), nnodes: ranks.length,
    reason: l.reason, timestamp: l.timestamp,
  };
}

function encodeRanks(ranks: number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < ranks.length;) {
    let j = i;
    while (j + 1 < ranks.length && ranks[j + 1] === ranks[j] + 1) j++;
    parts.push(j > i ? `${ranks[i]}-${ranks[j]}` : `${ranks[i]}`);
    i = j + 1;
  }
  return parts.join(',');
}

export interface StatusArgs {
  format: string;
  formats: Record<string, string>;
  states?: string;
  include?: string;
  noHeader: boolean;
  color: string;
  skipEmpty: boolean;
}

/** Fetch resource.status and the allocated ranks (resource.sched-status, else sched.resource-status). */
export async function fetchResourceStatus(h: Flux): Promise<{ st: Record<string, unknown>; allocated: Set<number> }> {
  const st = await h.rpc('resource.status', {}, { nodeid: 0 }).get<Record<string, unknown>>();
  let allocated = new Set<number>();
  try {
    const r = await h.rpc('resource.sched-status', {}, { nodeid: 0 }).get<{ allocated?: unknown }>()
      .catch((e: unknown) => {
        if (e instanceof FluxError && e.errnum === errno.ENOSYS) return h.rpc('sched.resource-status', {}, { nodeid: 0 }).get<{ allocated?: unknown }>();
        throw e;
      });
    if (r.allocated && typeof r.allocated === 'object') allocated = new Set(Rlist.fromR(r.allocated).ranks.map((x) => x.rank));
  } catch {
    // no scheduler: nothing is allocated (flux-core's EnvironmentError case)
  }
  return { st, allocated };
}

export function statusLines(rs: ResourceStatus, a: StatusArgs): string[] {
  if (a.states === 'help') {
    errln(`${PROG}: INFO: valid states: ${VALID_STATES.join(',')}`);
    return [];
  }
  const states: string[] = (a.states ?? DEFAULT_STATES).split(',');
  for (const s of states) {
    if (!VALID_STATES.includes(s)) {
      errln(`${PROG}: ERROR: Invalid resource state ${s} specified`);
      errln(`${PROG}: INFO: valid states: ${VALID_STATES.join(',')}`);
      throw new Exit(1);
    }
  }
  if (!states.some((s) => s !== 'online' && s !== 'offline')) states.push(...DEFAULT_STATES.split(','));
  if (states.includes('drain')) states.push('draining', 'drained');
  const want = new Set(states);
  const fmtText = a.formats[a.format] ?? a.format;
  let fmt = new OutputFormat(fmtText, HEADINGS);
  if (a.color === 'never' || (a.color === 'auto' && !process.stdout.isTTY)) fmt = fmt.without(['color_up', 'color_off']);
  const skipEmpty = a.skipEmpty || a.states === undefined;
  const skipEmptyOffline = !want.has('offline');
  const includeOnline = want.has('online') || !want.has('offline');
  const includeOffline = want.has('offline') || !want.has('online');
  const excluded = (online: boolean): boolean => !((online && includeOnline) || (!online && includeOffline));
  if (want.has('all') || want.has('draining') || want.has('drained')) {
    rs.sets.torpid = minus(rs.sets.torpid, rs.sets.draining, rs.sets.drained);
  }

  // Lines alike except for their nodes are merged (flux.util.Deduplicator).
  const key = fmt.without(['nodelist', 'ranks', 'nnodes']);
  const merged = new Map<string, Line>();
  const add = (l: Line): void => {
    const k = key.format(rowOf(l, rs.hosts));
    const m = merged.get(k);
    if (m) m.ranks.push(...l.ranks);
    else merged.set(k, { ...l, ranks: [...l.ranks] });
  };
  for (const state of ['avail', 'exclude', 'allocated', 'torpid', 'housekeeping']) {
    if (!want.has(state) && !want.has('all')) continue;
    for (const online of [true, false]) {
      if (excluded(online)) continue;
      const ranks = inter(rs.sets[state], rs.sets[online ? 'online' : 'offline']);
      add({ state, online, ranks: [...ranks], reason: '', timestamp: '' });
    }
  }
  for (const state of ['draining', 'drained']) {
    if (!want.has(state) && !want.has('all')) continue;
    const ranks = [...rs.sets[state]].sort((x, y) => x - y);
    if (ranks.length === 0 && !excluded(true)) add({ state, online: true, ranks: [], reason: '', timestamp: '' });
    for (const rank of ranks) {
      const online = rs.sets.online.has(rank);
      if (excluded(online)) continue;
      const info = rs.drainInfo.get(rank);
      add({ state, online, ranks: [rank], reason: info?.reason ?? '', timestamp: info?.timestamp ?? '' });
    }
  }
  const rows = [...merged.values()]
    .filter((l) => !(l.ranks.length === 0 && (skipEmpty || (!l.online && skipEmptyOffline))))
    .map((l) => rowOf(l, rs.hosts));
  return fmt.lines(rows, a.noHeader);
}

export async function printStatus(h: Flux, a: StatusArgs): Promise<void> {
  const { st, allocated } = await fetchResourceStatus(h);
  const all = deriveStatus(st, allocated);
  const rs = a.include !== undefined ? deriveStatus(st, allocated, includeRanks(a.include, all.hosts)) : all;
  for (const l of statusLines(rs, a)) out.write(`${l}\n`);
}
