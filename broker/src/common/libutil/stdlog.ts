/**
 * Flux's log line format: RFC 5424 syslog text
 *   <PRI>VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA MSG
 * with flux-core's quirks: PRI is severity<<3 | (facility & 7) (the reverse of
 * syslog's), HOSTNAME carries the broker rank, TIMESTAMP is UTC with
 * microseconds and a `Z`, and unused fields are `-`. Pure: no I/O.
 */

export const NILVALUE = '-';

export const SEVERITY_NAMES = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'] as const;

/** Field width limits flux-core applies when encoding. */
const MAX = { timestamp: 32, hostname: 255, appname: 48, procid: 128, msgid: 32 };

export interface StdlogHeader {
  pri: number;
  version: number;
  timestamp: string;
  hostname: string;
  appname: string;
  procid: string;
  msgid: string;
}

export interface StdlogEntry extends StdlogHeader {
  /** STRUCTURED-DATA, `-` when there is none. */
  sd: string;
  msg: string;
}

export function severityOf(pri: number): number {
  return pri >> 3;
}

export function facilityOf(pri: number): number {
  return pri & 7;
}

export function makePri(severity: number, facility = 0): number {
  return (severity << 3) | (facility & 7);
}

/** `err` for 3; `-` for anything out of range, as flux-core prints it. */
export function severityName(severity: number): string {
  return SEVERITY_NAMES[severity] ?? NILVALUE;
}

/** 3 for `err` (any case); -1 when unknown. */
export function severityFromName(name: string): number {
  return SEVERITY_NAMES.indexOf(name.toLowerCase() as (typeof SEVERITY_NAMES)[number]);
}

/** A header with flux-core's defaults (info, everything else nil). */
export function defaultHeader(): StdlogHeader {
  return { pri: makePri(6), version: 1, timestamp: NILVALUE, hostname: NILVALUE, appname: NILVALUE, procid: NILVALUE, msgid: NILVALUE };
}

/** `2026-11-24T19:42:13.441719Z` for a time in (fractional) milliseconds since the epoch. */
export function formatTimestamp(epochMs: number): string {
  const ms = Math.floor(epochMs);
  const usec = Math.min(999, Math.max(0, Math.round((epochMs - ms) * 1000)));
  const iso = new Date(ms).toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
  return `${iso.slice(0, 23)}${String(usec).padStart(3, '0')}Z`;
}

/** Parse `YYYY-MM-DDTHH:MM:SS[.ffffff]Z` into seconds and microseconds since the epoch. */
export function parseTimestamp(ts: string): { sec: number; usec: number } | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?Z$/.exec(ts);
  if (!m) return undefined;
  const ms = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
  if (Number.isNaN(ms)) return undefined;
  return { sec: ms / 1000, usec: m[7] ? Number(m[7].padEnd(6, '0')) : 0 };
}

/**
 * Encode one entry. Message bytes are masked to 7-bit ASCII and trailing CR/LF
 * dropped, as flux-core does; header fields are cut to their maximum widths.
 */
export function encode(hdr: StdlogHeader, msg: string, sd: string = NILVALUE): string {
  const head =
    `<${hdr.pri}>${hdr.version} ${hdr.timestamp.slice(0, MAX.timestamp)} ${hdr.hostname.slice(0, MAX.hostname)} ` +
    `${hdr.appname.slice(0, MAX.appname)} ${hdr.procid.slice(0, MAX.procid)} ${hdr.msgid.slice(0, MAX.msgid)} ${sd} `;
  const bytes = Buffer.from(msg, 'utf8');
  for (let i = 0; i < bytes.length; i++) bytes[i] &= 0x7f;
  return head + bytes.toString('latin1').replace(/[\r\n]+$/, '');
}

/** Decode a line; undefined when it is not in this format. */
export function decode(line: string): StdlogEntry | undefined {
  const m = /^<(\d+)>(\d+) ([^ ]+) ([^ ]+) ([^ ]+) ([^ ]+) ([^ ]+) /.exec(line);
  if (!m) return undefined;
  // STRUCTURED-DATA: `-` or bracketed elements, ending at a space outside brackets.
  let off = m[0].length;
  const start = off;
  let depth = 0;
  for (; off < line.length; off++) {
    const c = line[off];
    if (c === '[') depth++;
    else if (c === ']') depth--;
    else if (c === ' ' && depth === 0) break;
  }
  if (off >= line.length) return undefined;
  return {
    pri: Number(m[1]),
    version: Number(m[2]),
    timestamp: m[3],
    hostname: m[4],
    appname: m[5],
    procid: m[6],
    msgid: m[7],
    sd: line.slice(start, off),
    msg: line.slice(off + 1),
  };
}
