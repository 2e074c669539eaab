/**
 * Job states and results (RFC 21), the eventlog format (RFC 18) and the
 * state a job is in after each event: one pure state machine shared by
 * job-manager, job-list and the command line.
 */
import { parseJson, stringifyJson, type JsonValue } from './json';

export const STATE_NEW = 1;
export const STATE_DEPEND = 2;
export const STATE_PRIORITY = 4;
export const STATE_SCHED = 8;
export const STATE_RUN = 16;
export const STATE_CLEANUP = 32;
export const STATE_INACTIVE = 64;
export const STATE_PENDING = STATE_DEPEND | STATE_PRIORITY | STATE_SCHED;
export const STATE_RUNNING = STATE_RUN | STATE_CLEANUP;
export const STATE_ACTIVE = STATE_PENDING | STATE_RUNNING;

export const RESULT_COMPLETED = 1;
export const RESULT_FAILED = 2;
export const RESULT_CANCELED = 4;
export const RESULT_TIMEOUT = 8;

/** Submit flags (job-ingest.submit). */
export const FLAG_DEBUG = 2;
export const FLAG_WAITABLE = 4;
export const FLAG_NOVALIDATE = 8;

export const URGENCY_MIN = 0;
export const URGENCY_HOLD = 0;
export const URGENCY_DEFAULT = 16;
export const URGENCY_EXPEDITE = 31;
export const PRIORITY_MAX = 4294967295;

const STATE_NAMES: [number, string, string][] = [
  [STATE_NEW, 'NEW', 'N'],
  [STATE_DEPEND, 'DEPEND', 'D'],
  [STATE_PRIORITY, 'PRIORITY', 'P'],
  [STATE_SCHED, 'SCHED', 'S'],
  [STATE_RUN, 'RUN', 'R'],
  [STATE_CLEANUP, 'CLEANUP', 'C'],
  [STATE_INACTIVE, 'INACTIVE', 'I'],
];
const RESULT_NAMES: [number, string, string][] = [
  [RESULT_COMPLETED, 'COMPLETED', 'CD'],
  [RESULT_FAILED, 'FAILED', 'F'],
  [RESULT_CANCELED, 'CANCELED', 'CA'],
  [RESULT_TIMEOUT, 'TIMEOUT', 'TO'],
];

/** flux_job_statetostr(): 'L' long, 'S' single letter. */
export function stateToString(state: number, fmt: 'L' | 'S' = 'L'): string {
  const e = STATE_NAMES.find(([s]) => s === state);
  return e ? (fmt === 'S' ? e[2] : e[1]) : fmt === 'S' ? '?' : '(unknown)';
}

export function resultToString(result: number, fmt: 'L' | 'S' = 'L'): string {
  const e = RESULT_NAMES.find(([r]) => r === result);
  return e ? (fmt === 'S' ? e[2] : e[1]) : fmt === 'S' ? '?' : '(unknown)';
}

/** A state name (any case, also pending/running/active) to its bits; undefined when unknown. */
export function stateFromString(s: string): number | undefined {
  const u = s.toUpperCase();
  if (u === 'PENDING') return STATE_PENDING;
  if (u === 'RUNNING') return STATE_RUNNING;
  if (u === 'ACTIVE') return STATE_ACTIVE;
  return STATE_NAMES.find(([, l, c]) => l === u || c === u)?.[0];
}

export function resultFromString(s: string): number | undefined {
  const u = s.toUpperCase();
  if (u === 'CANCELLED') return RESULT_CANCELED;
  return RESULT_NAMES.find(([, l, c]) => l === u || c === u)?.[0];
}

export interface JobEvent {
  timestamp: number;
  name: string;
  context?: Record<string, JsonValue>;
}

const FLOAT_TIMESTAMP = new Set(['timestamp']);

/** One eventlog line (without the newline), compact as flux-core's eventlog_entry_encode writes it. */
export function encodeEvent(ev: JobEvent): string {
  const o: Record<string, unknown> = { timestamp: ev.timestamp, name: ev.name };
  if (ev.context !== undefined) o.context = ev.context;
  return stringifyJson(o, { layout: 'jansson', floatPaths: FLOAT_TIMESTAMP });
}

/** Seconds since the epoch, finer than a millisecond (as flux-core's clock_gettime). */
export function eventNow(): number {
  return (performance.timeOrigin + performance.now()) / 1000;
}

export function makeEvent(name: string, context?: Record<string, JsonValue>, timestamp = eventNow()): JobEvent {
  return context === undefined ? { timestamp, name } : { timestamp, name, context };
}

/** Parse one eventlog entry; undefined when it is not one. */
export function decodeEvent(line: string): JobEvent | undefined {
  let v: JsonValue;
  try {
    v = parseJson(line);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const o = v as Record<string, JsonValue>;
  if (typeof o.timestamp !== 'number' || typeof o.name !== 'string') return undefined;
  const ev: JobEvent = { timestamp: o.timestamp, name: o.name };
  if (typeof o.context === 'object' && o.context !== null && !Array.isArray(o.context)) ev.context = o.context as Record<string, JsonValue>;
  return ev;
}

/** An eventlog's text (RFC 18) to its entries; blank lines skipped, bad ones dropped. */
export function parseEventlog(text: string): JobEvent[] {
  const out: JobEvent[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const ev = decodeEvent(line);
    if (ev) out.push(ev);
  }
  return out;
}

/** `flux job eventlog` line: `TIMESTAMP NAME key=value...` (values as compact JSON). */
export function formatEventText(ev: JobEvent): string {
  const parts = [ev.timestamp.toFixed(6), ev.name];
  for (const [k, v] of Object.entries(ev.context ?? {})) parts.push(`${k}=${stringifyJson(v)}`);
  return parts.join(' ');
}

/**
 * What a job's events add up to: its state and the facts flux jobs shows.
 * `apply()` follows RFC 21's transitions (the ones job-manager makes).
 */
export class JobStateMachine {
  state = STATE_NEW;
  t_submit = 0;
  t_depend = 0;
  t_priority = 0;
  t_sched = 0;
  t_run = 0;
  t_cleanup = 0;
  t_inactive = 0;
  urgency = URGENCY_DEFAULT;
  priority: number | undefined;
  userid = 0;
  flags = 0;
  waitstatus: number | undefined;
  exception: { occurred: boolean; severity: number; type: string; note: string } = { occurred: false, severity: 0, type: '', note: '' };
  /** The first fatal exception (severity 0): it decides the result. */
  fatal: { type: string; note: string } | undefined;
  annotations: Record<string, JsonValue> | undefined;

  /** Set the state, stamping its time. */
  private enter(state: number, t: number): void {
    this.state = state;
    if (state === STATE_DEPEND) this.t_depend = t;
    else if (state === STATE_PRIORITY) this.t_priority = t;
    else if (state === STATE_SCHED) this.t_sched = t;
    else if (state === STATE_RUN) this.t_run = t;
    else if (state === STATE_CLEANUP) this.t_cleanup = t;
    else if (state === STATE_INACTIVE) this.t_inactive = t;
  }

  /** Apply an event; returns true when the state changed. */
  apply(ev: JobEvent): boolean {
    const before = this.state;
    const c = ev.context ?? {};
    const t = ev.timestamp;
    switch (ev.name) {
      case 'submit':
        this.t_submit = t;
        if (typeof c.urgency === 'number') this.urgency = c.urgency;
        if (typeof c.userid === 'number') this.userid = c.userid;
        if (typeof c.flags === 'number') this.flags = c.flags;
        break;
      case 'validate':
        if (this.state === STATE_NEW) this.enter(STATE_DEPEND, t);
        break;
      case 'invalidate':
        if (this.state === STATE_NEW) this.enter(STATE_INACTIVE, t);
        break;
      case 'depend':
        if (this.state === STATE_DEPEND) this.enter(STATE_PRIORITY, t);
        break;
      case 'priority':
        if (typeof c.priority === 'number') this.priority = c.priority;
        if (this.state === STATE_PRIORITY) this.enter(STATE_SCHED, t);
        break;
      case 'annotations':
        // The scheduler's latest word on a pending job (journal only, never in the eventlog).
        this.annotations = typeof c.annotations === 'object' && c.annotations !== null && !Array.isArray(c.annotations)
          ? c.annotations as Record<string, JsonValue> : undefined;
        break;
      case 'urgency':
        if (typeof c.urgency === 'number') this.urgency = c.urgency;
        break;
      case 'alloc':
        if (typeof c.annotations === 'object' && c.annotations !== null && !Array.isArray(c.annotations)) {
          this.annotations = c.annotations as Record<string, JsonValue>;
        }
        if (this.state === STATE_SCHED) this.enter(STATE_RUN, t);
        break;
      case 'finish':
        if (typeof c.status === 'number') this.waitstatus = c.status;
        if (this.state === STATE_RUN) this.enter(STATE_CLEANUP, t);
        break;
      case 'exception': {
        const severity = typeof c.severity === 'number' ? c.severity : 0;
        const type = typeof c.type === 'string' ? c.type : '';
        const note = typeof c.note === 'string' ? c.note : '';
        if (!this.exception.occurred || severity <= this.exception.severity) this.exception = { occurred: true, severity, type, note };
        if (severity === 0) {
          if (!this.fatal) this.fatal = { type, note };
          if (this.state & (STATE_NEW | STATE_PENDING | STATE_RUN)) this.enter(STATE_CLEANUP, t);
        }
        break;
      }
      case 'clean':
        if (this.state === STATE_CLEANUP) this.enter(STATE_INACTIVE, t);
        break;
      default:
        break;
    }
    return this.state !== before;
  }

  /** RFC 21 result, meaningful once INACTIVE. */
  get result(): number {
    if (this.fatal) {
      if (this.fatal.type === 'cancel') return RESULT_CANCELED;
      if (this.fatal.type === 'timeout') return RESULT_TIMEOUT;
      return RESULT_FAILED;
    }
    return this.waitstatus === 0 ? RESULT_COMPLETED : RESULT_FAILED;
  }

  get success(): boolean {
    return this.result === RESULT_COMPLETED;
  }
}

/** The exit code a wait status stands for (flux run's: 128+signal when signaled). */
export function waitStatusExitCode(status: number): number {
  const sig = status & 0x7f;
  if (sig !== 0) return 128 + sig;
  return (status >> 8) & 0xff;
}

/** The priority the default plugin derives from urgency (flux-core's builtin priority plugin). */
export function priorityFromUrgency(urgency: number): number {
  if (urgency === URGENCY_HOLD) return 0;
  if (urgency === URGENCY_EXPEDITE) return PRIORITY_MAX;
  return urgency;
}
