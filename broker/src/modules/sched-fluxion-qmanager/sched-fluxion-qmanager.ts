/**
 * sched-fluxion-qmanager: Fluxion's queue manager, the `sched` service (RFC 27).
 *
 *   flux module load sched-fluxion-qmanager [queue-policy=fcfs|easy|conservative|hybrid]
 *       [queue-params=queue-depth=N,max-queue-depth=M] [policy-params=reservation-depth=N,max-reservation-depth=M]
 *
 * It needs sched-fluxion-resource (the load fails with a clear error
 * otherwise) and leaves when that module goes. Handshake: once the graph is
 * loaded, the jobs holding resources (`job-manager.sched-hello`) are put back
 * into the graph (`sched-fluxion-resource.update` with their R), then
 * `sched-ready` (unlimited: this module keeps its own queue).
 *
 * Each scheduling cycle looks at up to queue-depth pending jobs in priority
 * order. fcfs: a job that cannot run now blocks those behind it. easy: the
 * first blocked job gets a reservation at the earliest time it fits
 * (annotated `sched.t_estimate`, `selection_type: reserved`), and later jobs
 * run now only where they do not delay it (backfill). conservative: every
 * blocked job considered gets a reservation; hybrid: the first
 * reservation-depth. Reservations are recomputed at every cycle. A job the
 * graph could never satisfy is denied (`alloc denied due to type="unsatisfiable"`). Waiting jobs
 * also carry our own `sched.reason_pending` (insufficient resources, behind a job that waits,
 * beyond queue-depth).
 * An allocation's R is committed to `job.<id>.R` before the success answer.
 */
import { errno, FluxError } from '../../common/libflux/errno';
import { FLAG_STREAMING } from '../../common/libflux/message';
import { jobKvsKey, type JobId } from '../../common/libjob/jobid';
import { idField, idJson, jsonPayload, payloadJson, respondJson } from '../../common/libjob/rpc-json';
import { applyPriorities } from '../../common/libjob/sched-prioritize';
import { KvsTxn } from '../../common/libkvs/txn';
import type { Responder } from '../../broker/service';
import type { ModuleMain } from '../../module/runtime';
import { FLUXION_VERSION } from '../sched-fluxion-resource/sched-fluxion-resource';
import { GRAPH_END } from '../../common/libfluxion/match';
import { RESOURCE, followResource, requireResource } from '../sched-fluxion-feasibility/sched-fluxion-feasibility';

export type QueuePolicy = 'fcfs' | 'easy' | 'conservative' | 'hybrid';

export interface QmanagerOptions {
  policy: QueuePolicy;
  queueDepth: number;
  maxQueueDepth: number;
  reservationDepth: number;
  maxReservationDepth: number;
  /** What was given, for the log ("default" when nothing). */
  queueParams: string;
  policyParams: string;
}

const QUEUE_DEPTH_DEFAULT = 32;
const QUEUE_DEPTH_CAP = 1000000;
const RESERVATION_DEPTH_DEFAULT = 64;
const RESERVATION_DEPTH_CAP = 100000;

function parseKv(s: string, keys: string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const kv of s.split(',').filter((x) => x !== '')) {
    const [k, v] = kv.split('=');
    if (!keys.includes(k)) throw new FluxError(errno.EINVAL, `unknown parameter: ${k}`);
    if (v === undefined || !/^-?[0-9]+$/.test(v)) throw new FluxError(errno.EINVAL, `${k}: not an integer: ${v ?? ''}`);
    const n = Number(v);
    if (n < 1) throw new FluxError(errno.ERANGE, `${k}=${v}: must be at least 1`);
    out.set(k, n);
  }
  return out;
}

/** flux-sched's option handling: unknown policy falls back to fcfs; bad parameters fail the load. */
export function parseQmanagerArgs(args: string[], log: (s: string) => void = () => {}): QmanagerOptions {
  const o: QmanagerOptions = {
    policy: 'fcfs', queueDepth: QUEUE_DEPTH_DEFAULT, maxQueueDepth: QUEUE_DEPTH_CAP,
    reservationDepth: RESERVATION_DEPTH_DEFAULT, maxReservationDepth: RESERVATION_DEPTH_CAP, queueParams: 'default', policyParams: 'default',
  };
  for (const a of args) {
    const eq = a.indexOf('=');
    const k = eq < 0 ? a : a.slice(0, eq);
    const v = eq < 0 ? '' : a.slice(eq + 1);
    if (k === 'queue-policy') {
      if (['fcfs', 'easy', 'conservative', 'hybrid'].includes(v)) o.policy = v as QueuePolicy;
      else log(`process_args: unknown queuing policy (${v}): using the default`);
    } else if (k === 'queue-params') {
      const m = parseKv(v, ['queue-depth', 'max-queue-depth']);
      if (m.has('max-queue-depth')) o.maxQueueDepth = Math.min(m.get('max-queue-depth')!, QUEUE_DEPTH_CAP);
      if (m.has('queue-depth')) o.queueDepth = m.get('queue-depth')!;
      o.queueParams = v || 'default';
    } else if (k === 'policy-params') {
      const m = parseKv(v, ['reservation-depth', 'max-reservation-depth']);
      if (m.has('max-reservation-depth')) o.maxReservationDepth = Math.min(m.get('max-reservation-depth')!, RESERVATION_DEPTH_CAP);
      if (m.has('reservation-depth')) o.reservationDepth = m.get('reservation-depth')!;
      o.policyParams = v || 'default';
    } else {
      throw new FluxError(errno.EINVAL, `unknown option: ${k}`);
    }
  }
  o.queueDepth = Math.min(o.queueDepth, o.maxQueueDepth);
  o.reservationDepth = Math.min(o.reservationDepth, o.maxReservationDepth);
  return o;
}

/** How many blocked jobs may hold a reservation, and whether a blocked job stops the cycle. */
export function reservationLimit(o: QmanagerOptions): { reserve: number; blocking: boolean } {
  switch (o.policy) {
    case 'fcfs': return { reserve: 0, blocking: true };
    case 'easy': return { reserve: 1, blocking: false };
    case 'conservative': return { reserve: Infinity, blocking: false };
    case 'hybrid': return { reserve: o.reservationDepth, blocking: false };
  }
}

interface Pending {
  id: JobId;
  priority: number;
  t_submit: number;
  jobspec: unknown;
  r: Responder;
  /** The `sched` annotation last sent, as JSON (to annotate only changes). */
  annKey?: string;
  /** What this module last annotated the job with (for `sched-fluxion-qmanager.queue`). */
  ann?: Record<string, unknown>;
  /** Answered (canceled) while a match for it was in flight: whatever it got goes back. */
  gone?: boolean;
}

/**
 * The R a job gets: the match's, except that no time limit is written as expiration 0 (as
 * sched-simple writes it) rather than the graph's end (flux-sched's 9223372036): `flux job info R`
 * and job-list's expiration then read "no limit" the same way whichever scheduler ran the job.
 */
export function jobR(matchR: string): string {
  const R = JSON.parse(matchR) as { execution?: { expiration?: number } };
  if (R.execution && Number(R.execution.expiration) >= GRAPH_END) {
    R.execution.expiration = 0;
    return JSON.stringify(R);
  }
  return matchR;
}

const ALLOC_SUCCESS = 0;
const ALLOC_ANNOTATE = 1;
const ALLOC_DENY = 2;
const ALLOC_CANCEL = 3;

export const mod_main: ModuleMain = async (ctx, args) => {
  ctx.log('info', `version ${FLUXION_VERSION}`);
  ctx.log('debug', 'service_register');
  const opts = parseQmanagerArgs(args, (s) => ctx.log('debug', s));
  ctx.log('debug', `enforced policy (queue=default): ${opts.policy}`);
  ctx.log('debug', `effective queue params (queue=default): ${opts.queueParams}`);
  ctx.log('debug', `effective policy params (queue=default): ${opts.policyParams}`);
  await requireResource(ctx);
  const h = ctx.h;
  await h.rpc('service.add', { service: 'sched' }).get();

  const queue: Pending[] = [];
  const reserved = new Set<JobId>();
  let ready = false;
  let running = false;
  let again = false;
  let closing = false;
  const { reserve, blocking } = reservationLimit(opts);

  // An alloc request (sent without a matchtag, RFC 27) may get ANNOTATE responses before its final one.
  const respond = (p: Pending, type: number, extra: Record<string, unknown> = {}): void => {
    if (h.isClosed) return;
    p.r.respondRaw(jsonPayload({ id: idJson(p.id), type, ...extra }));
  };
  const rpcErrno = (e: unknown): number => (e as { errnum?: number }).errnum ?? errno.EIO;
  const match = (cmd: string, p: Pending): Promise<{ status: string; R: string; at: number }> =>
    h.rpc(`${RESOURCE}.match`, jsonPayload({ cmd, jobid: idJson(p.id), jobspec: p.jobspec })).get<{ status: string; R: string; at: number }>();
  const cancelInGraph = async (id: JobId): Promise<void> => {
    await h.rpc(`${RESOURCE}.cancel`, jsonPayload({ jobid: idJson(id) })).get().catch(() => undefined);
  };

  /** Matched jobs whose R is being written to the KVS (their SUCCESS not sent yet). */
  const granting = new Set<Pending>();
  const unqueue = (p: Pending): void => {
    const i = queue.indexOf(p);
    if (i >= 0) queue.splice(i, 1);
  };

  /** flux-sched's `t_estimate`/`selection_type`, and our `reason_pending` (why the job waits); sent when changed. */
  const annotate = (p: Pending, sched: Record<string, unknown>): void => {
    const key = JSON.stringify(sched);
    if (p.annKey === key) return;
    p.annKey = key;
    p.ann = { sched };
    respond(p, ALLOC_ANNOTATE, { annotations: p.ann });
  };

  const oneCycle = async (): Promise<void> => {
    // reservations are recomputed every cycle
    for (const id of [...reserved]) {
      await cancelInGraph(id);
      reserved.delete(id);
    }
    queue.sort((a, b) => b.priority - a.priority || a.t_submit - b.t_submit || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const granted: { p: Pending; R: string }[] = [];
    let reservations = 0;
    const considered = queue.slice(0, opts.queueDepth);
    for (const p of considered) {
      if (closing) return;
      if (p.gone) continue;
      try {
        const r = await match('allocate_with_satisfiability', p);
        if (p.gone) {
          await cancelInGraph(p.id);
          continue;
        }
        granted.push({ p, R: r.R });
        unqueue(p);
        continue;
      } catch (e) {
        const n = rpcErrno(e);
        if (n === errno.ENODEV) {
          unqueue(p);
          respond(p, ALLOC_DENY, { note: 'alloc denied due to type="unsatisfiable"' });
          continue;
        }
        if (n !== errno.EBUSY) {
          unqueue(p);
          respond(p, ALLOC_DENY, { note: `alloc denied: ${e instanceof Error ? e.message : String(e)}` });
          continue;
        }
      }
      if (reservations < reserve) {
        try {
          const r = await match('allocate_orelse_reserve', p);
          if (p.gone) {
            await cancelInGraph(p.id);
            continue;
          }
          if (r.status === 'ALLOCATED') {
            granted.push({ p, R: r.R });
            unqueue(p);
            continue;
          }
          reservations++;
          reserved.add(p.id);
          annotate(p, { t_estimate: r.at, selection_type: 'reserved', reason_pending: 'insufficient resources' });
          continue;
        } catch {
          // cannot be reserved (e.g. behind jobs without a time limit): it waits
        }
      }
      annotate(p, { reason_pending: 'insufficient resources' });
      if (blocking) {
        for (const q of considered.slice(considered.indexOf(p) + 1)) if (!q.gone) annotate(q, { reason_pending: 'behind a job that waits (fcfs)' });
        break;
      }
    }
    for (const q of queue.slice(opts.queueDepth)) annotate(q, { reason_pending: `beyond queue-depth=${opts.queueDepth}` });
    if (granted.length === 0) return;
    const txn = new KvsTxn();
    for (const { p, R } of granted) txn.put(jobKvsKey(p.id, 'R'), jobR(R));
    for (const { p } of granted) granting.add(p);
    try {
      await h.rpc('kvs.commit', { namespace: 'primary', flags: 0, ops: txn.toOps() }).get();
      for (const { p } of granted) {
        // canceled while its R was being written: give the resources back, answer CANCEL
        if (p.gone) {
          await cancelInGraph(p.id);
          respond(p, ALLOC_CANCEL);
        } else respond(p, ALLOC_SUCCESS, { annotations: { sched: { selection_type: 'immediate' } } });
      }
    } catch (e) {
      for (const { p } of granted) {
        await cancelInGraph(p.id);
        respond(p, ALLOC_DENY, { note: `error writing R: ${e instanceof Error ? e.message : String(e)}` });
      }
    } finally {
      for (const { p } of granted) granting.delete(p);
    }
  };

  const cycle = (): void => {
    if (!ready || closing) return;
    if (running) {
      again = true;
      return;
    }
    running = true;
    void (async () => {
      try {
        do {
          again = false;
          await oneCycle();
        } while (again && !closing);
      } catch (e) {
        if (!h.isClosed) ctx.log('err', `schedule: ${e instanceof Error ? e.message : String(e)}`);
      } finally {
        running = false;
      }
    })();
  };

  ctx.serve('sched.alloc', (r) => {
    const req = payloadJson<{ id?: unknown; priority?: unknown; t_submit?: unknown; jobspec?: unknown }>(r.msg);
    queue.push({ id: idField(req.id), priority: Number(req.priority ?? 0), t_submit: Number(req.t_submit ?? 0), jobspec: req.jobspec, r });
    cycle();
  });

  ctx.serve('sched.cancel', async (r) => {
    const id = idField(payloadJson<{ id?: unknown }>(r.msg).id);
    const i = queue.findIndex((p) => p.id === id);
    if (i < 0) {
      // matched, its R being committed: answered CANCEL once the commit is done
      for (const p of granting) if (p.id === id) p.gone = true;
      return;
    }
    const [p] = queue.splice(i, 1);
    p.gone = true;
    respond(p, ALLOC_CANCEL);
    if (reserved.delete(id)) await cancelInGraph(id);
    cycle();
  });

  ctx.serve('sched.free', async (r) => {
    const id = idField(payloadJson<{ id?: unknown }>(r.msg).id);
    await cancelInGraph(id);
    cycle();
  });

  ctx.serve('sched.prioritize', (r) => {
    applyPriorities(payloadJson<{ jobs?: unknown }>(r.msg).jobs, (id) => queue.find((q) => q.id === id));
    cycle();
  });

  ctx.serve('sched.expiration', (r) => respondJson(r, {}));

  // Ours: the pending queue in scheduling order with each job's annotations, for tests and tools.
  ctx.serve('sched-fluxion-qmanager.queue', (r) => {
    respondJson(r, {
      policy: opts.policy, 'queue-depth': opts.queueDepth,
      jobs: queue.map((p) => ({ id: idJson(p.id), priority: p.priority, t_submit: p.t_submit, annotations: p.ann ?? {} })),
    });
  });

  ctx.serve('sched.resource-status', async (r) => {
    respondJson(r, await h.rpc(`${RESOURCE}.status`, {}).get<Record<string, unknown>>());
  });

  ctx.onShutdown(async () => {
    closing = true;
    // Pending allocations stay with job-manager, which hands them to the next scheduler.
    for (const p of queue.splice(0)) if (!h.isClosed) p.r.respondError(errno.ENOSYS, 'scheduler unloading');
    for (const id of reserved) await cancelInGraph(id);
    reserved.clear();
  });

  const lookup = async (key: string): Promise<string> => {
    const r = await h.rpc('kvs.lookup', { key, namespace: 'primary', flags: 0 }).get<{ val?: { data?: string } }>();
    if (typeof r.val?.data !== 'string') throw new FluxError(errno.EPROTO, `${key} is not a value`);
    return Buffer.from(r.val.data, 'base64').toString('utf8');
  };
  const handshake = async (): Promise<void> => {
    ctx.log('debug', `handshaking with ${RESOURCE} completed`);
    for await (const m of h.rpc('job-manager.sched-hello', jsonPayload({}), { flags: FLAG_STREAMING })) {
      const id = idField(payloadJson<{ id?: unknown }>(m).id);
      try {
        const R = await lookup(jobKvsKey(id, 'R'));
        await h.rpc(`${RESOURCE}.update`, jsonPayload({ jobid: idJson(id), R })).get();
        ctx.log('debug', `requeue success (queue=default id=${id})`);
      } catch (e) {
        ctx.log('err', `requeue: job ${id}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    await h.rpc('job-manager.sched-ready', { mode: 'unlimited' }).get();
    ctx.log('debug', 'handshaking with job-manager completed');
    ready = true;
    cycle();
  };
  followResource(ctx, () => {
    handshake().catch((e: unknown) => {
      if (!h.isClosed) ctx.log('err', `handshake: ${e instanceof Error ? e.message : String(e)}`);
    });
  }, 'update_on_resource_response', () => cycle());
};
