/**
 * Pure output formatting of `flux kvs`: ls columns, dir lines, eventlog entries. Kept apart from
 * the RPC code so the unit tests can pin the exact bytes flux-kvs.c prints.
 *
 * flux-kvs measures with strlen() and tests characters with isprint() in the C locale, so widths
 * are counted in UTF-8 bytes and any byte >= 0x80 counts as non-printable. We keep that.
 */
import { JsonReal, janssonDumps, type JsonValue } from '../common/libkvs/jansson';

/**
 * list_kvs_keys()/list_kvs_dir_single(): names left to right in columns of (longest + 4),
 * a new line when the next column would pass `width` (0 = never), at least one name per line.
 */
export function lsColumns(names: readonly string[], width: number, longest?: number): string {
  if (names.length === 0) return '';
  // A directory's listing sizes its columns by the undecorated names (get_dir_maxname()), so
  // -F's "." and "@" eat into the padding; a list of keys uses the names as given.
  const colWidth = (longest ?? Math.max(...names.map((n) => Buffer.byteLength(n)))) + 4;
  let s = '';
  let col = 0;
  let lastLen = 0;
  for (const name of names) {
    if (width !== 0 && col + colWidth > width && col > 0) {
      s += '\n';
      col = 0;
    } else if (lastLen > 0) {
      s += ' '.repeat(colWidth - lastLen);
    }
    s += name;
    lastLen = Buffer.byteLength(name);
    col += colWidth;
  }
  return s + '\n';
}

function isprint(b: number): boolean {
  return b >= 0x20 && b <= 0x7e;
}

/**
 * kv_printf(): `key = value` (or just `value` when key is undefined), cut to `maxcol` - 3 bytes,
 * at the first newline, and at the first non-printable byte, with "..." when something was
 * cut. maxcol 0 (or 1-3) means no limit. `value` is the C string flux-kvs prints, so it
 * stops at the first NUL byte.
 */
export function kvLine(key: string | undefined, value: Uint8Array, maxcol: number): Buffer {
  const nul = value.indexOf(0);
  const val = nul >= 0 ? value.subarray(0, nul) : value;
  let kv = Buffer.concat([Buffer.from(key !== undefined ? `${key} = ` : '', 'utf8'), val]);
  let overflow = false;
  if (maxcol !== 0 && maxcol <= 3) maxcol = 0;
  if (maxcol !== 0) {
    if (kv.length > maxcol - 3) {
      kv = kv.subarray(0, maxcol - 3);
      overflow = true;
    }
    const nl = kv.indexOf(0x0a);
    if (nl >= 0) {
      // no ellipsis when the newline was the last thing left
      if (nl + 1 < kv.length) overflow = true;
      kv = kv.subarray(0, nl);
    }
    for (let i = 0; i < kv.length; i++) {
      if (!isprint(kv[i])) {
        kv = kv.subarray(0, i);
        overflow = true;
        break;
      }
    }
  }
  return Buffer.concat([kv, Buffer.from(overflow ? '...\n' : '\n')]);
}

/** The three other line forms of `flux kvs dir`. */
export function dirLineSymlink(key: string, target: string, namespace?: string): string {
  return namespace !== undefined ? `${key} -> ${namespace}::${target}\n` : `${key} -> ${target}\n`;
}

export function dirLineDir(key: string): string {
  return `${key}.\n`;
}

// --- eventlogs (RFC 18) ------------------------------------------------------------------------

export interface EventlogEntry {
  timestamp: number;
  name: string;
  context?: Record<string, JsonValue>;
  /** The entry as parsed, for --unformatted. */
  raw: Record<string, JsonValue>;
  /** The line as stored, when it is already compact JSON (see EventlogFormatter.format). */
  line?: string;
}

/** True when `s` has no whitespace outside its strings (jansson JSON_COMPACT text). */
export function isCompactJson(s: string): boolean {
  let inStr = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (inStr) {
      if (c === '\\') i++;
      else if (c === '"') inStr = false;
    } else if (c === '"') {
      inStr = true;
    } else if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      return false;
    }
  }
  return true;
}

/** eventlog_entry_parse(): timestamp (number), name (string), optional context (object). */
export function parseEventlogEntry(o: unknown): EventlogEntry | undefined {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return undefined;
  const e = o as Record<string, JsonValue>;
  if (typeof e.timestamp !== 'number' || typeof e.name !== 'string') return undefined;
  const ctx = e.context;
  if (ctx !== undefined && (typeof ctx !== 'object' || ctx === null || Array.isArray(ctx))) return undefined;
  return { timestamp: e.timestamp, name: e.name, context: ctx as Record<string, JsonValue> | undefined, raw: e };
}

/** eventlog_decode(): one JSON object per newline-terminated line; undefined if any is bad. */
export function decodeEventlog(s: string): EventlogEntry[] | undefined {
  const out: EventlogEntry[] = [];
  if (s.length === 0) return out;
  if (!s.endsWith('\n')) return undefined;
  for (const line of s.slice(0, -1).split('\n')) {
    let o: unknown;
    try {
      o = JSON.parse(line);
    } catch {
      return undefined;
    }
    const e = parseEventlogEntry(o);
    if (!e) return undefined;
    if (isCompactJson(line)) e.line = line;
    out.push(e);
  }
  return out;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function signed11(x: number): string {
  // printf("%+11.6f")
  const s = `${x < 0 || Object.is(x, -0) ? '-' : '+'}${Math.abs(x).toFixed(6)}`;
  return s.padStart(11);
}

const ANSI = {
  red: '\x1b[31m', green: '\x1b[32m', yellow: '\x1b[33m', blue: '\x1b[34m', magenta: '\x1b[35m',
  gray: '\x1b[37m', bold: '\x1b[1m', reset: '\x1b[0m',
};

/**
 * eventlog_formatter for the text forms: `TIMESTAMP NAME key=value...` with the timestamp as
 * "%lf" or, with --human, `[Mon DD HH:MM]` at each new (local) minute and `[+SS.ssssss]`
 * offsets within it; --unformatted prints the entry as compact JSON. With color: green times
 * (bold at a new minute), yellow names (bold red for "exception"), blue keys, magenta values,
 * gray numbers, as flux-core colors them.
 */
export class EventlogFormatter {
  private lastTs = 0;
  private lastMinute = '';

  constructor(readonly opts: { unformatted?: boolean; human?: boolean; color?: boolean } = {}) {}

  private c(code: string, text: string): string {
    return this.opts.color ? `${code}${text}${ANSI.reset}` : text;
  }

  private stamp(ts: number): string {
    if (!this.opts.human) return this.c(ANSI.green, ts.toFixed(6));
    const d = new Date(ts * 1000);
    if (!Number.isFinite(d.getTime())) return this.c(ANSI.green, `[${signed11(ts)}]`);
    const minute = `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}-${d.getHours()}-${d.getMinutes()}`;
    if (minute === this.lastMinute) return this.c(ANSI.green, `[${signed11(ts - this.lastTs)}]`);
    this.lastMinute = minute;
    this.lastTs = ts;
    const p2 = (n: number): string => String(n).padStart(2, '0');
    return this.c(ANSI.bold + ANSI.green, `[${MONTHS[d.getMonth()]}${p2(d.getDate())} ${p2(d.getHours())}:${p2(d.getMinutes())}]`);
  }

  format(e: EventlogEntry): string {
    // JSON.parse forgets that 2.0 was a real; jansson would print it back as 2.0. A line that
    // is already compact is exactly what json_dumps(JSON_COMPACT) would give, so print it as is.
    if (this.opts.unformatted) return `${e.line ?? janssonDumps(e.raw, { compact: true })}\n`;
    const nameColor = e.name === 'exception' ? ANSI.bold + ANSI.red : ANSI.yellow;
    let s = `${this.stamp(e.timestamp)} ${this.c(nameColor, e.name)}`;
    for (const [k, v] of Object.entries(e.context ?? {})) {
      const val = janssonDumps(v, { compact: true });
      s += ` ${this.c(ANSI.blue, k)}=${this.c(typeof v === 'number' ? ANSI.gray : ANSI.magenta, val)}`;
    }
    return `${s}\n`;
  }
}

/** eventlog_entry_encode(): the compact line `flux kvs eventlog append` appends. */
export function encodeEventlogEntry(timestamp: number, name: string, context?: Record<string, JsonValue>): string {
  // jansson holds the timestamp as a real: "%.17g", with ".0" when integral.
  const e: Record<string, JsonValue> = { timestamp: new JsonReal(timestamp), name };
  if (context !== undefined) e.context = context;
  return `${janssonDumps(e, { compact: true })}\n`;
}
