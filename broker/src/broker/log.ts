/**
 * Broker log, as flux-core's broker keeps it: a ring buffer of RFC 5424 lines
 * (what `flux dmesg` reads), filled with the broker's own messages (app
 * `broker`) and with `log.append` lines. Behaviour follows the attributes
 * (read live, so `flux setattr` takes effect at once):
 *   log-level (7)           entries of this broker above it are not kept
 *   log-ring-size (1024)    ring capacity (0 keeps nothing)
 *   log-forward-level (3)   entries at or below it go to the parent, up to rank 0,
 *                           whose ring keeps them too
 *   log-stderr-level (3)    rank 0 echoes entries at or below it to stderr
 *   log-critical-level (2)  any rank echoes its own entries at or below it
 *   log-stderr-mode (leader | local: each rank echoes its own to stderr)
 */
import { errno, FluxError } from '../common/libflux/errno';
import { decode, encode, formatTimestamp, makePri, parseTimestamp, severityName, severityOf } from '../common/libutil/stdlog';

export const LOG_EMERG = 0;
export const LOG_ALERT = 1;
export const LOG_CRIT = 2;
export const LOG_ERR = 3;
export const LOG_WARNING = 4;
export const LOG_NOTICE = 5;
export const LOG_INFO = 6;
export const LOG_DEBUG = 7;

/** The attribute store the log reads its settings from (the broker's Attributes). */
export interface LogSettings {
  get(name: string): string | undefined;
  setDefault(name: string, value: string): void;
}

export const LOG_DEFAULTS: Record<string, string> = {
  'log-level': String(LOG_DEBUG),
  'log-ring-size': '1024',
  'log-forward-level': String(LOG_ERR),
  'log-stderr-level': String(LOG_ERR),
  'log-critical-level': String(LOG_CRIT),
  'log-stderr-mode': 'leader',
};

function invalid(): never {
  throw new FluxError(errno.EINVAL);
}

/** A syslog level as flux-core accepts it: a whole decimal number 0..7. */
function checkLevel(v: string): void {
  if (!/^[+-]?\d+$/.test(v.trim()) || v.trim() !== v) invalid();
  const n = Number(v);
  if (n < 0 || n > 7) invalid();
}

/** What flux-core's log attribute setters accept; anything else is EINVAL. */
export const LOG_VALIDATORS: Record<string, (v: string) => void> = {
  'log-level': checkLevel,
  'log-forward-level': checkLevel,
  'log-stderr-level': checkLevel,
  'log-critical-level': checkLevel,
  'log-ring-size': (v) => {
    if (!/^\+?\d+$/.test(v)) invalid();
  },
  'log-stderr-mode': (v) => {
    if (v !== 'leader' && v !== 'local') invalid();
  },
};

/** Wall clock with microseconds (Date has only milliseconds). */
function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** A ring buffer of lines with a capacity that may change (0 = keep nothing). */
export class LogRing {
  private lines: string[] = [];
  /** Lines ever added (flux-core's `count` in log.stats-get). */
  count = 0;

  push(line: string, capacity: number): void {
    this.count++;
    if (capacity <= 0) {
      this.lines = [];
      return;
    }
    this.lines.push(line);
    this.trim(capacity);
  }

  trim(capacity: number): void {
    const excess = this.lines.length - Math.max(0, capacity);
    if (excess > 0) this.lines.splice(0, excess);
  }

  clear(): void {
    this.lines = [];
  }

  entries(): readonly string[] {
    return this.lines;
  }

  get size(): number {
    return this.lines.length;
  }
}

export type LogListener = (line: string) => void;

export class BrokerLog {
  readonly ring = new LogRing();
  private readonly listeners = new Set<LogListener>();
  private notifying = false;
  /** Sends a line to the parent broker (`log.append`, UPSTREAM); set by the broker. */
  forward: (line: string) => void = () => {};

  constructor(
    private readonly rank: number,
    private readonly settings: LogSettings,
    private readonly stderr: (s: string) => void = (s) => void process.stderr.write(s),
  ) {
    for (const [k, v] of Object.entries(LOG_DEFAULTS)) settings.setDefault(k, v);
  }

  private level(name: string): number {
    const n = parseInt(this.settings.get(name) ?? LOG_DEFAULTS[name] ?? '', 10);
    return Number.isNaN(n) ? parseInt(LOG_DEFAULTS[name] ?? '0', 10) : n;
  }

  /** Log a message of this broker; each line of it becomes one entry. */
  log(severity: number, appname: string, message: string): void {
    const lines = message.replace(/[\r\n]+$/, '').split('\n');
    for (const msg of lines) {
      const hdr = {
        pri: makePri(severity),
        version: 1,
        timestamp: formatTimestamp(nowMs()),
        hostname: String(this.rank),
        appname,
        procid: String(process.pid),
        msgid: '-',
      };
      this.append(encode(hdr, msg));
    }
  }

  err(message: string): void {
    this.log(LOG_ERR, 'broker', message);
  }

  info(message: string): void {
    this.log(LOG_INFO, 'broker', message);
  }

  debug(message: string): void {
    this.log(LOG_DEBUG, 'broker', message);
  }

  /**
   * Take in one RFC 5424 line (from this broker or from `log.append`). Lines of
   * this rank are kept at or below log-level; lines of other ranks arrive
   * forwarded and are kept on rank 0. Lines at or below log-forward-level move
   * on toward rank 0.
   */
  append(line: string): void {
    const e = decode(line);
    const rank = e ? parseInt(e.hostname, 10) : NaN;
    const severity = e ? severityOf(e.pri) : LOG_INFO;
    const own = rank === this.rank;
    const local = this.settings.get('log-stderr-mode') === 'local';
    let echoed = false;
    if ((own || this.rank === 0) && severity <= this.level('log-level')) this.keep(line);
    if (own && (severity <= this.level('log-critical-level') || (local && severity <= this.level('log-stderr-level')))) {
      this.echo(line, !local);
      echoed = true;
    }
    if (this.rank !== 0 && severity <= this.level('log-forward-level')) this.forward(line);
    if (!echoed && !local && this.rank === 0 && severity <= this.level('log-stderr-level')) this.echo(line, true);
  }

  private keep(line: string): void {
    const size = this.level('log-ring-size');
    this.ring.push(line, size);
    if (size <= 0 || this.notifying) return; // an entry logged while notifying is not streamed (no feedback loops)
    this.notifying = true;
    try {
      for (const l of [...this.listeners]) l(line);
    } finally {
      this.notifying = false;
    }
  }

  private echo(line: string, timestamp: boolean): void {
    this.stderr(formatStderr(line, timestamp) + '\n');
  }

  /** Called with every line kept from now on; returns the unsubscribe function. */
  subscribe(l: LogListener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  get followers(): number {
    return this.listeners.size;
  }

  entries(): readonly string[] {
    return this.ring.entries();
  }

  clear(): void {
    this.ring.clear();
  }

  /** Apply a new log-ring-size to what is already kept. */
  trim(): void {
    this.ring.trim(this.level('log-ring-size'));
  }
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** flux-core's stderr form: `Nov 24 17:55:17.350918 UTC 2026 broker.err[0]: msg` (local time). */
export function formatStderr(line: string, timestamp: boolean): string {
  const e = decode(line);
  if (!e) return line;
  const body = `${e.appname}.${severityName(severityOf(e.pri))}[${parseInt(e.hostname, 10) || 0}]: ${e.msg}`;
  if (!timestamp) return body;
  const t = parseTimestamp(e.timestamp);
  if (!t) return `${e.timestamp} ${body}`;
  const d = new Date(t.sec * 1000);
  const p2 = (n: number): string => String(n).padStart(2, '0');
  const tz = new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' }).formatToParts(d).find((x) => x.type === 'timeZoneName')?.value ?? '';
  return `${MONTHS[d.getMonth()]} ${p2(d.getDate())} ${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}.` +
    `${String(t.usec).padStart(6, '0')} ${tz} ${d.getFullYear()} ${body}`;
}
