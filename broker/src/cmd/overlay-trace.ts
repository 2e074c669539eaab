/**
 * `flux overlay trace [-f] [-r RANK] [-t TYPE,...] [-L[WHEN]] [-H] [-d] [topic-glob]`:
 * follow the local broker's `overlay.trace` stream, one line per message it
 * sends or receives on the TBON, in the layout of flux-core's message tracers:
 *
 *   2026-11-25T00:01:02.345 tx 1 > kvs.ping [19]
 *   2026-11-25T00:01:02.347 rx 1 < kvs.ping [19] success
 *
 * (direction, overlay peer rank, type: > request, < response, e event,
 * c control, topic, payload size). Runs until interrupted.
 */
import { errno as E } from '../common/libflux/errno';
import { FLAG_STREAMING, MSGTYPE_CONTROL, MSGTYPE_EVENT, MSGTYPE_REQUEST, MSGTYPE_RESPONSE, getJson } from '../common/libflux/message';
import { Optparse, has, last } from '../common/liboptparse/optparse';
import { Exit, die, errText, open, out, parseOrExit, usageExit } from './cli';
import { PROG, futureStrerror, useColor } from './overlay-common';

const TRACE_OPTIONS = new Optparse('flux-overlay trace', [
  { name: 'full', key: 'f', usage: 'Show JSON message payload, if any' },
  { name: 'rank', key: 'r', hasArg: 1, arginfo: 'NODEID', usage: 'Filter output by peer rank' },
  { name: 'type', key: 't', hasArg: 1, arginfo: 'TYPE,...', usage: 'Filter output by message type (request, response, event, control)' },
  { name: 'color', key: 'L', hasArg: 2, arginfo: 'WHEN', usage: "Colorize output when supported; WHEN can be 'always' (default if omitted), 'never', or 'auto' (default)." },
  { name: 'human', key: 'H', usage: 'Human readable output' },
  { name: 'delta', key: 'd', usage: 'With --human, show timestamp delta between messages' },
], '[OPTIONS] [topic-glob]', 25, 'Trace overlay messages');

const TYPES: Record<string, number> = { request: MSGTYPE_REQUEST, response: MSGTYPE_RESPONSE, event: MSGTYPE_EVENT, control: MSGTYPE_CONTROL };
const TYPE_CHAR: [number, string][] = [[MSGTYPE_REQUEST, '>'], [MSGTYPE_RESPONSE, '<'], [MSGTYPE_EVENT, 'e'], [MSGTYPE_CONTROL, 'c']];

const C = {
  [MSGTYPE_EVENT]: '\x1b[33m',
  [MSGTYPE_REQUEST]: '\x1b[1m\x1b[34m',
  [MSGTYPE_RESPONSE]: '\x1b[36m',
  [MSGTYPE_CONTROL]: '\x1b[1m',
  time: '\x1b[32m',
  timebreak: '\x1b[1m\x1b[32m',
  fail: '\x1b[1m\x1b[31m',
  reset: '\x1b[0m',
} as const;

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** strerrorname_np: the errno's symbolic name (EOPNOTSUPP for 95, not ENOTSUP). */
const ERRNAMES = new Map<number, string>();
for (const [name, n] of Object.entries(E)) if (!ERRNAMES.has(n)) ERRNAMES.set(n, name);

/** flux-core's encode_size: 1024-based suffixes, 8 significant digits. */
export function encodeSize(size: number): string {
  const suffix = ['', 'K', 'M', 'G', 'T', 'P', 'E'];
  let v = size;
  let i = 0;
  while (v >= 1024) {
    v /= 1024;
    i++;
  }
  const s = Number.isInteger(v) ? String(v) : v.toPrecision(8).replace(/\.?0+$/, '');
  return `${s}${suffix[i]}`;
}

export interface TraceEntry {
  timestamp: number;
  prefix: string;
  rank: number;
  type: number;
  topic: string;
  payload_size: number;
  payload?: unknown;
  errnum?: number;
  errstr?: string;
}

const p2 = (n: number): string => String(n).padStart(2, '0');
const p3 = (n: number): string => String(n).padStart(3, '0');

export class TracePrinter {
  private lastTimestamp = 0;

  constructor(private readonly color: boolean, private readonly human: boolean, private readonly delta: boolean) {}

  private c(code: string): string {
    return this.color ? code : '';
  }

  private timestamp(ts: number): string {
    const d = new Date(ts * 1000);
    if (!this.human) {
      const iso = `${d.getFullYear()}-${p2(d.getMonth() + 1)}-${p2(d.getDate())}T${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}`;
      return `${this.c(C.time)}${iso}.${p3(Math.floor((ts - Math.floor(ts)) * 1000))}${this.c(C.reset)}`;
    }
    // Within the minute of the last absolute stamp: an offset in seconds, else a new stamp.
    if (Math.floor(ts / 60) === Math.floor(this.lastTimestamp / 60)) {
      const off = this.delta ? ts - this.lastTimestamp : ts - this.lastTimestamp + (this.lastTimestamp % 60);
      if (this.delta) this.lastTimestamp = ts;
      const s = `${off < 0 ? '-' : '+'}${Math.abs(off).toFixed(6)}`.padStart(11);
      return `${this.c(C.time)}[${s}]${this.c(C.reset)}`;
    }
    this.lastTimestamp = ts;
    return `${this.c(C.timebreak)}[${MONTHS[d.getMonth()]}${p2(d.getDate())} ${p2(d.getHours())}:${p2(d.getMinutes())}]${this.c(C.reset)}`;
  }

  format(e: TraceEntry): string {
    const typeChar = TYPE_CHAR.find(([t]) => e.type & t)?.[1] ?? '?';
    let s = `${e.prefix} ${e.rank} ${typeChar} ${e.topic} [${encodeSize(e.payload_size)}]`;
    const errnum = e.errnum ?? 0;
    if (e.type === MSGTYPE_RESPONSE) s += errnum === 0 ? ' success' : ` ${ERRNAMES.get(errnum) ?? `errno ${errnum}`}`;
    let payload: string | undefined;
    if (errnum > 0) payload = e.errstr ? e.errstr : undefined;
    else if (e.payload !== undefined && e.payload !== null) payload = JSON.stringify(e.payload, null, 2);
    const code = e.type === MSGTYPE_RESPONSE && errnum > 0 ? C.fail : (C as Record<number, string>)[e.type] ?? '';
    return `${this.timestamp(e.timestamp)} ${this.c(code)}${s}${payload !== undefined ? `\n${payload}` : ''}${this.c(code ? C.reset : '')}`;
  }
}

export async function trace(argv: string[]): Promise<void> {
  const o = parseOrExit(TRACE_OPTIONS, argv);
  if (o.args.length > 1) usageExit(TRACE_OPTIONS);
  if (has(o, 'delta') && !has(o, 'human')) die(PROG, '--delta can only be used with --human');
  let typemask = MSGTYPE_REQUEST | MSGTYPE_RESPONSE | MSGTYPE_EVENT | MSGTYPE_CONTROL;
  if (has(o, 'type')) {
    typemask = 0;
    for (const t of (o.values.get('type') ?? []).flatMap((v) => v.split(','))) {
      const bit = TYPES[t];
      if (bit === undefined) die(PROG, 'valid types: request, response, event, control');
      typemask |= bit;
    }
  }
  let nodeid = -1;
  const r = last(o, 'rank');
  if (r !== undefined) {
    if (!/^\d+$/.test(r)) die(PROG, `invalid rank: ${r}`);
    nodeid = Number(r);
  }
  const printer = new TracePrinter(useColor(has(o, 'color') ? last(o, 'color') : undefined), has(o, 'human'), has(o, 'delta'));
  const h = await open(PROG);
  const rpc = h.rpc('overlay.trace', { typemask, topic_glob: o.args[0] ?? '*', nodeid, full: has(o, 'full') }, { flags: FLAG_STREAMING });
  // Interrupted: a normal end, as in flux-core (whose exit() flushes stdio: so do we).
  const stop = (): void => {
    h.close();
    void out.flush().finally(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    for await (const m of rpc) {
      out.write(printer.format(getJson<TraceEntry>(m)) + '\n');
      // A live tail: each message as it comes, even into a pipe.
      await out.flush();
    }
  } catch (e) {
    if (e instanceof Exit) throw e;
    die(PROG, futureStrerror(e) || errText(e));
  } finally {
    h.close();
  }
}
