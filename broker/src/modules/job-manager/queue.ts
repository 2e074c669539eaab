/**
 * job-manager's queues (flux-core 0.88's queue.c and drain.c): the anonymous queue, or the named
 * queues of the `[queues]` table of the instance configuration. Each queue is enabled (jobs may
 * be submitted to it) or disabled with a reason, and started (jobs in it get allocs) or stopped,
 * optionally with a reason. Stopping cancels the allocs outstanding for the queue's jobs; they
 * wait in SCHED until the queue starts again. Running jobs are not touched.
 *
 *   job-manager.queue-list → {queues:[NAME...]}            ([] for the anonymous queue)
 *   job-manager.queue-status {name?} → {enable, start, disable_reason?, stop_reason?}
 *   job-manager.queue-enable {name?, enable, reason?, all}
 *   job-manager.queue-start {name?, start, reason?, all, nocheckpoint?}
 *   job-manager.alloc-query → {queue_length, alloc_pending, running}
 *   job-manager.idle → {pending}    once no job holds resources and no alloc is outstanding
 *   job-manager.drain → {}          once there is no active job
 *
 * A scheduler that is not loaded makes every queue report "stopped: Scheduler is offline".
 */
import { errno, FluxError } from '../../common/libflux/errno';
import { ROLE_OWNER } from '../../common/libflux/message';
import type { JsonValue } from '../../common/libjob/json';
import { payloadJson, respondJson } from '../../common/libjob/rpc-json';
import { STATE_INACTIVE, STATE_SCHED } from '../../common/libjob/states';
import type { Responder } from '../../broker/service';
import type { ModuleContext } from '../../module/runtime';
import { senderOf, type Job } from './job';

interface JobQueue {
  /** undefined: the anonymous queue. */
  name?: string;
  enable: boolean;
  disableReason?: string;
  start: boolean;
  /** What a checkpoint would record (`--nocheckpoint` changes `start` only). */
  checkpointStart: boolean;
  stopReason?: string;
}

/** What the queues need of the rest of job-manager. */
export interface QueueDeps {
  jobs: Map<bigint, Job>;
  /** The scheduler has said sched-ready (and not gone since). */
  schedReady(): boolean;
  /** Allocs sent and not answered yet. */
  allocPending(): number;
  /** Cancel the outstanding allocs of the jobs `match` selects (they stay in SCHED). */
  cancelAllocs(match: (job: Job) => boolean): void;
  /** Send allocs for what waits (after a start). */
  schedule(): void;
  /** Resolves once every eventlog entry posted so far is in the KVS. */
  flushed(): Promise<void>;
  quiet(e: unknown): void;
}

function newQueue(name?: string): JobQueue {
  // Named queues start stopped, as flux-core's do, until an administrator (or rc) starts them.
  return { name, enable: true, start: name === undefined, checkpointStart: name === undefined };
}

function optString(v: unknown, what: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new FluxError(errno.EPROTO, `${what} must be a string`);
  return v;
}

function reqBool(v: unknown): boolean {
  if (typeof v !== 'boolean') throw new FluxError(errno.EPROTO);
  return v;
}

function ownerOnly(r: Responder): void {
  if (!(r.msg.rolemask & ROLE_OWNER)) throw new FluxError(errno.EPERM, 'Request requires owner credentials');
}

/** The queue a job was submitted to (attributes.system.queue), if any. */
export function jobQueueName(jobspec: Record<string, JsonValue>): string | undefined {
  const attrs = jobspec.attributes;
  if (typeof attrs !== 'object' || attrs === null || Array.isArray(attrs)) return undefined;
  const sys = attrs.system;
  if (typeof sys !== 'object' || sys === null || Array.isArray(sys)) return undefined;
  return typeof sys.queue === 'string' ? sys.queue : undefined;
}

export class JobQueues {
  private anon: JobQueue | undefined = newQueue();
  private readonly named = new Map<string, JobQueue>();
  private drainWaiters: Responder[] = [];
  private idleWaiters: Responder[] = [];
  private checkQueued = false;

  constructor(private readonly ctx: ModuleContext, private readonly deps: QueueDeps) {
    ctx.serve('job-manager.queue-list', (r) => respondJson(r, { queues: [...this.named.keys()] }));
    ctx.serve('job-manager.queue-status', (r) => this.status(r));
    ctx.serve('job-manager.queue-enable', (r) => this.enableRequest(r));
    ctx.serve('job-manager.queue-start', (r) => this.startRequest(r));
    ctx.serve('job-manager.alloc-query', (r) => respondJson(r, this.allocQuery()));
    ctx.serve('job-manager.drain', (r) => {
      ownerOnly(r);
      this.drainWaiters.push(r);
      this.check();
    });
    ctx.serve('job-manager.idle', (r) => {
      ownerOnly(r);
      this.idleWaiters.push(r);
      this.check();
    });
    ctx.onShutdown(() => {
      for (const w of [...this.drainWaiters.splice(0), ...this.idleWaiters.splice(0)]) {
        try {
          w.respondError(errno.ENOSYS, 'job-manager is unloading');
        } catch (e) {
          deps.quiet(e);
        }
      }
    });
  }

  /** Named queues from the configuration's `[queues]` table; none: the anonymous queue. */
  configure(conf: Record<string, JsonValue>): void {
    const table = conf.queues;
    const names = typeof table === 'object' && table !== null && !Array.isArray(table) ? Object.keys(table) : [];
    if (names.length === 0) {
      this.named.clear();
      this.anon ??= newQueue();
      return;
    }
    this.anon = undefined;
    for (const n of [...this.named.keys()]) if (!names.includes(n)) this.named.delete(n);
    for (const n of names) if (!this.named.has(n)) this.named.set(n, newQueue(n));
  }

  private lookup(name: string | undefined): JobQueue {
    if (name !== undefined) {
      const q = this.named.get(name);
      if (!q) throw new FluxError(errno.EINVAL, `'${name}' is not a valid queue`);
      return q;
    }
    if (!this.anon) throw new FluxError(errno.EINVAL, 'a named queue is required');
    return this.anon;
  }

  private all(): JobQueue[] {
    return this.anon ? [this.anon] : [...this.named.values()];
  }

  /** Why job-manager.submit refuses this jobspec, or undefined when its queue takes jobs. */
  submitError(jobspec: Record<string, JsonValue>): string | undefined {
    const name = jobQueueName(jobspec);
    let q: JobQueue;
    try {
      q = this.lookup(name);
    } catch (e) {
      return e instanceof Error ? e.message : String(e);
    }
    if (q.enable) return undefined;
    return `job submission${name !== undefined ? ` to ${name}` : ''} is disabled: ${q.disableReason ?? ''}`;
  }

  /** Is any queue started (else nothing gets an alloc, and nothing need be looked at)? */
  anyStarted(): boolean {
    if (this.anon) return this.anon.start;
    for (const q of this.named.values()) if (q.start) return true;
    return false;
  }

  /** May this job get an alloc now? */
  started(job: Job): boolean {
    if (this.anon) return this.anon.start;
    const name = jobQueueName(job.jobspec);
    const q = name === undefined ? undefined : this.named.get(name);
    if (!q) {
      if (name !== undefined) this.ctx.log('err', `job ${job.id} invalid queue: ${name}`);
      return false;
    }
    return q.start;
  }

  private status(r: Responder): void {
    const req = payloadJson<{ name?: unknown }>(r.msg);
    const q = this.lookup(optString(req.name, 'name'));
    const ready = this.deps.schedReady();
    const start = ready && q.start;
    const stopReason = ready ? q.stopReason : 'Scheduler is offline';
    const rsp: Record<string, JsonValue> = { enable: q.enable, start };
    if (!q.enable) rsp.disable_reason = q.disableReason ?? '';
    if (!start && stopReason !== undefined) rsp.stop_reason = stopReason;
    respondJson(r, rsp);
  }

  private enableRequest(r: Responder): void {
    ownerOnly(r);
    const req = payloadJson<{ name?: unknown; enable?: unknown; reason?: unknown; all?: unknown }>(r.msg);
    const name = optString(req.name, 'name');
    const enable = reqBool(req.enable);
    const reason = optString(req.reason, 'reason');
    const all = reqBool(req.all);
    if (!enable && reason === undefined) throw new FluxError(errno.EINVAL, 'reason is required for disable');
    const targets = this.targets(name, all);
    for (const q of targets) {
      q.enable = enable;
      q.disableReason = enable ? undefined : reason;
    }
    respondJson(r, {});
  }

  private startRequest(r: Responder): void {
    ownerOnly(r);
    const req = payloadJson<{ name?: unknown; start?: unknown; reason?: unknown; all?: unknown; nocheckpoint?: unknown }>(r.msg);
    const name = optString(req.name, 'name');
    const start = reqBool(req.start);
    const reason = optString(req.reason, 'reason');
    const all = reqBool(req.all);
    const nocheckpoint = req.nocheckpoint === undefined ? false : reqBool(req.nocheckpoint);
    const targets = this.targets(name, all);
    for (const q of targets) {
      q.start = start;
      if (!nocheckpoint) q.checkpointStart = start;
      q.stopReason = start ? undefined : reason;
    }
    const inTargets = (job: Job): boolean => name === undefined || jobQueueName(job.jobspec) === name;
    if (start) this.deps.schedule();
    else this.deps.cancelAllocs(inTargets);
    respondJson(r, {});
    this.check();
  }

  private targets(name: string | undefined, all: boolean): JobQueue[] {
    if (name !== undefined) return [this.lookup(name)];
    if (this.named.size > 0 && !all) throw new FluxError(errno.EINVAL, 'Use --all to apply this command to all queues');
    return this.all();
  }

  private counts(): { active: number; running: number; queued: number } {
    let active = 0;
    let running = 0;
    let queued = 0;
    for (const job of this.deps.jobs.values()) {
      if (job.sm.state === STATE_INACTIVE) continue;
      active++;
      if (job.hasResources) running++;
      else if (job.sm.state === STATE_SCHED && !job.allocPending && job.priority > 0 && this.started(job)) queued++;
    }
    return { active, running, queued };
  }

  private allocQuery(): Record<string, JsonValue> {
    const c = this.counts();
    return { queue_length: c.queued, alloc_pending: this.deps.allocPending(), running: c.running };
  }

  /**
   * Something changed (an event was posted, an alloc was answered): answer the drain and idle
   * waiters whose condition now holds, once at the end of this turn and after the KVS has the
   * eventlogs, since a drained caller may read them next.
   */
  check(): void {
    if (this.checkQueued || (this.drainWaiters.length === 0 && this.idleWaiters.length === 0)) return;
    this.checkQueued = true;
    queueMicrotask(() => {
      this.checkQueued = false;
      const c = this.counts();
      const ready: Array<() => void> = [];
      if (c.active === 0) {
        for (const w of this.drainWaiters.splice(0)) ready.push(() => respondJson(w, {}));
      }
      if (c.running === 0 && this.deps.allocPending() === 0) {
        const pending = c.active - c.running;
        for (const w of this.idleWaiters.splice(0)) ready.push(() => respondJson(w, { pending }));
      }
      if (ready.length > 0) this.deps.flushed().then(() => ready.forEach((f) => f())).catch(this.deps.quiet);
    });
  }

  /** A client went away: forget its waits. */
  disconnect(sender: string): void {
    this.drainWaiters = this.drainWaiters.filter((w) => senderOf(w) !== sender);
    this.idleWaiters = this.idleWaiters.filter((w) => senderOf(w) !== sender);
  }
}
