/**
 * job-list (rank 0): what `flux jobs` lists. It follows job-manager's
 * `events-journal` and keeps, for every job, the facts its events, jobspec
 * and R tell (state.ts's JobStateMachine for the state and times).
 *
 *   job-list.list {max_entries, attrs, constraint?, since?} → {jobs:[...]}
 *       pending jobs first (priority, then submission), then running (newest
 *       start first), then inactive (newest first); streaming requests (as
 *       Python sends them) get the jobs then ENODATA. Constraints (RFC 31
 *       style): and/or/not, userid, states, results, name, queue.
 *   job-list.list-id {id, attrs, state?} → {job}   waits until the job is known
 *       (and has reached `state`, a state mask, when given); ENOENT for an id the KVS has not seen
 *   job-list.list-attrs → {attrs:[...]}
 */
import { errno, FluxError } from '../../common/libflux/errno';
import { FLAG_STREAMING } from '../../common/libflux/message';
import { encodeDothex, type JobId } from '../../common/libjob/jobid';
import { lookup as kvsLookup } from '../../common/libkvs/client';
import type { JsonValue } from '../../common/libjob/json';
import { idField, idJson, jsonPayload, payloadJson, respondJson } from '../../common/libjob/rpc-json';
import {
  JobStateMachine,
  STATE_INACTIVE,
  STATE_PENDING,
  STATE_RUNNING,
  decodeEvent,
  stateFromString,
  resultFromString,
  type JobEvent,
} from '../../common/libjob/states';
import { Rlist } from '../../common/librlist/rlist';
import { encodeIdset } from '../../common/libidset/idset';
import { jobspecSummary } from '../../common/libjob/jobspec-summary';
import type { Responder } from '../../broker/service';
import type { ModuleMain } from '../../module/runtime';

export const LIST_ATTRS = [
  'userid', 'urgency', 'priority', 't_submit', 't_depend', 't_run', 't_cleanup', 't_inactive', 'state', 'name', 'cwd',
  'queue', 'project', 'bank', 'ntasks', 'ncores', 'duration', 'nnodes', 'ranks', 'nodelist', 'success', 'exception_occurred',
  'exception_type', 'exception_severity', 'exception_note', 'result', 'expiration', 'annotations', 'waitstatus',
  'dependencies',
];

export class ListJob {
  readonly sm = new JobStateMachine();
  name = '';
  cwd: string | undefined;
  queue: string | undefined;
  ntasks = 1;
  ncores: number | undefined;
  nnodes: number | undefined;
  duration = 0;
  ranks: string | undefined;
  nodelist: string | undefined;
  expiration: number | undefined;
  /** Outstanding dependencies (dependency-add less dependency-remove); unset until the first add. */
  dependencies: string[] | undefined;

  constructor(readonly id: JobId) {}

  setJobspec(js: Record<string, JsonValue>): void {
    const sum = jobspecSummary(js);
    this.name = sum.name;
    if (sum.cwd !== undefined) this.cwd = sum.cwd;
    if (sum.queue !== undefined) this.queue = sum.queue;
    if (sum.duration !== undefined) this.duration = sum.duration;
    this.ntasks = sum.ntasks;
    this.ncores = sum.ncores;
    if (sum.nnodes > 0) this.nnodes = sum.nnodes;
  }

  setR(R: JsonValue): void {
    try {
      const rl = Rlist.fromR(R);
      this.nnodes = rl.nnodes;
      this.ncores = rl.ncores;
      this.ranks = encodeIdset(rl.ranks.map((r) => r.rank));
      this.nodelist = rl.nodelist();
      const exp = (R as { execution?: { expiration?: number } }).execution?.expiration;
      if (typeof exp === 'number') this.expiration = exp;
    } catch {
      // an R we cannot read: leave the counts from the jobspec
    }
  }

  /** flux-core's grudge set: a description once removed is not added back. */
  trackDependency(ev: JobEvent): void {
    const d = ev.context?.description;
    if (typeof d !== 'string') return;
    if (ev.name === 'dependency-add') {
      this.removedDeps ??= new Set();
      this.dependencies ??= [];
      if (!this.removedDeps.has(d) && !this.dependencies.includes(d)) this.dependencies.push(d);
    } else if (ev.name === 'dependency-remove' && this.dependencies) {
      this.dependencies = this.dependencies.filter((x) => x !== d);
      this.removedDeps?.add(d);
    }
  }

  private removedDeps: Set<string> | undefined;

  /** Every attribute this job has (flux-core leaves out the ones not set yet). */
  attrs(): Record<string, unknown> {
    const sm = this.sm;
    const o: Record<string, unknown> = { id: idJson(this.id), userid: sm.userid, urgency: sm.urgency };
    if (sm.priority !== undefined) o.priority = sm.priority;
    o.t_submit = sm.t_submit;
    if (sm.t_depend) o.t_depend = sm.t_depend;
    if (sm.t_run) o.t_run = sm.t_run;
    if (sm.t_cleanup) o.t_cleanup = sm.t_cleanup;
    if (sm.t_inactive) o.t_inactive = sm.t_inactive;
    o.state = sm.state;
    o.name = this.name;
    if (this.cwd !== undefined) o.cwd = this.cwd;
    if (this.queue !== undefined) o.queue = this.queue;
    o.ntasks = this.ntasks;
    if (this.ncores !== undefined) o.ncores = this.ncores;
    o.duration = this.duration;
    if (this.nnodes !== undefined) o.nnodes = this.nnodes;
    if (this.ranks !== undefined) o.ranks = this.ranks;
    if (this.nodelist !== undefined) o.nodelist = this.nodelist;
    if (this.expiration !== undefined) o.expiration = this.expiration;
    if (sm.waitstatus !== undefined) o.waitstatus = sm.waitstatus;
    o.exception_occurred = sm.exception.occurred;
    if (sm.exception.occurred) {
      o.exception_severity = sm.exception.severity;
      o.exception_type = sm.exception.type;
      o.exception_note = sm.exception.note;
    }
    if (sm.state === STATE_INACTIVE) {
      o.success = sm.success;
      o.result = sm.result;
    }
    if (sm.annotations !== undefined) o.annotations = sm.annotations;
    if (this.dependencies !== undefined) o.dependencies = [...this.dependencies];
    return o;
  }
}

/** Listing order: pending (priority, then submit), running (newest start first), inactive (newest first). */
export function listOrder(a: ListJob, b: ListJob): number {
  const cls = (j: ListJob): number => (j.sm.state & STATE_PENDING ? 0 : j.sm.state & STATE_RUNNING ? 1 : 2);
  const ca = cls(a);
  const cb = cls(b);
  if (ca !== cb) return ca - cb;
  if (ca === 0) return (b.sm.priority ?? 0) - (a.sm.priority ?? 0) || a.sm.t_submit - b.sm.t_submit;
  if (ca === 1) return b.sm.t_run - a.sm.t_run;
  return b.sm.t_inactive - a.sm.t_inactive;
}

const USERID_ALL = 0xffffffff;

/** Evaluate a job-list constraint; EPROTO for an operator we do not know. */
export function matches(job: ListJob, c: unknown): boolean {
  if (c === undefined || c === null) return true;
  if (typeof c !== 'object' || Array.isArray(c)) throw new FluxError(errno.EPROTO, 'constraint must be an object');
  for (const [op, v] of Object.entries(c as Record<string, unknown>)) {
    const vals = Array.isArray(v) ? v : [v];
    let ok: boolean;
    switch (op) {
      case 'and': ok = vals.every((x) => matches(job, x)); break;
      case 'or': ok = vals.some((x) => matches(job, x)); break;
      case 'not': ok = !vals.every((x) => matches(job, x)); break;
      case 'userid': ok = vals.some((u) => u === USERID_ALL || u === -1 || u === job.sm.userid); break;
      case 'name': ok = vals.includes(job.name); break;
      case 'queue': ok = vals.includes(job.queue ?? ''); break;
      case 'states': {
        const mask = vals.reduce<number>((m, s) => m | (typeof s === 'number' ? s : stateFromString(String(s)) ?? 0), 0);
        ok = (job.sm.state & mask) !== 0;
        break;
      }
      case 'results': {
        const mask = vals.reduce<number>((m, s) => m | (typeof s === 'number' ? s : resultFromString(String(s)) ?? 0), 0);
        ok = job.sm.state === STATE_INACTIVE && (job.sm.result & mask) !== 0;
        break;
      }
      default:
        throw new FluxError(errno.EPROTO, `unknown constraint operator: ${op}`);
    }
    if (!ok) return false;
  }
  return true;
}

function pick(all: Record<string, unknown>, attrs: unknown): Record<string, unknown> {
  if (!Array.isArray(attrs) || attrs.includes('all')) return all;
  const o: Record<string, unknown> = { id: all.id };
  for (const a of attrs) if (typeof a === 'string' && a in all) o[a] = all[a];
  return o;
}

export const mod_main: ModuleMain = (ctx, args) => {
  if (args.length > 0) throw new FluxError(errno.EINVAL, `unknown option: ${args[0]}`);
  const h = ctx.h;
  const jobs = new Map<JobId, ListJob>();
  const idWaiters: { id: JobId; state: number; attrs: unknown; r: Responder }[] = [];

  const checkWaiters = (job: ListJob): void => {
    for (let i = idWaiters.length - 1; i >= 0; i--) {
      const w = idWaiters[i];
      if (w.id !== job.id || (w.state !== 0 && !(job.sm.state & w.state) && job.sm.state !== STATE_INACTIVE)) continue;
      idWaiters.splice(i, 1);
      respondJson(w.r, { job: pick(job.attrs(), w.attrs) });
    }
  };

  const take = (e: { id?: unknown; events?: unknown; jobspec?: unknown; R?: unknown }): void => {
    const id = idField(e.id);
    let job = jobs.get(id);
    if (!job) {
      job = new ListJob(id);
      jobs.set(id, job);
    }
    if (typeof e.jobspec === 'object' && e.jobspec !== null) job.setJobspec(e.jobspec as Record<string, JsonValue>);
    if (e.R !== undefined) job.setR(e.R as JsonValue);
    for (const ev of (Array.isArray(e.events) ? e.events : []) as unknown[]) {
      const parsed = typeof ev === 'object' && ev !== null ? decodeEvent(JSON.stringify(ev)) : undefined;
      if (parsed) job.sm.apply(parsed as JobEvent);
      if (parsed) job.trackDependency(parsed);
    }
    checkWaiters(job);
  };

  const follow = async (): Promise<void> => {
    const rpc = h.rpc('job-manager.events-journal', jsonPayload({}), { flags: FLAG_STREAMING });
    for await (const m of rpc) {
      const e = payloadJson<{ id?: unknown }>(m);
      if (e.id === -1) continue;
      take(e);
    }
  };
  // Started after load (job-manager loads first in rc1); a journal that ends is logged.
  setImmediate(() => {
    follow().catch((e: unknown) => ctx.log('err', `events-journal: ${e instanceof Error ? e.message : String(e)}`));
  });

  ctx.serve('job-list.list', (r) => {
    const req = payloadJson<{ max_entries?: unknown; attrs?: unknown; constraint?: unknown; since?: unknown }>(r.msg);
    const max = typeof req.max_entries === 'number' ? req.max_entries : 0;
    if (!Number.isInteger(max) || max < 0) throw new FluxError(errno.EPROTO, 'invalid max_entries');
    if (req.attrs !== undefined && !Array.isArray(req.attrs)) throw new FluxError(errno.EPROTO, 'attrs must be an array');
    const since = typeof req.since === 'number' ? req.since : 0;
    const list = [...jobs.values()]
      .filter((j) => matches(j, req.constraint) && (since === 0 || j.sm.state !== STATE_INACTIVE || j.sm.t_inactive > since))
      .sort(listOrder);
    const out = (max > 0 ? list.slice(0, max) : list).map((j) => pick(j.attrs(), req.attrs));
    respondJson(r, { jobs: out });
    if (r.msg.flags & FLAG_STREAMING) r.respondError(errno.ENODATA);
  });

  ctx.serve('job-list.list-id', (r) => {
    const req = payloadJson<{ id?: unknown; attrs?: unknown; state?: unknown }>(r.msg);
    const id = idField(req.id);
    const state = typeof req.state === 'number' ? req.state : 0;
    idWaiters.push({ id, state, attrs: req.attrs, r });
    const job = jobs.get(id);
    if (job) {
      checkWaiters(job);
      return;
    }
    // flux-core's idsync: a job not listed yet is waited for only if the KVS knows it (it was
    // just submitted); an id the KVS has never seen is ENOENT at once.
    kvsLookup(ctx.h, `job.${encodeDothex(id)}.eventlog`).then(
      () => undefined,
      (e: unknown) => {
        if (jobs.has(id)) return;
        const i = idWaiters.findIndex((w) => w.r === r);
        if (i < 0) return;
        idWaiters.splice(i, 1);
        r.respondError(e instanceof FluxError && e.errnum === errno.ENOENT ? errno.ENOENT : errno.EIO);
      },
    );
  });

  ctx.serve('job-list.list-attrs', (r) => respondJson(r, { attrs: LIST_ATTRS }));

  ctx.serve('job-list.disconnect', (r) => {
    const sender = r.msg.routes[r.msg.routes.length - 1] ?? '';
    for (let i = idWaiters.length - 1; i >= 0; i--) {
      const w = idWaiters[i].r.msg.routes;
      if ((w[w.length - 1] ?? '') === sender) idWaiters.splice(i, 1);
    }
  });
};
