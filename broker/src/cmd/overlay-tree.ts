/**
 * What `flux overlay status` prints, given the walked tree: one line per
 * broker, `RANK HOST: STATE`, `-v` adding ` for DURATION`, `-vv` adding the
 * health RPC's round trip ` (N.NNN ms)` on brokers that were asked directly,
 * drawn with ├─ └─ │ unless --no-pretty. Pure: unit tested against the
 * recorded flux-core outputs.
 */

export interface StatusNode {
  rank: number;
  host: string;
  /** full, partial, degraded, lost, offline; or undefined when `error` is set. */
  status?: string;
  /** Seconds in this state; omitted for ghosts. */
  duration?: number;
  /** Round trip of the overlay.health RPC to this broker, ms (brokers asked directly). */
  rtt?: number;
  /** The health RPC to this broker failed with this text. */
  error?: string;
  /** Not reachable: state presumed from the lost/offline broker above it. */
  ghost?: boolean;
  children: StatusNode[];
}

export interface DrawOptions {
  pretty: boolean;
  /** 0, 1 (durations), 2 (and round-trip times). */
  verbose: number;
  color: boolean;
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

const ANSI = { red: '\x1b[31m', yellow: '\x1b[33m', gray: '\x1b[90m', reset: '\x1b[39m' };

function colorize(n: StatusNode, s: string, o: DrawOptions): string {
  if (!o.color) return s;
  if (n.ghost) return `${ANSI.gray}${s}${ANSI.reset}`;
  if (s === 'lost') return `${ANSI.red}${s}${ANSI.reset}`;
  if (s === 'offline') return `${ANSI.yellow}${s}${ANSI.reset}`;
  return s;
}

/** The text after the tree prefix for one broker. */
export function nodeText(n: StatusNode, o: DrawOptions): string {
  let s = `${n.rank} ${n.host}: `;
  if (n.error !== undefined) {
    s += n.error;
  } else {
    s += colorize(n, n.status ?? '', o);
    if (o.verbose >= 1 && n.duration !== undefined && n.duration > 0) s += ` for ${formatDuration(n.duration)}`;
  }
  if (o.verbose >= 2 && n.rtt !== undefined) s += ` (${n.rtt.toFixed(3)} ms)`;
  return s;
}

/** All lines, root first, depth first in child order. */
export function drawTree(root: StatusNode, o: DrawOptions): string[] {
  const lines: string[] = [];
  const walk = (n: StatusNode, lead: string, branch: string): void => {
    lines.push((o.pretty ? lead + branch : '') + nodeText(n, o));
    const below = lead + (branch === '├─ ' ? '│  ' : branch === '└─ ' ? '   ' : '');
    n.children.forEach((c, i) => walk(c, below, i === n.children.length - 1 ? '└─ ' : '├─ '));
  };
  walk(root, '', '');
  return lines;
}
