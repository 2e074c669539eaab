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
 *   job-manager.queue-status → {start,enable}
 *
 * Each job walks NEW → DEPEND → PRIORITY → SCHED → RUN → CLEANUP → INACTIVE:
 * the events are appended to `job.<id>.eventlog` (commits batched, in order),
 * sent to journal followers, and each state's action runs (state.ts's
 * JobStateMachine decides the state). The scheduler gets `sched.alloc` in
 * priority order (held jobs, priority 0, wait), `sched.cancel` for a job
 * canceled while its allocation is pending and `sched.free` when job-exec
 * released its resources; job-exec gets `job-exec.start` (streaming: start,
 * release, finish, exception) and `job-exec.exception` / `job-exec.kill`.
 * A scheduler that goes away (module removed: its disconnect, or ENOSYS on a
 * pending alloc) leaves pending jobs waiting for the next one; running jobs
 * keep their resources and the next scheduler learns of them at sched-hello.
 */
import { errno, FluxError } from '../../common/libflux/errno';
import {
  FLAG_NORESPONSE,
  FLAG_ROUTE,
  FLAG_STREAMING,
  MSGTYPE_REQUEST,
  MSGTYPE_RESPONSE,
  NODEID_ANY,
  ROLE_OWNER,
  newMessage,
  setRaw,
  type Message,
} from '../../common/libflux/message';
import { responseError, type Rpc } from '../../common/libflux/handle';
import { encodeF58, jobKvsKey, parseJobId, type JobId } from '../../common/libjob/jobid';
import { parseJson, type JsonValue } from '../../common/libjob/json';
import { idField, idJson, jsonPayload, payloadJson, respondJson } from '../../common/libjob/rpc-json';
import {
  FLAG_WAITABLE,
  JobStateMachine,
  STATE_CLEANUP,
  STATE_DEPEND,
  STATE_INACTIVE,
  STATE_PRIORITY,
  STATE_RUN,
  STATE_SCHED,
  encodeEvent,
  makeEvent,
  parseEventlog,
  priorityFromUrgency,
  type JobEvent,
} from '../../common/libjob/states';
import { FLUX_KVS_APPEND, KvsTxn } from '../../common/libkvs/txn';
import { KVSDir, lookup } from '../../common/libkvs/client';
import type { Responder } from '../../broker/service';
import type { ModuleMain } from '../../module/runtime';

export interface Job {
  id: JobId;
  userid: number;
  urgency: number;
  flags: number;
  t_submit: number;
  priority: number;
  jobspec: Record<string, JsonValue>;
  sm: JobStateMachine;
  events: JobEvent[];
  R?: JsonValue;
  allocPending: boolean;
  hasResources: boolean;
  execStarted: boolean;
  execDone: boolean;
  execNotified: boolean;
  cancelSent: boolean;
  cleanPosted: boolean;
  waiters: Responder[];
}

/** The client a request came from (its first hop). */
function senderOf(r: Responder): string {
  const routes = r.msg.routes;
  return routes[routes.length - 1] ?? '';
}

/** Scheduling order: higher priority first, then earlier submission, then lower id. */
export function schedOrder(a: Pick<Job, 'priority' | 't_submit' | 'id'>, b: Pick<Job, 'priority' | 't_submit' | 'id'>): number {
  return b.priority - a.priority || a.t_submit - b.t_submit || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

export const mod_main: ModuleMain = async (ctx, args) => {
  if (args.length > 0) throw new FluxError(errno.EINVAL, `unknown option: ${args[0]}`);
  const h = ctx.h;
  const jobs = new Map<JobId, Job>();
  let maxId = 0n;
  const journal = new Map<Responder, string>();
  let sched: { sender: string; limit: number } | undefined;
  let outstanding = 0;

  // Answers that can no longer be sent (the module is being removed) are only logged.
  const quiet = (e: unknown): void => {
    if (!h.isClosed) ctx.log('err', e instanceof Error ? e.message : String(e));
  };

  // --- KVS: eventlog appends, batched into one commit at a time, in order -----
  let txn: KvsTxn | undefined;
  let chain: Promise<void> = Promise.resolve();
  const flush = (): void => {
    chain = chain.then(async () => {
      if (!txn) return;
      const t = txn;
      txn = undefined;
      await h.rpc('kvs.commit', { namespace: 'primary', flags: 0, ops: t.toOps() }).get()
        .catch((e: unknown) => ctx.log('err', `eventlog commit: ${e instanceof Error ? e.message : String(e)}`));
    });
  };
  const append = (key: string, line: string): void => {
    if (!txn) {
      txn = new KvsTxn();
      setImmediate(flush);
    }
    txn.put(key, `${line}\n`, FLUX_KVS_APPEND);
  };
  /** Resolves once every event posted so far is in the KVS. */
  const flushed = async (): Promise<void> => {
    flush();
    await chain;
  };

  // --- journal -----------------------------------------------------------------
  const journalEntry = (job: Job, ev: JobEvent): Record<string, unknown> => {
    const e: Record<string, unknown> = { id: idJson(job.id), events: [ev] };
    if (ev.name === 'submit') e.jobspec = job.jobspec;
    if (ev.name === 'alloc' && job.R !== undefined) e.R = job.R;
    return e;
  };
  const toJournal = (job: Job, ev: JobEvent): void => {
    if (journal.size === 0) return;
    const p = jsonPayload(journalEntry(job, ev));
    for (const r of journal.keys()) r.respondRaw(p);
  };

  // --- events and actions ------------------------------------------------------
  const post = (job: Job, name: string, context?: Record<string, JsonValue>, kvs = true): void => {
    const ev = makeEvent(name, context);
    job.events.push(ev);
    job.sm.apply(ev);
    if (kvs) append(jobKvsKey(job.id, 'eventlog'), encodeEvent(ev));
    toJournal(job, ev);
    queueMicrotask(() => advance(job));
  };

  const advance = (job: Job): void => {
    switch (job.sm.state) {
      case STATE_DEPEND:
        post(job, 'depend');
        break;
      case STATE_PRIORITY:
        job.priority = priorityFromUrgency(job.urgency);
        post(job, 'priority', { priority: job.priority });
        break;
      case STATE_SCHED:
        schedule();
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

  const cleanup = (job: Job): void => {
    if (job.allocPending) {
      // The scheduler answers the alloc with CANCEL; we continue then.
      if (job.cancelSent) return;
      job.cancelSent = true;
      h.rpc('sched.cancel', jsonPayload({ id: idJson(job.id) }), { flags: FLAG_NORESPONSE });
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
      h.rpc('sched.free', jsonPayload({ id: idJson(job.id), R: job.R ?? null, final: true }), { flags: FLAG_NORESPONSE });
      post(job, 'free');
      schedule();
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
    if (waiters.length > 0) flushed().then(() => waiters.forEach((w) => respondWait(w, job))).catch(quiet);
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

  // --- scheduler (RFC 27) ------------------------------------------------------
  const schedGone = (why: string): void => {
    if (!sched) return;
    ctx.log('debug', `scheduler disconnected: ${why}`);
    sched = undefined;
    outstanding = 0;
    for (const job of jobs.values()) {
      if (!job.allocPending) continue;
      job.allocPending = false;
      if (job.sm.state === STATE_CLEANUP) queueMicrotask(() => advance(job));
    }
  };

  const schedule = (): void => {
    if (!sched) return;
    const queue = [...jobs.values()]
      .filter((j) => j.sm.state === STATE_SCHED && !j.allocPending && j.priority > 0)
      .sort(schedOrder);
    for (const job of queue) {
      if (sched.limit > 0 && outstanding >= sched.limit) break;
      sendAlloc(job);
    }
  };

  // RFC 27: sched.alloc goes out with matchtag 0, keyed by job id, as flux-core sends it; the
  // scheduler may answer ANNOTATE any number of times before SUCCESS, DENY or CANCEL. An error
  // response means the scheduler is gone (e.g. ENOSYS from a module being removed).
  const sendAlloc = (job: Job): void => {
    job.allocPending = true;
    outstanding++;
    const m = newMessage(MSGTYPE_REQUEST, 'sched.alloc');
    m.flags |= FLAG_ROUTE;
    m.aux1 = NODEID_ANY;
    m.aux2 = 0;
    setRaw(m, jsonPayload({ id: idJson(job.id), priority: job.priority, userid: job.userid, t_submit: job.t_submit, jobspec: job.jobspec }));
    try {
      h.send(m);
    } catch (e) {
      quiet(e);
    }
  };

  const allocResponse = async (m: Message): Promise<void> => {
    if (m.aux1 !== 0) {
      schedGone(responseError(m).message);
      return;
    }
    const r = payloadJson<{ id?: unknown; type?: unknown; note?: unknown; annotations?: JsonValue }>(m);
    const job = jobs.get(idField(r.id));
    if (!job || !job.allocPending) return;
    const ann = typeof r.annotations === 'object' && r.annotations !== null && !Array.isArray(r.annotations) ? r.annotations as Record<string, JsonValue> : undefined;
    if (r.type === 1) {
      if (ann) job.sm.annotations = { ...(job.sm.annotations ?? {}), ...ann };
      return;
    }
    outstanding = Math.max(0, outstanding - 1);
    if (r.type === 0) {
      // still allocPending while R is read: no second alloc for this job meanwhile
      try {
        job.R = parseJson((await lookupString(jobKvsKey(job.id, 'R'))));
      } catch (e) {
        ctx.log('err', `${encodeF58(job.id)}: error reading R: ${e instanceof Error ? e.message : String(e)}`);
      }
      job.allocPending = false;
      job.hasResources = true;
      if (job.sm.state === STATE_SCHED) post(job, 'alloc', ann ? { annotations: ann } : undefined);
      else advance(job);
    } else if (r.type === 2) {
      job.allocPending = false;
      post(job, 'exception', { type: 'alloc', severity: 0, note: typeof r.note === 'string' ? r.note : '' });
    } else {
      // CANCEL: the job was canceled while pending (or the scheduler gave it back)
      job.allocPending = false;
      queueMicrotask(() => advance(job));
    }
    schedule();
  };
  h.onMessage((m) => {
    if (m.type === MSGTYPE_RESPONSE && m.topic === 'sched.alloc' && m.aux2 === 0) allocResponse(m).catch(quiet);
  });

  const lookupString = async (key: string): Promise<string> => {
    const r = await h.rpc('kvs.lookup', { key, namespace: 'primary', flags: 0 }).get<{ val?: { data?: string } }>();
    const data = r.val?.data;
    if (typeof data !== 'string') throw new FluxError(errno.EPROTO, `${key}: not a value`);
    return Buffer.from(data, 'base64').toString('utf8');
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
    for (const j of req.jobs as Record<string, unknown>[]) {
      const id = idField(j.id);
      if (jobs.has(id)) continue;
      const job: Job = {
        id, userid: Number(j.userid ?? 0), urgency: Number(j.urgency ?? 16), flags: Number(j.flags ?? 0),
        t_submit: Number(j.t_submit ?? Date.now() / 1000), priority: 0,
        jobspec: (j.jobspec ?? {}) as Record<string, JsonValue>, sm: new JobStateMachine(), events: [],
        allocPending: false, hasResources: false, execStarted: false, execDone: false, execNotified: false, cancelSent: false, cleanPosted: false, waiters: [],
      };
      jobs.set(id, job);
      if (id > maxId) maxId = id;
      // job-ingest wrote the submit event to the KVS; it is ours from here on
      const submit = makeEvent('submit', { userid: job.userid, urgency: job.urgency, flags: job.flags, version: 1 }, job.t_submit);
      job.events.push(submit);
      job.sm.apply(submit);
      toJournal(job, submit);
      added.push(job);
    }
    respondJson(r, {});
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
        if (job.allocPending) h.rpc('sched.prioritize', jsonPayload({ jobs: [[idJson(job.id), p]] }), { flags: FLAG_NORESPONSE });
      }
    }
    respondJson(r, { old_urgency: old });
  });

  ctx.serve('job-manager.wait', (r) => {
    const req = payloadJson<{ id?: unknown }>(r.msg);
    const job = getJob(req.id);
    if (!(job.flags & FLAG_WAITABLE)) throw new FluxError(errno.EINVAL, 'job was not submitted with FLUX_JOB_WAITABLE');
    if (job.sm.state === STATE_INACTIVE) flushed().then(() => respondWait(r, job)).catch(quiet);
    else job.waiters.push(r);
  });

  ctx.serve('job-manager.events-journal', (r) => {
    if (!(r.msg.flags & FLAG_STREAMING)) throw new FluxError(errno.EPROTO, 'events-journal requires streaming');
    for (const job of jobs.values()) for (const ev of job.events) r.respondRaw(jsonPayload(journalEntry(job, ev)));
    r.respondRaw(jsonPayload({ id: -1, events: [] }));
    journal.set(r, senderOf(r));
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
    sched = { sender: senderOf(r), limit };
    outstanding = 0;
    const count = [...jobs.values()].filter((j) => j.sm.state === STATE_SCHED).length;
    respondJson(r, { count });
    schedule();
  });

  ctx.serve('job-manager.queue-status', (r) => respondJson(r, { enable: true, start: true }));

  ctx.serve('job-manager.disconnect', (r) => {
    const sender = senderOf(r);
    for (const [resp, s] of journal) if (s === sender) journal.delete(resp);
    for (const job of jobs.values()) job.waiters = job.waiters.filter((w) => senderOf(w) !== sender);
    if (sched && sched.sender === sender) schedGone('scheduler unloaded');
  });

  // --- restart: jobs of an earlier run, from their KVS eventlogs ----------------
  const restore = async (): Promise<Job[]> => {
    let dir: KVSDir;
    try {
      dir = await KVSDir.open(h, 'job', { namespace: 'primary' });
    } catch {
      return []; // no jobs yet
    }
    const active: Job[] = [];
    for await (const e of dir.walk()) {
      if (!/^job(\.[0-9a-f]{4}){4}$/.test(e.path) || !e.files.includes('eventlog')) continue;
      try {
        const id = parseJobId(e.path.slice(4));
        const text = async (k: string): Promise<string> => (await lookup(h, `${e.path}.${k}`, { namespace: 'primary' })).string();
        const events = parseEventlog(await text('eventlog'));
        const sm = new JobStateMachine();
        for (const ev of events) sm.apply(ev);
        const job: Job = {
          id, userid: sm.userid, urgency: sm.urgency, flags: sm.flags, t_submit: sm.t_submit, priority: sm.priority ?? 0,
          jobspec: e.files.includes('jobspec') ? parseJson(await text('jobspec')) as Record<string, JsonValue> : {},
          sm, events, allocPending: false, hasResources: false, execStarted: false, execDone: false, execNotified: false,
          cancelSent: false, cleanPosted: sm.state === STATE_INACTIVE, waiters: [],
        };
        if (e.files.includes('R')) job.R = parseJson(await text('R'));
        jobs.set(id, job);
        if (id > maxId) maxId = id;
        if (sm.state !== STATE_INACTIVE) active.push(job);
      } catch (err) {
        ctx.log('err', `${e.path}: cannot restore: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    return active;
  };
  const restored = await restore();
  if (jobs.size > 0) ctx.log('info', `restart: ${jobs.size} jobs`);
  // Active jobs go on: pending ones wait for the scheduler again; running ones lost their tasks.
  for (const job of restored) {
    post(job, 'flux-restart');
    if (job.sm.state & (STATE_RUN | STATE_CLEANUP)) {
      job.execStarted = true;
      job.execDone = true;
      if (job.sm.state === STATE_RUN) post(job, 'exception', { type: 'exec', severity: 0, note: 'job was running when the instance stopped' });
    }
  }

  ctx.onShutdown(() => {
    for (const r of journal.keys()) r.respondError(errno.ENOSYS);
    journal.clear();
  });
};
