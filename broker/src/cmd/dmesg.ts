/**
 * `flux dmesg`: print (and/or clear) the broker's log ring buffer, as
 * flux-core 0.88 prints it:
 *   2026-08-18T10:00:00.123456-07:00 broker.debug[0]: insmod kvs
 * (local time with its UTC offset; the recorded UTC timestamp as is when the
 * offset is zero), or with -H `[Nov24 17:55] ...` then `[  +0.000133] ...`.
 */
import { FLAG_STREAMING } from '../common/libflux/message';
import { Optparse, has, last } from '../common/liboptparse/optparse';
import { decode, parseTimestamp, severityName, severityOf } from '../common/libutil/stdlog';
import { die, errText, open, out, parseOrExit } from './cli';

const PROG = 'flux-dmesg';

class DmesgOptparse extends Optparse {
  override usage(): string {
    // flux-core prints the subcommand's usage line and summary, and `=WHEN` for the optional argument.
    return super
      .usage()
      .replace(/^Usage: .*\n/, 'Usage: flux dmesg [OPTIONS...]\nPrint or control log ring buffer\n')
      .replace('--color=[WHEN]  ', '--color=WHEN    ');
  }
}

export const DMESG_OPTIONS = new DmesgOptparse(PROG, [
  { name: 'clear', key: 'C', usage: 'Clear the ring buffer' },
  { name: 'read-clear', key: 'c', usage: 'Clear the ring buffer contents after printing' },
  { name: 'follow', key: 'f', usage: 'Track new entries as are logged' },
  { name: 'new', key: 'n', usage: 'Show only new log messages' },
  { name: 'human', key: 'H', usage: 'Human readable output' },
  { name: 'delta', key: 'd', usage: 'With --human, show timestamp delta between messages' },
  {
    name: 'color',
    key: 'L',
    hasArg: 2,
    arginfo: 'WHEN',
    usage: "Colorize output when supported; WHEN can be 'always' (default if omitted), 'never', or 'auto' (default).",
  },
], '[OPTIONS...]');

const C = {
  reset: '\x1b[0m',
  name: '\x1b[33m',
  time: '\x1b[32m',
  timebreak: '\x1b[1m\x1b[32m',
  emerg: '\x1b[7m\x1b[31m',
  alert: '\x1b[7m\x1b[31m',
  crit: '\x1b[1m\x1b[31m',
  err: '\x1b[31m',
  warning: '\x1b[1m',
  debug: '\x1b[34m',
};

const SEVERITY_COLOR = [C.emerg, C.alert, C.crit, C.err, C.warning, '', '', C.debug];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

const p2 = (n: number): string => String(n).padStart(2, '0');

/** `+HH:MM` / `-HH:MM` for the local zone at `d`, or `Z` when it is UTC. */
export function tzOffset(d: Date): string {
  const off = -d.getTimezoneOffset();
  if (off === 0) return 'Z';
  const a = Math.abs(off);
  return `${off < 0 ? '-' : '+'}${p2(Math.floor(a / 60))}:${p2(a % 60)}`;
}

/** The default timestamp: local time, microseconds, offset (the line's own text when in UTC). */
export function isoTimestamp(ts: string): string {
  const t = parseTimestamp(ts);
  if (!t) return ts;
  const d = new Date(t.sec * 1000);
  const tz = tzOffset(d);
  if (tz === 'Z') return ts;
  return `${d.getFullYear()}-${p2(d.getMonth() + 1)}-${p2(d.getDate())}T${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}` +
    `.${String(t.usec).padStart(6, '0')}${tz}`;
}

/** Formats lines one after the other (the -H form depends on the lines before). */
export class DmesgPrinter {
  private lastMinute: string | undefined;
  private lastTime = 0;

  constructor(private readonly human: boolean, private readonly delta: boolean, private readonly color: boolean) {}

  private c(code: string): string {
    return this.color ? code : '';
  }

  private humanTimestamp(ts: string): string {
    const t = parseTimestamp(ts);
    if (!t) return `${this.c(C.time)}[${ts}]${this.c(C.reset)}`;
    const d = new Date(t.sec * 1000);
    const time = t.sec + t.usec / 1e6;
    const minute = `${MONTHS[d.getMonth()]}${p2(d.getDate())} ${p2(d.getHours())}:${p2(d.getMinutes())}`;
    if (minute === this.lastMinute && d.getFullYear() === new Date(this.lastTime * 1000).getFullYear()) {
      const dt = time - this.lastTime;
      if (this.delta) this.lastTime = time;
      const s = `${dt < 0 ? '-' : '+'}${Math.abs(dt).toFixed(6)}`.padStart(11);
      return `${this.c(C.time)}[${s}]${this.c(C.reset)}`;
    }
    this.lastMinute = minute;
    this.lastTime = time;
    return `${this.c(C.timebreak)}[${minute}]${this.c(C.reset)}`;
  }

  /** One output line (without newline) for one RFC 5424 log line. */
  format(line: string): string {
    const e = decode(line);
    if (!e) return line;
    const sev = severityOf(e.pri);
    const ts = this.human ? this.humanTimestamp(e.timestamp) : `${this.c(C.time)}${isoTimestamp(e.timestamp)}${this.c(C.reset)}`;
    const rank = parseInt(e.hostname, 10) || 0;
    return `${ts} ${this.c(C.name)}${e.appname}.${severityName(sev)}[${rank}]${this.c(C.reset)}: ` +
      `${this.color ? SEVERITY_COLOR[sev] ?? '' : ''}${e.msg}${this.c(C.reset)}`;
  }
}

export async function dmesg(argv: string[]): Promise<void> {
  const p = DMESG_OPTIONS;
  const o = parseOrExit(p, argv);
  if (o.args.length !== 0) die(PROG, 'flux-dmesg accepts no free arguments');
  let when = 'auto';
  if (has(o, 'color')) when = last(o, 'color') || 'always';
  let color: boolean;
  if (when === 'always') color = true;
  else if (when === 'never') color = false;
  else if (when === 'auto') color = process.stdout.isTTY === true;
  else die(PROG, `Invalid argument to --color: '${when}'`);
  if (has(o, 'delta') && !has(o, 'human')) die(PROG, '--delta can only be used with --human');
  const printer = new DmesgPrinter(has(o, 'human'), has(o, 'delta'), color);
  const follow = has(o, 'follow');

  const h = await open(PROG);
  try {
    if (!has(o, 'clear')) {
      const rpc = h.rpc('log.dmesg', { follow, nobacklog: has(o, 'new') }, { flags: FLAG_STREAMING });
      try {
        for await (const m of rpc) {
          const raw = m.payload ?? Buffer.alloc(0);
          const nul = raw.indexOf(0);
          out.write(printer.format(raw.toString('utf8', 0, nul < 0 ? raw.length : nul)) + '\n');
          if (follow) await out.flush();
        }
      } catch (e) {
        die(PROG, `log.dmesg: ${errText(e)}`);
      }
    }
    if (has(o, 'read-clear') || has(o, 'clear')) {
      try {
        await h.rpc('log.clear').response();
      } catch (e) {
        die(PROG, `log.clear: ${errText(e)}`);
      }
    }
  } finally {
    h.close();
  }
}
