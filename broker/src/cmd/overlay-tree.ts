/**
 * What `flux overlay status` prints, walking the tree the way flux-core's
 * does: ask a broker for `overlay.health`, print it, then visit its children
 * from that report. A child is asked itself only when the view mode wants to
 * follow it (it has children, or -vv wants its round trip); lost and offline
 * children are not asked, and their subtrees (from the topology) are printed
 * as "ghosts" in the same state unless --no-ghost.
 *
 * Lines are `RANK HOST: STATE`, `-v` adding ` for DURATION`, the reason a
 * lost/offline child left after that, `-vv` adding the round trip
 * ` (N.NNN ms)` on brokers that were asked, drawn with ├─ └─ │ unless
 * --no-pretty. Pure apart from the injected health fetch: unit tested
 * against flux-core's recorded outputs.
 */
import type { TopologyNode } from '../broker/topology';

export interface HealthChild {
  rank: number;
  status: string;
  duration: number;
  error?: string;
}

export interface HealthReply {
  rank: number;
  status: string;
  duration: number;
  children: HealthChild[];
}

/** One `overlay.health` call: the reply, or the error text flux-core would print. */
export type HealthResult = { ok: true; reply: HealthReply } | { ok: false; error: string };

export type StatusMode = 'all' | 'down' | 'summary';

export interface StatusOptions {
  mode: StatusMode;
  /** 0, 1 (durations), 2 (round trips, and every broker asked directly). */
  verbose: number;
  color: boolean;
  pretty: boolean;
  ghost: boolean;
  /** Ranks to highlight with their ancestors (-H). */
  highlight: ReadonlySet<number>;
  host(rank: number): string;
  /** The whole instance's tree (`overlay.topology` of rank 0). */
  topology: TopologyNode;
  health(rank: number): Promise<HealthResult>;
  /** Milliseconds, monotonic (injectable for tests). */
  now?: () => number;
}

/** printf's `%g` (6 significant digits, trailing zeros dropped). */
export function formatG(x: number): string {
  if (x === 0) return '0';
  const exp = Math.floor(Math.log10(Math.abs(x)));
  if (exp < -4 || exp >= 6) {
    const [m, e] = x.toExponential(5).split('e');
    const mant = m.includes('.') ? m.replace(/0+$/, '').replace(/\.$/, '') : m;
    const n = Number(e);
    return `${mant}e${n < 0 ? '-' : '+'}${String(Math.abs(n)).padStart(2, '0')}`;
  }
  const s = x.toPrecision(6);
  return s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s;
}

/** flux-core's fsd_format_duration: `1.81867s`, `2.5m`, `1h`, `3d`, `infinity`. */
export function formatDuration(sec: number): string {
  if (!Number.isFinite(sec)) return 'infinity';
  if (sec < 60) return `${formatG(sec)}s`;
  if (sec < 3600) return `${formatG(sec / 60)}m`;
  if (sec < 86400) return `${formatG(sec / 3600)}h`;
  return `${formatG(sec / 86400)}d`;
}

const ANSI = { red: '\x1b[31m', yellow: '\x1b[33m', gray: '\x1b[90m', dflt: '\x1b[39m', blue: '\x1b[01;34m', reset: '\x1b[0m' };

type Connector = '' | '├─ ' | '└─ ' | '│  ' | '   ';

interface Node {
  rank: number;
  status: string;
  /** Seconds; negative for ghosts (not printed). */
  duration: number;
  ghost: boolean;
  connector: Connector;
  /** Why a lost/offline child left, from its parent's report. */
  error: string;
  /** Every rank in its subtree, when known. */
  subtree?: ReadonlySet<number>;
}

export function findSubtree(t: TopologyNode, rank: number): TopologyNode | undefined {
  if (t.rank === rank) return t;
  for (const c of t.children) {
    const f = findSubtree(c, rank);
    if (f) return f;
  }
  return undefined;
}

export function subtreeRanks(t: TopologyNode | undefined): Set<number> {
  const out = new Set<number>();
  const add = (n: TopologyNode): void => {
    out.add(n.rank);
    n.children.forEach(add);
  };
  if (t) add(t);
  return out;
}

/** Walk from `root`, returning the lines flux-core prints. A failure at the root throws its error text. */
export async function statusLines(root: number, o: StatusOptions): Promise<string[]> {
  const now = o.now ?? (() => performance.now());
  const lines: string[] = [];
  const stack: Connector[] = [];
  let start = now();

  const indent = (level: number): string => {
    if (!o.pretty || level === 0) return '';
    // Every connector but the last: that one is the next level's.
    return stack.slice(0, -1).join('');
  };
  const colorize = (status: string, ghost: boolean): string => {
    if (!o.color) return status;
    if (ghost) return `${ANSI.gray}${status}${ANSI.dflt}`;
    if (status === 'lost') return `${ANSI.red}${status}${ANSI.dflt}`;
    if (status === 'offline') return `${ANSI.yellow}${status}${ANSI.dflt}`;
    return status;
  };
  const name = (n: { rank: number; subtree?: ReadonlySet<number> }): string => {
    const s = `${n.rank} ${o.host(n.rank)}`;
    if (!n.subtree || ![...n.subtree].some((r) => o.highlight.has(r))) return s;
    return o.color ? `${ANSI.blue}${s}${ANSI.reset}` : `<<${s}>>`;
  };
  const duration = (d: number): string => (o.verbose >= 1 && d > 0 ? ` for ${formatDuration(d)}` : '');
  const rpctime = (): string => (o.verbose >= 2 ? ` (${(now() - start).toFixed(3)} ms)` : '');
  const print = (n: Node, parent: boolean, level: number): void => {
    lines.push(`${indent(level)}${o.pretty ? n.connector : ''}${name(n)}: ${colorize(n.status, n.ghost)}${duration(n.duration)}` +
      `${n.error ? ` ${n.error}` : ''}${parent ? rpctime() : ''}`);
  };
  const printNoName = (n: Node, parent: boolean, level: number): void => {
    lines.push(`${indent(level)}${n.connector}${colorize(n.status, n.ghost)}${duration(n.duration)}${parent ? rpctime() : ''}`);
  };

  /** The view mode: print this node? Returns whether to follow it further down. */
  const visit = (n: Node, parent: boolean, level: number): boolean => {
    if (o.mode === 'summary') {
      printNoName(n, parent, level);
      return false;
    }
    if (o.mode === 'down' && n.status === 'full') return false;
    const hasChildren = (n.subtree?.size ?? 0) > 1;
    if (parent || n.status === 'lost' || n.status === 'offline' || (!hasChildren && o.verbose < 2)) print(n, parent, level);
    return hasChildren || o.verbose >= 2;
  };

  const ghostWalk = (t: TopologyNode | undefined, level: number, status: string): void => {
    if (!t) return;
    t.children.forEach((c, i) => {
      const last = i === t.children.length - 1;
      stack.push(last ? '   ' : '│  ');
      const n: Node = { rank: c.rank, status, duration: -1, ghost: true, connector: last ? '└─ ' : '├─ ', error: '', subtree: subtreeRanks(c) };
      if (visit(n, false, level + 1)) ghostWalk(c, level + 1, status);
      stack.pop();
    });
  };

  const walk = async (rank: number, level: number, connector: Connector): Promise<boolean> => {
    start = now();
    const res = await o.health(rank);
    if (!res.ok) {
      if (level === 0) throw new Error(res.error);
      lines.push(`${indent(level)}${o.pretty ? connector : ''}${name({ rank })}: ${res.error}${rpctime()}`);
      return false;
    }
    const h = res.reply;
    const node: Node = { rank: h.rank, status: h.status, duration: h.duration, ghost: false, connector, error: '', subtree: subtreeRanks(findSubtree(o.topology, h.rank)) };
    if (!visit(node, true, level)) return true;
    for (let i = 0; i < h.children.length; i++) {
      const c = h.children[i];
      const last = i === h.children.length - 1;
      stack.push(last ? '   ' : '│  ');
      const conn: Connector = last ? '└─ ' : '├─ ';
      const sub = findSubtree(o.topology, c.rank);
      const child: Node = { rank: c.rank, status: c.status, duration: c.duration, ghost: false, connector: conn, error: c.error ?? '', subtree: subtreeRanks(sub) };
      if (visit(child, false, level + 1)) {
        if (c.status === 'offline' || c.status === 'lost' || !(await walk(c.rank, level + 1, conn))) {
          ghostWalk(o.ghost ? sub : undefined, level + 1, c.status);
        }
      }
      stack.pop();
    }
    return true;
  };

  await walk(root, 0, '');
  return lines;
}
