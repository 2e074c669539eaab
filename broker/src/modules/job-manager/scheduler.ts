/**
 * job-manager's side of the scheduler protocol (RFC 27): `sched-hello` (the jobs holding
 * resources), `sched-ready {mode, limit}`, then `sched.alloc` in priority order (held jobs,
 * priority 0, wait; at most `limit` outstanding in limited mode), `sched.cancel` for a job
 * canceled while its alloc is pending, `sched.free` once job-exec released its resources,
 * `sched.prioritize` when a pending job's priority changes. A scheduler that goes away (its
 * disconnect, or an error answer to an alloc such as ENOSYS from a module being removed) leaves
 * pending jobs waiting for the next one; running jobs keep their resources and the next
 * scheduler learns of them at sched-hello.
 */
import { errno, FluxError } from '../../common/libflux/errno';
import { responseError, type Flux } from '../../common/libflux/handle';
import {
  FLAG_NORESPONSE,
  FLAG_ROUTE,
  MSGTYPE_REQUEST,
  MSGTYPE_RESPONSE,
  NODEID_ANY,
  newMessage,
  setRaw,
  type Message,
} from '../../common/libflux/message';
import { encodeF58, jobKvsKey, type JobId } from '../../common/libjob/jobid';
import { parseJson, type JsonValue } from '../../common/libjob/json';
import { idField, idJson, jsonPayload, payloadJson, respondJson } from '../../common/libjob/rpc-json';
import { STATE_CLEANUP, STATE_SCHED } from '../../common/libjob/states';
import type { ModuleContext } from '../../module/runtime';
import { schedOrder, senderOf, type Job } from './job';

export interface SchedHooks {
  post(job: Job, name: string, context?: Record<string, JsonValue>): void;
  /** The scheduler annotated a pending job: tell the journal's followers (job-list, flux jobs). */
  annotated(job: Job): void;
  advance(job: Job): void;
  /** An error that cannot be answered any more (the module is going away): logged only. */
  quiet(e: unknown): void;
  /** The job's queue is started (flux queue start/stop): only then does it get an alloc. */
  started(job: Job): boolean;
  /** Some queue is started (when none is, the jobs waiting are not even looked at). */
  anyStarted(): boolean;
  /** Allocs outstanding or jobs holding resources may have changed (flux queue idle waits on it). */
  changed(): void;
}

export class SchedulerLink {
  private sched: { sender: string; limit: number } | undefined;
  private outstanding = 0;
  /**
   * Jobs that entered SCHED and have no alloc out (jobs that left SCHED are dropped lazily):
   * schedule() looks at these only, not at every job the instance ever had.
   */
  private readonly waiting = new Set<Job>();
  private readonly h: Flux;

  constructor(private readonly ctx: ModuleContext, private readonly jobs: Map<JobId, Job>, private readonly hooks: SchedHooks) {
    this.h = ctx.h;
    this.h.onMessage((m) => {
      if (m.type === MSGTYPE_RESPONSE && m.topic === 'sched.alloc' && m.aux2 === 0) this.allocResponse(m).catch(hooks.quiet);
    });
    ctx.serve('job-manager.sched-hello', (r) => {
      for (const job of jobs.values()) {
        if (!job.hasResources) continue;
        respondJson(r, { id: idJson(job.id), priority: job.priority, userid: job.userid, t_submit: job.t_submit });
      }
      r.respondError(errno.ENODATA);
    });
    ctx.serve('job-manager.sched-ready', (r) => {
      const req = payloadJson<{ mode?: unknown; limit?: unknown }>(r.msg);
      let limit = 0;
      if (req.mode === 'limited') {
        if (typeof req.limit !== 'number' || !Number.isInteger(req.limit) || req.limit <= 0) throw new FluxError(errno.EPROTO, 'invalid limit');
        limit = req.limit;
      } else if (req.mode !== 'unlimited') throw new FluxError(errno.EPROTO, 'invalid mode');
      this.sched = { sender: senderOf(r), limit };
      this.outstanding = 0;
      const count = [...jobs.values()].filter((j) => j.sm.state === STATE_SCHED).length;
      respondJson(r, { count });
      this.schedule();
    });
  }

  /** The scheduler said sched-ready and has not gone since. */
  get ready(): boolean {
    return this.sched !== undefined;
  }

  /** Allocs sent and not answered yet. */
  get allocPending(): number {
    return this.outstanding;
  }

  /**
   * The queue of these jobs was stopped: cancel their outstanding allocs. The scheduler answers
   * each with CANCEL and the job waits in SCHED (not sent again until its queue starts).
   */
  cancelAllocs(match: (job: Job) => boolean): void {
    for (const job of this.jobs.values()) {
      if (job.allocPending && job.sm.state === STATE_SCHED && match(job)) this.cancel(job);
    }
  }

  /** A client went away: when it was the scheduler, pending jobs wait for the next one. */
  disconnect(sender: string): void {
    if (this.sched && this.sched.sender === sender) this.gone('scheduler unloaded');
  }

  private gone(why: string): void {
    if (!this.sched) return;
    this.ctx.log('debug', `scheduler disconnected: ${why}`);
    this.sched = undefined;
    this.outstanding = 0;
    for (const job of this.jobs.values()) {
      if (!job.allocPending) continue;
      job.allocPending = false;
      if (job.sm.state === STATE_SCHED) this.waiting.add(job);
      if (job.sm.state === STATE_CLEANUP) queueMicrotask(() => this.hooks.advance(job));
    }
    this.hooks.changed();
  }

  /** The job is in SCHED (again): it waits for an alloc. */
  enqueue(job: Job): void {
    if (!job.allocPending) this.waiting.add(job);
    this.schedule();
  }

  /** Send allocs for the jobs waiting in SCHED, in priority order, within the limit. */
  schedule(): void {
    if (!this.sched) return;
    const room = this.sched.limit > 0 ? this.sched.limit - this.outstanding : Infinity;
    if (room <= 0 || this.waiting.size === 0 || !this.hooks.anyStarted()) return;
    const ready: Job[] = [];
    for (const j of this.waiting) {
      if (j.sm.state !== STATE_SCHED || j.allocPending) this.waiting.delete(j);
      else if (j.priority > 0 && this.hooks.started(j)) ready.push(j);
    }
    if (room < ready.length && room <= 4) {
      // a slot or a few (limited mode, one alloc answered): pick the first ones, no full sort
      for (let k = 0; k < room; k++) {
        let best = 0;
        for (let i = 1; i < ready.length; i++) if (schedOrder(ready[i], ready[best]) < 0) best = i;
        this.sendAlloc(ready[best]);
        ready.splice(best, 1);
      }
      return;
    }
    ready.sort(schedOrder);
    for (const job of ready.slice(0, room)) this.sendAlloc(job);
  }

  /** The job was canceled while its alloc is pending: the scheduler answers the alloc with CANCEL. */
  cancel(job: Job): void {
    this.h.rpc('sched.cancel', jsonPayload({ id: idJson(job.id) }), { flags: FLAG_NORESPONSE });
  }

  /** job-exec released the job's resources: give them back, then schedule what waits. */
  free(job: Job): void {
    this.h.rpc('sched.free', jsonPayload({ id: idJson(job.id), R: job.R ?? null, final: true }), { flags: FLAG_NORESPONSE });
  }

  prioritize(job: Job): void {
    this.h.rpc('sched.prioritize', jsonPayload({ jobs: [[idJson(job.id), job.priority]] }), { flags: FLAG_NORESPONSE });
  }

  // RFC 27: sched.alloc goes out with matchtag 0, keyed by job id, as flux-core sends it; the
  // scheduler may answer ANNOTATE any number of times before SUCCESS, DENY or CANCEL. An error
  // response means the scheduler is gone (e.g. ENOSYS from a module being removed).
  private sendAlloc(job: Job): void {
    this.waiting.delete(job);
    job.allocPending = true;
    this.outstanding++;
    const m = newMessage(MSGTYPE_REQUEST, 'sched.alloc');
    m.flags |= FLAG_ROUTE;
    m.aux1 = NODEID_ANY;
    m.aux2 = 0;
    setRaw(m, jsonPayload({ id: idJson(job.id), priority: job.priority, userid: job.userid, t_submit: job.t_submit, jobspec: job.jobspec }));
    try {
      this.h.send(m);
    } catch (e) {
      this.hooks.quiet(e);
    }
  }

  private async allocResponse(m: Message): Promise<void> {
    if (m.aux1 !== 0) {
      this.gone(responseError(m).message);
      return;
    }
    const r = payloadJson<{ id?: unknown; type?: unknown; note?: unknown; annotations?: JsonValue }>(m);
    const job = this.jobs.get(idField(r.id));
    if (!job || !job.allocPending) return;
    const ann = typeof r.annotations === 'object' && r.annotations !== null && !Array.isArray(r.annotations) ? r.annotations as Record<string, JsonValue> : undefined;
    if (r.type === 1) {
      if (ann) {
        job.sm.annotations = { ...(job.sm.annotations ?? {}), ...ann };
        this.hooks.annotated(job);
      }
      return;
    }
    this.outstanding = Math.max(0, this.outstanding - 1);
    if (r.type === 0) {
      // still allocPending while R is read: no second alloc for this job meanwhile
      try {
        job.R = parseJson((await this.lookupString(jobKvsKey(job.id, 'R'))));
      } catch (e) {
        this.ctx.log('err', `${encodeF58(job.id)}: error reading R: ${e instanceof Error ? e.message : String(e)}`);
      }
      job.allocPending = false;
      job.hasResources = true;
      if (job.sm.state === STATE_SCHED) this.hooks.post(job, 'alloc', ann ? { annotations: ann } : undefined);
      else this.hooks.advance(job);
    } else if (r.type === 2) {
      job.allocPending = false;
      this.hooks.post(job, 'exception', { type: 'alloc', severity: 0, note: typeof r.note === 'string' ? r.note : '' });
    } else {
      // CANCEL: the job was canceled while pending, or its queue was stopped (it waits again,
      // without the scheduler's annotations, as flux-core requeues it)
      job.allocPending = false;
      if (job.sm.state === STATE_SCHED && job.sm.annotations) {
        job.sm.annotations = undefined;
        this.hooks.annotated(job);
      }
      queueMicrotask(() => this.hooks.advance(job));
    }
    this.schedule();
    this.hooks.changed();
  }

  private async lookupString(key: string): Promise<string> {
    const r = await this.h.rpc('kvs.lookup', { key, namespace: 'primary', flags: 0 }).get<{ val?: { data?: string } }>();
    const data = r.val?.data;
    if (typeof data !== 'string') throw new FluxError(errno.EPROTO, `${key}: not a value`);
    return Buffer.from(data, 'base64').toString('utf8');
  }
}
