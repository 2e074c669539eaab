/**
 * flux-jobs(1) output formats: Python format strings over job-list records
 * (`{id.f58:>12} ?:{queue:<8.8} +:{username:<8} {name:<10.10+} ...`), with
 * flux-core's additions: `!F` (duration as FSD), `!d`/`!D` (dates), `h` at the
 * end of a spec (print `-` for an empty value), `+` after a precision (mark
 * truncation with `+`), `?:` (drop the column when empty for every job), `+:`
 * (widen the column to its widest value).
 */
import * as os from 'node:os';
import { encodeJobId, type JobId } from '../common/libjob/jobid';
import {
  STATE_DEPEND,
  STATE_INACTIVE,
  STATE_PENDING,
  STATE_PRIORITY,
  STATE_RUNNING,
  resultToString,
  stateToString,
} from '../common/libjob/states';
import { parseOutputFormat, padValue, type FormatField } from '../common/libutil/output-format';

export const DEFAULT_FORMAT =
  '{id.f58:>12} ?:{queue:<8.8} +:{username:<8} {name:<10.10+} {status_abbrev:>2.2} {ntasks:>6} {nnodes:>6h} {contextual_time!F:>8h} {contextual_info}';

export const HEADINGS: Record<string, string> = {
  id: 'JOBID', 'id.dec': 'JOBID', 'id.hex': 'JOBID', 'id.f58': 'JOBID', 'id.f58plain': 'JOBID', 'id.kvs': 'JOBID', 'id.words': 'JOBID',
  'id.dothex': 'JOBID', userid: 'UID', username: 'USER', urgency: 'URG', priority: 'PRI', state: 'STATE', state_single: 'S',
  name: 'NAME', cwd: 'CWD', queue: 'QUEUE', ntasks: 'NTASKS', ncores: 'NCORES', duration: 'DURATION', nnodes: 'NNODES',
  expiration: 'EXPIRATION', t_remaining: 'T_REMAINING', ranks: 'RANKS', nodelist: 'NODELIST', success: 'SUCCESS',
  result: 'RESULT', result_abbrev: 'RS', t_submit: 'T_SUBMIT', t_depend: 'T_DEPEND', t_run: 'T_RUN', t_cleanup: 'T_CLEANUP',
  t_inactive: 'T_INACTIVE', runtime: 'RUNTIME', status: 'STATUS', status_abbrev: 'ST', waitstatus: 'WSTATUS',
  returncode: 'RC', 'exception.occurred': 'EXCEPTION-OCCURRED', 'exception.severity': 'EXCEPTION-SEVERITY',
  'exception.type': 'EXCEPTION-TYPE', 'exception.note': 'EXCEPTION-NOTE', contextual_time: 'TIME', contextual_info: 'INFO',
  inactive_reason: 'INACTIVE-REASON', dependencies: 'DEPENDENCIES',
};

export type JobRecord = Record<string, unknown> & { id: number | bigint; state: number };

/** flux.util.fsd(): `0.099s`, `12.5s`, `1.5m`, `2h`, `3.25d`. */
export function fsd(secs: number): string {
  if (!Number.isFinite(secs)) return 'inf';
  if (secs < 1e-3) return '0s';
  if (secs < 10) return `${secs.toFixed(3)}s`;
  if (secs < 60) return `${pyG(secs, 4)}s`;
  if (secs < 3600) return `${pyG(secs / 60, 4)}m`;
  if (secs < 86400) return `${pyG(secs / 3600, 4)}h`;
  return `${pyG(secs / 86400, 4)}d`;
}

/** Python's `%.Ng`: N significant digits, trailing zeros dropped. */
function pyG(x: number, n: number): string {
  const exp = x === 0 ? 0 : Math.floor(Math.log10(Math.abs(x)));
  if (exp < -4 || exp >= n) return x.toExponential(n - 1).replace(/\.?0+e/, 'e').replace(/e([+-])(\d)$/, 'e$10$2');
  return x.toFixed(Math.max(0, n - 1 - exp)).replace(/\.?0+$/, '') || '0';
}

function username(uid: number): string {
  try {
    const me = os.userInfo();
    if (me.uid === uid) return me.username;
  } catch {
    // no passwd entry
  }
  return String(uid);
}

/**
 * flux-core's DependencyList as text: the descriptions joined by commas, a begin-time shown
 * as `begin@HH:MM` (today) or `begin@MonDD-HH:MM`, `:SS` added when the seconds are not zero.
 */
export function dependencyList(deps: unknown, now = Date.now() / 1000): string {
  if (!Array.isArray(deps)) return '';
  const two = (n: number): string => String(n).padStart(2, '0');
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  return deps.map((d) => {
    const s = String(d);
    if (!s.startsWith('begin-time=')) return s;
    const t = new Date(Number(s.slice('begin-time='.length)) * 1000);
    const today = new Date(now * 1000).toDateString() === t.toDateString();
    let out = today ? `begin@${two(t.getHours())}:${two(t.getMinutes())}`
      : `begin@${months[t.getMonth()]}${two(t.getDate())}-${two(t.getHours())}:${two(t.getMinutes())}`;
    if (t.getSeconds() > 0) out += `:${two(t.getSeconds())}`;
    return out;
  }).join(',');
}

/** A job attribute, computed as flux-core's JobInfo computes it ('' when unset). */
export function jobField(job: JobRecord, field: string, now = Date.now() / 1000): unknown {
  const state = job.state;
  const num = (k: string): number => (typeof job[k] === 'number' ? (job[k] as number) : 0);
  const runtime = (): number => {
    const tr = num('t_run');
    const tc = num('t_cleanup');
    if (tc > 0 && tr > 0) return tc - tr;
    if (tr > 0) return now - tr;
    return 0;
  };
  const result = typeof job.result === 'number' ? job.result : undefined;
  if (field.startsWith('id.')) return encodeJobId(BigInt(job.id) as JobId, field.slice(3));
  switch (field) {
    case 'id': return String(job.id);
    case 'username': return username(num('userid'));
    case 'state': return stateToString(state);
    case 'state_single': return stateToString(state, 'S');
    case 'result': return result === undefined ? '' : resultToString(result);
    case 'result_abbrev': return result === undefined ? '' : resultToString(result, 'S');
    case 'status': return state & STATE_PENDING ? 'PENDING' : state & STATE_RUNNING ? 'RUNNING' : result === undefined ? '' : resultToString(result);
    case 'status_abbrev': return state === STATE_INACTIVE ? (result === undefined ? '' : resultToString(result, 'S')) : stateToString(state, 'S');
    case 'runtime': return runtime();
    case 'contextual_time': return state & STATE_PENDING ? 0 : runtime();
    case 'contextual_info': {
      if (state === STATE_DEPEND) return `depends:${dependencyList(job.dependencies, now)}`;
      if (state === STATE_PRIORITY) return 'priority-wait';
      if (state & STATE_PENDING) {
        // Fluxion's estimate of when it starts, else why it waits.
        const sched = (job.annotations as { sched?: { reason_pending?: string; t_estimate?: unknown } } | undefined)?.sched;
        if (typeof sched?.t_estimate === 'number') {
          const eta = sched.t_estimate - now;
          return `eta:${eta <= 0 ? 'now' : fsd(eta)}`;
        }
        return sched?.reason_pending ?? '';
      }
      return typeof job.nodelist === 'string' ? job.nodelist : '';
    }
    case 'returncode': {
      const ws = job.waitstatus;
      if (typeof ws !== 'number') return result === 4 ? -128 : '';
      return ws & 0x7f ? -(ws & 0x7f) : (ws >> 8) & 0xff;
    }
    case 't_remaining': {
      if (!(state & STATE_RUNNING)) return 0;
      return Math.max(0, num('expiration') - now);
    }
    case 'dependencies': return dependencyList(job.dependencies, now);
    case 'exception.occurred': return job.exception_occurred ?? '';
    case 'exception.severity': return job.exception_severity ?? '';
    case 'exception.type': return job.exception_type ?? '';
    case 'exception.note': return job.exception_note ?? '';
    case 't_depend': case 't_run': case 't_cleanup': case 't_inactive': case 'expiration':
      return num(field);
    default: {
      const v = job[field];
      return v === undefined ? '' : v;
    }
  }
}

type Field = FormatField;

export function parseFormat(fmt: string): { fields: Field[]; tail: string } {
  return parseOutputFormat(fmt, (name) => name in HEADINGS, 'Error in user format: ');
}

interface Spec {
  fill: string;
  align?: string;
  width: number;
  precision?: number;
  type: string;
  hyphen: boolean;
  plus: boolean;
}

function parseSpec(spec: string): Spec {
  let s = spec;
  const hyphen = s.endsWith('h');
  if (hyphen) s = s.slice(0, -1);
  const plus = s.endsWith('+');
  if (plus) s = s.slice(0, -1);
  const m = /^(?:(.)?([<>^=]))?(0)?(\d+)?(?:\.(\d+))?([a-zA-Z%]?)$/.exec(s);
  if (!m) return { fill: ' ', width: 0, type: '', hyphen, plus };
  return { fill: m[1] ?? (m[3] ? '0' : ' '), align: m[2] ?? (m[3] ? '=' : undefined), width: m[4] ? Number(m[4]) : 0, precision: m[5] !== undefined ? Number(m[5]) : undefined, type: m[6], hyphen, plus };
}

const EMPTY_BASECASES = new Set(['', '0s', '0.0', '0:00:00', '1970-01-01T00:00:00']);

function convert(v: unknown, conv: string | undefined): unknown {
  if (conv === 'F') return typeof v === 'number' ? fsd(v) : '';
  if (conv === 'D' || conv === 'd') return typeof v === 'number' && v > 0 ? new Date(v * 1000).toISOString().slice(0, 19) : '';
  if (conv === 'H') {
    if (typeof v !== 'number') return '';
    let secs = v > 0 && v < 1 ? 1 : Math.round(v);
    const hh = Math.floor(secs / 3600);
    secs -= hh * 3600;
    return `${hh}:${String(Math.floor(secs / 60)).padStart(2, '0')}:${String(secs % 60).padStart(2, '0')}`;
  }
  return v;
}

/** Python format(value, spec) for the cases flux jobs uses. */
function formatValue(v: unknown, sp: Spec, width: number): string {
  let s: string;
  let numeric = false;
  if (typeof v === 'number' || typeof v === 'bigint') {
    numeric = true;
    if (sp.type === 'f' || (sp.precision !== undefined && typeof v === 'number' && sp.type !== 's')) s = Number(v).toFixed(sp.precision ?? 6);
    else if (typeof v === 'number' && !Number.isInteger(v)) s = String(v);
    else s = String(v);
  } else if (typeof v === 'boolean') {
    s = v ? 'True' : 'False';
  } else {
    s = String(v);
    if (sp.precision !== undefined && s.length > sp.precision) s = sp.plus && sp.precision > 0 ? `${s.slice(0, sp.precision - 1)}+` : s.slice(0, sp.precision);
  }
  if (sp.hyphen && EMPTY_BASECASES.has(s)) {
    s = '-';
    numeric = false;
  }
  return padValue(s, width, sp.fill, sp.align, numeric);
}

/** Format the header and one line per job. */
export function formatJobs(fmt: string, jobs: JobRecord[], header: boolean, now = Date.now() / 1000): string[] {
  const { fields, tail } = parseFormat(fmt);
  const values = jobs.map((j) => fields.map((f) => convert(jobField(j, f.name, now), f.conv)));
  const keep = fields.map((f, i) => !f.dropEmpty || values.some((row) => !EMPTY_BASECASES.has(String(row[i]))));
  const specs = fields.map((f) => parseSpec(f.spec));
  const widths = specs.map((sp, i) => {
    if (!fields[i].widen) return sp.width;
    const longest = Math.max(HEADINGS[fields[i].name].length, ...values.map((row) => formatValue(row[i], { ...sp, width: 0 }, 0).length));
    return Math.max(sp.width, longest);
  });
  const line = (cell: (i: number) => string): string => {
    let s = '';
    let skipSpace = false;
    fields.forEach((f, i) => {
      let pre = f.pre;
      if (skipSpace) pre = pre.replace(/^\s/, '');
      skipSpace = false;
      if (!keep[i]) {
        skipSpace = true;
        s += pre;
        return;
      }
      s += pre + cell(i);
    });
    return s + (skipSpace ? tail.replace(/^\s/, '') : tail);
  };
  const out: string[] = [];
  if (header) out.push(line((i) => formatValue(HEADINGS[fields[i].name], { ...specs[i], precision: specs[i].precision, type: '', hyphen: false, plus: false }, widths[i])));
  for (const row of values) out.push(line((i) => formatValue(row[i], specs[i], widths[i])));
  return out;
}
