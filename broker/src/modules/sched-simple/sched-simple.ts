/**
 * sched-simple: the simple scheduler, a loadable module (RFC 27).
 *
 *   flux module load sched-simple [queue-depth=N|unlimited] [alloc-mode=worst-fit|best-fit|first-fit]
 *
 * At load it acquires the instance's resources (`resource.acquire`, RFC 28:
 * R, then which ranks go down or come back up — offline or drained ranks get
 * no new jobs, those running there go on), registers the
 * `sched` and `feasibility` services, asks job-manager which jobs hold
 * resources (`job-manager.sched-hello`, their R from the KVS) and says it is
 * ready (`sched-ready`, limited to queue-depth outstanding allocs, default 8).
 * Allocation requests are served in priority order; the head of the queue
 * blocks the rest (no backfill). An allocation's R is committed to
 * `job.<id>.R` before the SUCCESS response. `sched.cancel` answers a pending
 * alloc with CANCEL; `sched.free` returns resources; `feasibility.check`
 * refuses requests the instance can never satisfy. Debug flag 1 (`flux module
 * debug --setbit 1 sched-simple`) denies every allocation, for tests.
 * `sched.resource-status` → {all, allocated, down} for `flux resource list`,
 * down being the ranks acquire reported down.
 */
import { errno, FluxError } from '../../common/libflux/errno';
import { FLAG_STREAMING } from '../../common/libflux/message';
import { jobKvsKey, type JobId } from '../../common/libjob/jobid';
import { jjGetCounts } from '../../common/libjob/jobspec-jj';
import { stringifyJson } from '../../common/libjob/json';
import { idField, idJson, jsonPayload, payloadJson, respondJson } from '../../common/libjob/rpc-json';
import { applyPriorities } from '../../common/libjob/sched-prioritize';
import { Rlist } from '../../common/librlist/rlist';
import { KvsTxn } from '../../common/libkvs/txn';
import { encodeIdset } from '../../common/libidset/idset';
import { acquireResources } from '../resource/acquire-client';
import type { Responder } from '../../broker/service';
import type { ModuleMain } from '../../module/runtime';
import { ALLOC_MODES, ResourcePool, allocationR, resourceSummary, type AllocMode, type AllocRequest, type Allocation } from './alloc';

interface Pending {
  id: JobId;
  priority: number;
  t_submit: number;
  req: AllocRequest;
  duration: number;
  r: Responder;
}

const ALLOC_SUCCESS = 0;
const ALLOC_DENY = 2;
const ALLOC_CANCEL = 3;

export function parseArgs(args: string[]): { queueDepth: number; mode: AllocMode } {
  let queueDepth = 8;
  let mode: AllocMode = 'worst-fit';
  for (const a of args) {
    const eq = a.indexOf('=');
    const k = eq < 0 ? a : a.slice(0, eq);
    const v = eq < 0 ? '' : a.slice(eq + 1);
    if (k === 'queue-depth' || k === 'mode') {
      const val = k === 'mode' ? v.replace(/^limited=/, '') : v;
      if (val === 'unlimited') queueDepth = 0;
      else if (/^[1-9][0-9]*$/.test(val)) queueDepth = Number(val);
      else throw new FluxError(errno.EINVAL, `invalid ${k}: ${v}`);
    } else if (k === 'alloc-mode') {
      if (!(ALLOC_MODES as readonly string[]).includes(v)) throw new FluxError(errno.EINVAL, `unknown alloc-mode: ${v}`);
      mode = v as AllocMode;
    } else if (k === 'log-level') {
      // accepted, as flux-core's Python sched-simple
    } else {
      throw new FluxError(errno.EINVAL, `unknown option: ${a}`);
    }
  }
  return { queueDepth, mode };
}

export const mod_main: ModuleMain = async (ctx, args) => {
  const { queueDepth, mode } = parseArgs(args);
  const h = ctx.h;
  const lookup = async (key: string, flags = 0): Promise<string> => {
    const r = await h.rpc(flags ? 'kvs-watch.lookup' : 'kvs.lookup', { key, namespace: 'primary', flags }).get<{ val?: { data?: string } }>();
    if (typeof r.val?.data !== 'string') throw new FluxError(errno.EPROTO, `${key} is not a value`);
    return Buffer.from(r.val.data, 'base64').toString('utf8');
  };
  // Resources come once every rank has reported (after rank 0's rc1): wait for them after load,
  // as flux-core's sched-simple waits for resource.acquire.
  let pool: ResourcePool | undefined;
  const allocated = new Map<JobId, Rlist>();
  const queue: Pending[] = [];

  await h.rpc('service.add', { service: 'sched' }).get();
  await h.rpc('service.add', { service: 'feasibility' }).get();

  const acquire = async (): Promise<ResourcePool> => {
    // RFC 28: R and the ranks up now, then up/down changes (offline or drained ranks are down)
    const got = await acquireResources(h);
    const p = new ResourcePool(Rlist.fromR(got.R));
    p.setUp(p.ranks.map((r) => r.rank), false);
    p.setUp([...got.up], true);
    got.follow((u) => {
      p.setUp(u.down, false);
      p.setUp(u.up, true);
      if (u.down.length > 0) ctx.log('debug', `resources down: ${encodeIdset(u.down)}`);
      if (u.up.length > 0) ctx.log('debug', `resources up: ${encodeIdset(u.up)}`);
      if (u.up.length > 0) kick();
    }, (msg) => ctx.log('err', msg));
    // Jobs that hold resources from an earlier scheduler.
    for await (const m of h.rpc('job-manager.sched-hello', jsonPayload({}), { flags: FLAG_STREAMING })) {
      const id = idField(payloadJson<{ id?: unknown }>(m).id);
      try {
        const rl = Rlist.fromR(JSON.parse(await lookup(jobKvsKey(id, 'R'))));
        p.claim(rl.ranks);
        allocated.set(id, rl);
      } catch (e) {
        ctx.log('err', `hello: ${String(id)}: cannot read R: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    return p;
  };
  let ready: Promise<ResourcePool> | undefined;
  const resources = (): Promise<ResourcePool> => (ready ??= acquire().then((p) => (pool = p)));

  const respondAlloc = (p: Pending, type: number, extra: Record<string, unknown> = {}): void => {
    respondJson(p.r, { id: idJson(p.id), type, ...extra });
  };

  // Allocate everything that fits now and commit those R in one transaction; the answers go out
  // when it is committed. Commits are not waited for before the next round (they pipeline).
  const floats = new Set(['execution\u0000starttime', 'execution\u0000expiration']);
  const schedule = (): void => {
    if (!pool) return;
    queue.sort((a, b) => b.priority - a.priority || a.t_submit - b.t_submit || (a.id < b.id ? -1 : 1));
    const batch: { p: Pending; a: Allocation }[] = [];
    const txn = new KvsTxn();
    while (queue.length > 0) {
      const p = queue[0];
      if (ctx.debugFlags & 1) {
        queue.shift();
        respondAlloc(p, ALLOC_DENY, { note: 'DENY all mode enabled' });
        continue;
      }
      const a = pool.alloc(p.req, mode);
      if (!a) break; // the head blocks the queue
      queue.shift();
      const starttime = (performance.timeOrigin + performance.now()) / 1000;
      const expiration = p.duration > 0 ? starttime + p.duration : 0;
      txn.put(jobKvsKey(p.id, 'R'), stringifyJson(allocationR(a, starttime, expiration), { layout: 'jansson', floatPaths: floats }));
      allocated.set(p.id, new Rlist(a.ranks));
      batch.push({ p, a });
    }
    if (batch.length === 0) return;
    h.rpc('kvs.commit', { namespace: 'primary', flags: 0, ops: txn.toOps() }).get().then(() => {
      for (const { p, a } of batch) respondAlloc(p, ALLOC_SUCCESS, { annotations: { sched: { resource_summary: resourceSummary(a) } } });
    }, (e: unknown) => {
      for (const { p, a } of batch) {
        pool?.free(a.ranks);
        allocated.delete(p.id);
        respondAlloc(p, ALLOC_DENY, { note: `error writing R: ${e instanceof Error ? e.message : String(e)}` });
      }
      schedule();
    }).catch((e: unknown) => {
      if (!h.isClosed) ctx.log('err', `schedule: ${e instanceof Error ? e.message : String(e)}`);
    });
  };
  const kick = schedule;

  ctx.serve('sched.alloc', (r) => {
    const req = payloadJson<{ id?: unknown; priority?: unknown; t_submit?: unknown; jobspec?: unknown }>(r.msg);
    const id = idField(req.id);
    const p = { id, priority: Number(req.priority ?? 0), t_submit: Number(req.t_submit ?? 0), r } as Pending;
    try {
      const c = jjGetCounts(req.jobspec);
      p.req = c;
      p.duration = c.duration;
    } catch (e) {
      respondAlloc(p, ALLOC_DENY, { note: e instanceof Error ? e.message : String(e) });
      return;
    }
    const why = pool?.infeasible(p.req);
    if (why) {
      respondAlloc(p, ALLOC_DENY, { note: why });
      return;
    }
    queue.push(p);
    kick();
  });

  ctx.serve('sched.cancel', (r) => {
    const id = idField(payloadJson<{ id?: unknown }>(r.msg).id);
    const i = queue.findIndex((p) => p.id === id);
    if (i < 0) return;
    const [p] = queue.splice(i, 1);
    respondAlloc(p, ALLOC_CANCEL);
    kick();
  });

  ctx.serve('sched.free', (r) => {
    const id = idField(payloadJson<{ id?: unknown }>(r.msg).id);
    const rl = allocated.get(id);
    if (rl && pool) {
      pool.free(rl.ranks);
      allocated.delete(id);
    }
    kick();
  });

  ctx.serve('sched.prioritize', (r) => {
    applyPriorities(payloadJson<{ jobs?: unknown }>(r.msg).jobs, (id) => queue.find((q) => q.id === id));
    kick();
  });

  ctx.serve('sched.expiration', (r) => respondJson(r, {}));

  ctx.serve('sched.resource-status', async (r) => {
    const pool = await resources();
    const R = (rl: Rlist): unknown => JSON.parse(rl.encode()) as unknown;
    respondJson(r, { all: R(pool.all()), allocated: R(pool.allocated()), down: R(pool.down()) });
  });

  ctx.serve('feasibility.check', async (r) => {
    const req = payloadJson<{ jobspec?: unknown }>(r.msg);
    const c = jjGetCounts(req.jobspec);
    const why = (await resources()).infeasible(c);
    if (why) throw new FluxError(errno.EOVERFLOW, why);
    respondJson(r, {});
  });

  ctx.onShutdown(() => {
    // Pending allocations stay with job-manager: it sends them to the next scheduler.
    for (const p of queue.splice(0)) p.r.respondError(errno.ENOSYS, 'scheduler unloading');
  });

  // Ready once loaded (after mod_main resolves, so the module runs when allocs arrive).
  setImmediate(() => {
    resources().then(() => h.rpc('job-manager.sched-ready', queueDepth > 0 ? { mode: 'limited', limit: queueDepth } : { mode: 'unlimited' }).get())
      .catch((e: unknown) => ctx.log('err', `sched-ready: ${e instanceof Error ? e.message : String(e)}`));
  });
};
