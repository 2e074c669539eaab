/**
 * job-manager (rank 0): every job's state, driven by its eventlog (RFC 21).
 *
 *   job-manager.submit {jobs:[{id,userid,urgency,flags,t_submit,jobspec}]}   from job-ingest
 *   job-manager.getinfo → {max_jobid}
 *   job-manager.raise {id,type,severity,note?}      exception (flux cancel: type cancel, severity 0)
 *   job-manager.kill {id,signum}                    signal a running job's tasks (through job-exec)
 *   job-manager.urgency {id,urgency} → {old_urgency}
 *   job-manager.wait {id} → {id,success,errstr}     jobs submitted WAITABLE
 *   job-manager.events-journal (streaming)         every event of every job: {id,events:[ev],jobspec?,R?},
 *                                                   history first, then {id:-1,events:[]}, then live
 *   job-manager.sched-hello (streaming), sched-ready {mode,limit?} → {count}   RFC 27
 *   job-manager.queue-list, queue-status, queue-enable, queue-start, alloc-query, idle, drain   queue.ts
 *
 * Each job walks NEW → DEPEND → PRIORITY → SCHED → RUN → CLEANUP → INACTIVE:
 * the events are appended to `job.<id>.eventlog` (eventlog-commit.ts: commits batched, in
 * order), sent to journal followers (journal.ts), and each state's action runs (state.ts's
 * JobStateMachine decides the state). The scheduler side (RFC 27: alloc, cancel, free,
 * prioritize) is scheduler.ts; job-exec gets `job-exec.start` (streaming: start, release,
 * finish, exception) and `job-exec.exception` / `job-exec.kill`. Jobs of an earlier run come
 * back from the KVS (restart.ts).
 */
import { errno, FluxError } from '../../common/libflux/errno';
import { FLAG_NORESPONSE, FLAG_STREAMING, ROLE_OWNER } from '../../common/libflux/message';
import type { Rpc } from '../../common/libflux/handle';
import { jobKvsKey, type JobId } from '../../common/libjob/jobid';
import type { JsonValue } from '../../common/libjob/json';
import { idField, idJson, jsonPayload, payloadJson, respondJson } from '../../common/libjob/rpc-json';
import {
  FLAG_WAITABLE,
  STATE_CLEANUP,
  STATE_DEPEND,
  STATE_INACTIVE,
  STATE_PRIORITY,
  STATE_RUN,
  STATE_SCHED,
  encodeEvent,
  makeEvent,
  priorityFromUrgency,
} from '../../common/libjob/states';
import type { Responder } from '../../broker/service';
import type { ModuleMain } from '../../module/runtime';
import { KvsTxn } from '../../common/libkvs/txn';
import { Dependencies } from './depend';
import { EventlogCommitter } from './eventlog-commit';
import { newJob, senderOf, type Job } from './job';
import { Journal } from './journal';
import { JobQueues } from './queue';
import { restoreJobs } from './restart';
import { SchedulerLink } from './scheduler';

export { schedOrder, type Job } from './job';

export const mod_main: ModuleMain = async (ctx, args) => {
  if (args.length > 0) throw new FluxError(errno.EINVAL, `unknown option: ${args[0]}`);
  const h = ctx.h;
  const jobs = new Map<JobId, Job>();
  let maxId = 0n;
  const journal = new Journal();

  // Answers that can no longer be sent (the module is being removed) are only logged.
  const quiet = (e: unknown): void => {
    if (!h.isClosed) ctx.log('err', e instanceof Error ? e.message : String(e));
  };
  const eventlog = new EventlogCommitter(h, (text) => ctx.log('err', text));

  // --- events and actions ------------------------------------------------------
  const post = (job: Job, name: string, context?: Record<string, JsonValue>, kvs = true): void => {
    const ev = makeEvent(name, context);
    job.events.push(ev);
    job.sm.apply(ev);
    if (kvs) eventlog.append(jobKvsKey(job.id, 'eventlog'), encodeEvent(ev));
    journal.send(job, ev);
    deps.posted(job, ev);
    queues.check();
    queueMicrotask(() => advance(job));
  };

  // RFC 26 dependencies (depend.ts): a job leaves DEPEND once none is outstanding.
  const deps = new Dependencies({ jobs, post: (job, name, c) => post(job, name, c) });

  const advance = (job: Job): void => {
    switch (job.sm.state) {
      case STATE_DEPEND:
        if (deps.ready(job)) post(job, 'depend');
        break;
      case STATE_PRIORITY:
        job.priority = priorityFromUrgency(job.urgency);
        post(job, 'priority', { priority: job.priority });
        break;
      case STATE_SCHED:
        sched.enqueue(job);
        break;
      case STATE_RUN:
        if (!job.execStarted) startExec(job);
        break;
      case STATE_CLEANUP:
        cleanup(job);
        break;
      case STATE_INACTIVE:
        finishWaiters(job);
        break;
      default:
        break;
    }
  };

  // Annotations (sched.t_estimate, reason_pending...) reach the journal as flux-core's job-manager
  // posts them: an `annotations` event that is not written to the job's eventlog.
  const annotated = (job: Job): void => post(job, 'annotations', { annotations: job.sm.annotations ?? null }, false);
  const sched: SchedulerLink = new SchedulerLink(ctx, jobs, {
    post: (job, name, c) => post(job, name, c), annotated, advance, quiet,
    started: (job): boolean => queues.started(job), anyStarted: (): boolean => queues.anyStarted(), changed: (): void => queues.check(),
  });
  const queues: JobQueues = new JobQueues(ctx, {
    jobs, schedReady: () => sched.ready, allocPending: () => sched.allocPending,
    cancelAllocs: (match) => sched.cancelAllocs(match), schedule: () => sched.schedule(),
    flushed: () => eventlog.flushed(), quiet,
  });

  const cleanup = (job: Job): void => {
    if (job.allocPending) {
      // The scheduler answers the alloc with CANCEL; we continue then.
      if (job.cancelSent) return;
      job.cancelSent = true;
      sched.cancel(job);
      return;
    }
    if (job.execStarted && !job.execDone) {
      if (!job.execNotified && job.sm.fatal) {
        job.execNotified = true;
        const ex = job.sm.exception;
        h.rpc('job-exec.exception', jsonPayload({ id: idJson(job.id), type: ex.type, severity: 0 }), { flags: FLAG_NORESPONSE });
      }
      return;
    }
    if (job.hasResources) {
      job.hasResources = false;
      sched.free(job);
      post(job, 'free');
      sched.schedule();
      return;
    }
    if (!job.cleanPosted) {
      job.cleanPosted = true;
      post(job, 'clean');
    }
  };

  // Waiters hear of the end once the eventlog holds it (they may read it next).
  const finishWaiters = (job: Job): void => {
    const waiters = job.waiters.splice(0);
    if (waiters.length > 0) eventlog.flushed().then(() => waiters.forEach((w) => respondWait(w, job))).catch(quiet);
  };
  const respondWait = (r: Responder, job: Job): void => {
    const success = job.sm.success;
    let errstr = '';
    if (!success) {
      if (job.sm.fatal) errstr = `Fatal exception type=${job.sm.fatal.type} ${job.sm.fatal.note}`.trim();
      else if (job.sm.waitstatus !== undefined) {
        const st = job.sm.waitstatus;
        errstr = st & 0x7f ? `task(s) killed by signal ${st & 0x7f}` : `task(s) exited with exit code ${(st >> 8) & 0xff}`;
      }
    }
    respondJson(r, { id: idJson(job.id), success, errstr });
  };

  // --- exec --------------------------------------------------------------------
  const startExec = (job: Job): void => {
    job.execStarted = true;
    const rpc: Rpc = h.rpc('job-exec.start', jsonPayload({ id: idJson(job.id), userid: job.userid, flags: 0 }), { flags: FLAG_STREAMING });
    void (async () => {
      try {
        for await (const m of rpc) {
          const r = payloadJson<{ type?: unknown; data?: Record<string, JsonValue> }>(m);
          const data = r.data ?? {};
          if (r.type === 'start') post(job, 'start');
          else if (r.type === 'finish') post(job, 'finish', { status: typeof data.status === 'number' ? data.status : 0 });
          else if (r.type === 'exception') {
            post(job, 'exception', { type: String(data.type ?? 'exec'), severity: typeof data.severity === 'number' ? data.severity : 0, note: String(data.note ?? '') });
          } else if (r.type === 'release') {
            post(job, 'release', { ranks: data.ranks ?? 'all', final: data.final === true });
            if (data.final === true) {
              job.execDone = true;
              break;
            }
          }
        }
      } catch (e) {
        if (!job.execDone) post(job, 'exception', { type: 'exec', severity: 0, note: e instanceof Error ? e.message : String(e) });
      }
      job.execDone = true;
      rpc.cancelLocal();
      advance(job);
    })().catch(quiet);
  };

  // --- requests ----------------------------------------------------------------
  const getJob = (v: unknown): Job => {
    const job = jobs.get(idField(v));
    if (!job) throw new FluxError(errno.ENOENT, 'unknown job id');
    return job;
  };
  const checkAccess = (r: Responder, job: Job): void => {
    if (!(r.msg.rolemask & ROLE_OWNER) && r.msg.userid !== job.userid) throw new FluxError(errno.EPERM, 'guests can only modify their own jobs');
  };

  ctx.serve('job-manager.submit', (r) => {
    const req = payloadJson<{ jobs?: unknown }>(r.msg);
    if (!Array.isArray(req.jobs)) throw new FluxError(errno.EPROTO);
    const added: Job[] = [];
    // flux-core's answer: {errors: [[id, text]...]} for the jobs refused (a disabled queue)
    const errors: JsonValue[] = [];
    for (const j of req.jobs as Record<string, unknown>[]) {
      const id = idField(j.id);
      if (jobs.has(id)) continue;
      const jobspec = (j.jobspec ?? {}) as Record<string, JsonValue>;
      const refused = queues.submitError(jobspec);
      if (refused !== undefined) {
        errors.push([idJson(id), refused]);
        continue;
      }
      const job = newJob({
        id, userid: Number(j.userid ?? 0), urgency: Number(j.urgency ?? 16), flags: Number(j.flags ?? 0),
        t_submit: Number(j.t_submit ?? Date.now() / 1000), priority: 0, jobspec,
      });
      const verdict = deps.submit(job);
      if ('error' in verdict) {
        errors.push([idJson(id), verdict.error]);
        // job-ingest already wrote it; flux-core's ingest removes a refused job's directory
        h.rpc('kvs.commit', { namespace: 'primary', flags: 0, ops: new KvsTxn().unlink(jobKvsKey(id)).toOps() }).get().catch(quiet);
        continue;
      }
      jobs.set(id, job);
      if (id > maxId) maxId = id;
      // job-ingest wrote the submit event to the KVS; it is ours from here on
      const submit = makeEvent('submit', { userid: job.userid, urgency: job.urgency, flags: job.flags, version: 1 }, job.t_submit);
      job.events.push(submit);
      job.sm.apply(submit);
      journal.send(job, submit);
      verdict.accept(); // dependency-add (and -remove) events, before validate
      added.push(job);
    }
    // Our job-ingest submits one job a request and reads only success or failure: a lone
    // refused job fails the request with the reason, so flux submit prints it.
    const lone = errors.length === 1 && req.jobs.length === 1 ? errors[0] : undefined;
    if (Array.isArray(lone)) throw new FluxError(errno.EINVAL, String(lone[1]));
    respondJson(r, { errors });
    for (const job of added) post(job, 'validate');
  });

  ctx.serve('job-manager.getinfo', (r) => respondJson(r, { max_jobid: idJson(maxId) }));

  ctx.serve('job-manager.raise', (r) => {
    const req = payloadJson<{ id?: unknown; type?: unknown; severity?: unknown; note?: unknown }>(r.msg);
    const job = getJob(req.id);
    checkAccess(r, job);
    const severity = req.severity;
    if (typeof req.type !== 'string' || req.type === '' || /[\s=]/.test(req.type)) throw new FluxError(errno.EPROTO, 'invalid exception type');
    if (typeof severity !== 'number' || !Number.isInteger(severity) || severity < 0 || severity > 7) throw new FluxError(errno.EPROTO, 'invalid exception severity');
    if (job.sm.state === STATE_INACTIVE) throw new FluxError(errno.EINVAL, 'job is inactive');
    post(job, 'exception', { type: req.type, severity, note: typeof req.note === 'string' ? req.note : '', userid: r.msg.userid });
    respondJson(r, {});
  });

  ctx.serve('job-manager.kill', async (r) => {
    const req = payloadJson<{ id?: unknown; signum?: unknown }>(r.msg);
    const job = getJob(req.id);
    checkAccess(r, job);
    const signum = req.signum;
    if (typeof signum !== 'number' || !Number.isInteger(signum) || signum <= 0 || signum >= 65) throw new FluxError(errno.EPROTO, 'invalid signal number');
    if (job.sm.state !== STATE_RUN) throw new FluxError(errno.EINVAL, 'job is not running');
    await h.rpc('job-exec.kill', jsonPayload({ id: idJson(job.id), signum })).response();
    respondJson(r, {});
  });

  ctx.serve('job-manager.urgency', (r) => {
    const req = payloadJson<{ id?: unknown; urgency?: unknown }>(r.msg);
    const job = getJob(req.id);
    checkAccess(r, job);
    const u = req.urgency;
    if (typeof u !== 'number' || !Number.isInteger(u) || u < 0 || u > 31) throw new FluxError(errno.EPROTO, 'urgency range is [0:31]');
    if (!(r.msg.rolemask & ROLE_OWNER) && u > 16) throw new FluxError(errno.EPERM, 'guests can only adjust urgency to [0:16]');
    if (!(job.sm.state & (STATE_DEPEND | STATE_PRIORITY | STATE_SCHED))) throw new FluxError(errno.EINVAL, 'urgency cannot be modified for an active job');
    const old = job.urgency;
    job.urgency = u;
    post(job, 'urgency', { userid: r.msg.userid, urgency: u });
    if (job.sm.state === STATE_SCHED) {
      const p = priorityFromUrgency(u);
      if (p !== job.priority) {
        job.priority = p;
        post(job, 'priority', { priority: p });
        if (job.allocPending) sched.prioritize(job);
      }
    }
    respondJson(r, { old_urgency: old });
  });

  ctx.serve('job-manager.wait', (r) => {
    const req = payloadJson<{ id?: unknown }>(r.msg);
    const job = getJob(req.id);
    if (!(job.flags & FLAG_WAITABLE)) throw new FluxError(errno.EINVAL, 'job was not submitted with FLUX_JOB_WAITABLE');
    if (job.sm.state === STATE_INACTIVE) eventlog.flushed().then(() => respondWait(r, job)).catch(quiet);
    else job.waiters.push(r);
  });

  ctx.serve('job-manager.events-journal', (r) => {
    if (!(r.msg.flags & FLAG_STREAMING)) throw new FluxError(errno.EPROTO, 'events-journal requires streaming');
    journal.follow(r, jobs.values());
  });


  ctx.serve('job-manager.disconnect', (r) => {
    const sender = senderOf(r);
    journal.disconnect(sender);
    for (const job of jobs.values()) job.waiters = job.waiters.filter((w) => senderOf(w) !== sender);
    sched.disconnect(sender);
    queues.disconnect(sender);
  });

  // --- restart: jobs of an earlier run, from their KVS eventlogs ----------------
  // Named queues come from the instance configuration's [queues] table (flux-config-queues(5)).
  try {
    queues.configure(await h.rpc('config.get').get<Record<string, JsonValue>>());
  } catch (e) {
    ctx.log('err', `error reading queue config: ${e instanceof Error ? e.message : String(e)}`);
  }
  const restored = await restoreJobs(h, (text) => ctx.log('err', text));
  for (const [id, job] of restored) {
    jobs.set(id, job);
    if (id > maxId) maxId = id;
  }
  if (jobs.size > 0) ctx.log('info', `restart: ${jobs.size} jobs`);
  // Active jobs go on: pending ones wait for the scheduler again; running ones lost their tasks.
  deps.restore(restored.values());
  for (const job of restored.values()) {
    if (job.sm.state === STATE_INACTIVE) continue;
    post(job, 'flux-restart');
    if (job.sm.state & (STATE_RUN | STATE_CLEANUP)) {
      job.execStarted = true;
      job.execDone = true;
      if (job.sm.state === STATE_RUN) post(job, 'exception', { type: 'exec', severity: 0, note: 'job was running when the instance stopped' });
    }
  }

  ctx.onShutdown(() => journal.shutdown());
  ctx.onShutdown(() => deps.shutdown());
};
