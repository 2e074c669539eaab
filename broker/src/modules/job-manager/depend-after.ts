/**
 * The rules of RFC 26's `after*` dependency schemes, as flux-core's dependency-after plugin
 * applies them: which schemes exist, how each is described in `dependency-add`/`-remove`
 * events, and what a finished antecedent means for each kind. Pure: job-manager's records in,
 * decisions out (depend.ts acts on them).
 */
import type { JobEvent } from '../../common/libjob/states';
import { RESULT_CANCELED, RESULT_COMPLETED, RESULT_FAILED, RESULT_TIMEOUT } from '../../common/libjob/states';

export const AFTER_START = 0x1;
export const AFTER_ANY = 0x2;
export const AFTER_SUCCESS = 0x4;
export const AFTER_FAILURE = 0x8;
export const AFTER_EXCEPT = 0x10;

/** Scheme names a jobspec may use, to their kind (`after` and `afterstart` are the same). */
const SCHEMES: Record<string, number> = {
  after: AFTER_START,
  afterstart: AFTER_START,
  afterany: AFTER_ANY,
  afterok: AFTER_SUCCESS,
  afternotok: AFTER_FAILURE,
  afterexcept: AFTER_EXCEPT,
};

/** The kind a scheme names, or undefined when it is not an after* scheme. */
export function afterType(scheme: string): number | undefined {
  return Object.hasOwn(SCHEMES, scheme) ? SCHEMES[scheme] : undefined;
}

/** The word used in descriptions (`after-finish=ƒ…`) and in the plugin's query output. */
export function afterTypeName(type: number): string {
  switch (type) {
    case AFTER_START: return 'after-start';
    case AFTER_ANY: return 'after-finish';
    case AFTER_SUCCESS: return 'after-success';
    case AFTER_FAILURE: return 'after-failure';
    case AFTER_EXCEPT: return 'after-except';
    default: return '';
  }
}

/** What the events of an antecedent say about how it ended. */
export interface Outcome {
  /** It was given resources (an `alloc` event): only then can anything but afterany hold. */
  allocated: boolean;
  started: boolean;
  /** flux_jobtap_get_job_result(): decided by the event that ended it. */
  result: number;
  /** That event was a fatal exception (not `finish`). */
  endedByException: boolean;
}

export function outcomeOf(events: readonly JobEvent[]): Outcome {
  let allocated = false;
  let started = false;
  let end: JobEvent | undefined;
  for (const ev of events) {
    if (ev.name === 'alloc') allocated = true;
    else if (ev.name === 'start') started = true;
    // The first finish or fatal exception is what moved the job to CLEANUP.
    if (!end && (ev.name === 'finish' || (ev.name === 'exception' && (ev.context?.severity ?? 0) === 0))) end = ev;
  }
  let result = RESULT_FAILED;
  if (end?.name === 'finish' && end.context?.status === 0) result = RESULT_COMPLETED;
  else if (end?.name === 'exception') {
    if (end.context?.type === 'cancel') result = RESULT_CANCELED;
    else if (end.context?.type === 'timeout') result = RESULT_TIMEOUT;
  }
  return { allocated, started, result, endedByException: end?.name === 'exception' };
}

/**
 * A dependency on a job that is already inactive: undefined when it is satisfied at once,
 * else the error that rejects the submission (flux-core's words; `value` is the id as written).
 */
export function inactiveVerdict(type: number, value: string, o: Outcome): string | undefined {
  // Only afterany holds for a job that never ran (flux-core issue 6555).
  if (type !== AFTER_ANY && !o.allocated) return `dependency: after: ${value} never started`;
  if (type === AFTER_START && !o.started) return `dependency: after: ${value} never started`;
  if (type === AFTER_SUCCESS && o.result !== RESULT_COMPLETED) return `dependency: afterok: job ${value} failed or was canceled`;
  if (type === AFTER_FAILURE && o.result === RESULT_COMPLETED) return `dependency: afternotok: job ${value} succeeded`;
  if (type === AFTER_EXCEPT && !o.endedByException) return `dependency: afterexcept: job ${value}: no exception`;
  return undefined;
}

/**
 * The kinds an antecedent that just became inactive releases; the rest of its dependents get
 * an exception with `reason` as the end of the note.
 */
export function releasedBy(o: Outcome): { mask: number; reason: string } {
  if (!o.allocated) return { mask: AFTER_ANY, reason: 'job never started' };
  if (o.result !== RESULT_COMPLETED) {
    return { mask: AFTER_ANY | AFTER_FAILURE | (o.endedByException ? AFTER_EXCEPT : 0), reason: 'can never be satisfied' };
  }
  return { mask: AFTER_ANY | AFTER_SUCCESS, reason: 'can never be satisfied' };
}

/** begin-time's value: a non-negative finite timestamp written in full (strtod with nothing left over). */
export function parseBeginTime(s: string): number | undefined {
  if (!/^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) return undefined;
  const d = Number(s);
  return Number.isFinite(d) && d >= 0 ? d : undefined;
}

/** begin-time's description: the timestamp with three decimals (`begin-time=1700000000.000`). */
export function beginTimeDescription(t: number): string {
  return `begin-time=${t.toFixed(3)}`;
}
