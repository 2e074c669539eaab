/**
 * sched-fluxion-resource: Fluxion's resource graph and matcher, as a module.
 *
 *   flux module load sched-fluxion-resource [load-allowlist=T,T...] [match-policy=P|policy=P]
 *       [match-format=rv1_nosched|rv1] [load-file=PATH load-format=jgf] [subsystems=...]
 *       [reserve-vtx-vec=N] [prune-filters=...] [update-interval=N] [traverser=...]
 *
 * The graph (libfluxion) is built once the instance's resources are known:
 * `resource.acquire` (RFC 28: R v1 with ranks, cores, GPUs, then the ranks
 * going down — offline or drained — and up again, whose vertices are marked
 * down/up as `set-status` does) plus `resource.topology` (sockets
 * per rank, which R v1 cannot carry), or a JGF file. `load-allowlist` keeps
 * only the listed vertex types. Loading does not wait for the graph (rank 0's
 * rc1 runs before the other ranks report); requests that need it wait.
 *
 * Services (flux-sched's payloads): `match {cmd, jobid, jobspec}` →
 * `{jobid, status, overhead, R, at}`; `update {jobid, R}` (an allocation made
 * by an earlier scheduler); `info {jobid}`; `cancel {jobid}`; `find
 * {criteria, format?}`; `status` → `{all, down, allocated}`; `set-status
 * {resource_path, status}`; `stats`, `stats-clear`; `params`; `notify`
 * (streaming: one response once the graph is loaded, ECANCELED when this
 * module goes — how qmanager and feasibility follow it); `graph` → the whole
 * graph in JGF with each vertex's status, schedule state and jobs (for the
 * resource-graph view).
 */
import * as fs from 'node:fs/promises';
import { errno, FluxError } from '../../common/libflux/errno';
import { FLAG_STREAMING } from '../../common/libflux/message';
import { acquireResources, type Acquired } from '../resource/acquire-client';
import { followAcquire } from './acquire-status';
import { Rlist } from '../../common/librlist/rlist';
import { idField, payloadJson, respondJson } from '../../common/libjob/rpc-json';
import { parseJobId } from '../../common/libjob/jobid';
import { encodeIdset } from '../../common/libidset/idset';
import { ALL_TYPES, ResourceGraph, STATUS_DOWN, STATUS_UP, type MemoryDesc, type NodeDesc } from '../../common/libfluxion/graph';
import { GRAPH_END, Matcher } from '../../common/libfluxion/match';
import { MATCH_CMDS, runMatch, type MatchCmd } from '../../common/libfluxion/match-cmd';
import { parsePolicy, type MatchPolicy } from '../../common/libfluxion/policy';
import { loadGrug } from '../../common/libfluxion/grug';
import { loadJgf, toJgf } from '../../common/libfluxion/jgf';
import type { Responder } from '../../broker/service';
import type { ModuleContext, ModuleMain } from '../../module/runtime';

export const FLUXION_VERSION = '0.54.0';

export interface ResourceParams {
  'load-file': string | null;
  'load-format': string;
  'load-allowlist': string | null;
  policy: string;
  'match-format': string;
  subsystems: string;
  'reserve-vtx-vec': number;
  'prune-filters': string;
  'update-interval': number;
  traverser: string;
}

const READERS = ['rv1exec', 'jgf', 'hwloc', 'grug'];
const FORMATS = ['rv1_nosched', 'rv1', 'rv1_shorthand'];

/** flux-sched's option handling: unknown keys and bad policies fail the load; unknown readers and formats fall back. */
export function parseResourceArgs(args: string[], log: (sev: 'debug' | 'err', s: string) => void = () => {}): { params: ResourceParams; policy: MatchPolicy } {
  const params: ResourceParams = {
    'load-file': null, 'load-format': 'rv1exec', 'load-allowlist': null, policy: 'first', 'match-format': 'rv1_nosched',
    subsystems: 'containment', 'reserve-vtx-vec': 0, 'prune-filters': 'ALL:core,ALL:node', 'update-interval': 0, traverser: 'simple',
  };
  for (const a of args) {
    const eq = a.indexOf('=');
    const k = eq < 0 ? a : a.slice(0, eq);
    const v = eq < 0 ? '' : a.slice(eq + 1);
    switch (k) {
      case 'load-file': params['load-file'] = v; break;
      case 'load-format':
        if (READERS.includes(v)) params['load-format'] = v;
        else log('debug', `process_args: unknown resource reader (${v}): using the default`);
        break;
      case 'load-allowlist': params['load-allowlist'] = v; break;
      case 'policy': case 'match-policy': params.policy = v; break;
      case 'match-format':
        if (FORMATS.includes(v)) params['match-format'] = v;
        else log('debug', `process_args: unknown match format (${v}): using the default`);
        break;
      case 'subsystems': params.subsystems = v; break;
      case 'prune-filters': params['prune-filters'] = v; break;
      case 'traverser': params.traverser = v; break;
      case 'reserve-vtx-vec': case 'update-interval': {
        if (!/^[0-9]+$/.test(v)) throw new FluxError(errno.EINVAL, `${k}: not a number: ${v}`);
        params[k] = Number(v);
        break;
      }
      default:
        log('err', `process_args: unknown option (${k})`);
        throw new FluxError(errno.EINVAL, `unknown option: ${k}`);
    }
  }
  let policy: MatchPolicy;
  try {
    policy = parsePolicy(params.policy);
  } catch (e) {
    log('err', `process_args: ${e instanceof Error ? e.message : String(e)}`);
    throw new FluxError(errno.EINVAL, `unknown match policy (${params.policy})`);
  }
  return { params, policy };
}

type RankTopology = { coreSockets?: number[]; memory?: MemoryDesc[] };

/** The nodes of an R v1 with the sockets and memory `resource.topology` reports. */
export function nodesFromR(R: unknown, topology: Record<string, RankTopology> = {}): NodeDesc[] {
  const rl = Rlist.fromR(R);
  return rl.ranks.map((r) => {
    const t = topology[String(r.rank)];
    const cs = Array.isArray(t?.coreSockets) && t.coreSockets.length === r.cores.length ? t.coreSockets : undefined;
    const mem = Array.isArray(t?.memory) ? t.memory : undefined;
    return { rank: r.rank, hostname: r.hostname || `node${r.rank}`, cores: r.cores, gpus: r.gpus, ...(cs ? { coreSockets: cs } : {}), ...(mem ? { memory: mem } : {}) };
  });
}

interface Stat { n: number; min: number; max: number; sum: number; sumsq: number }
const newStat = (): Stat => ({ n: 0, min: 0, max: 0, sum: 0, sumsq: 0 });
function addStat(s: Stat, x: number): void {
  s.min = s.n === 0 ? x : Math.min(s.min, x);
  s.max = s.n === 0 ? x : Math.max(s.max, x);
  s.n++;
  s.sum += x;
  s.sumsq += x * x;
}
const statJson = (s: Stat): Record<string, number> => {
  const avg = s.n ? s.sum / s.n : 0;
  return { min: s.min, max: s.max, avg, variance: s.n ? s.sumsq / s.n - avg * avg : 0 };
};

const nowSec = (): number => Math.floor(Date.now() / 1000);

export const mod_main: ModuleMain = async (ctx: ModuleContext, args: string[]) => {
  ctx.log('info', `version ${FLUXION_VERSION}`);
  const { params, policy } = parseResourceArgs(args, (sev, s) => ctx.log(sev, s));
  if (params['load-format'] === 'hwloc' && !params['load-file']) {
    // flux-sched asks resource.get-xml, which this instance does not serve, and panics the broker; we refuse the load.
    throw new FluxError(errno.ENOSYS, 'load-format=hwloc: this instance has no hwloc XML (resource.get-xml); use rv1exec (the default) or jgf with load-file');
  }
  if (params['load-format'] === 'hwloc' && params['load-file']) {
    throw new FluxError(errno.ENOTSUP, 'load-format=hwloc is not supported here; use rv1exec, jgf or grug');
  }
  if ((params['load-format'] === 'jgf' || params['load-format'] === 'grug') && !params['load-file']) {
    throw new FluxError(errno.EINVAL, `load-format=${params['load-format']} needs load-file=PATH`);
  }
  let allowlist: string[] | undefined;
  if (params['load-allowlist'] !== null) {
    const given = params['load-allowlist'].split(',').filter((s) => s !== '');
    const unknown = given.filter((t) => !ALL_TYPES.includes(t));
    if (unknown.length > 0) ctx.log('warning', `load-allowlist: no vertices of type ${unknown.join(',')} in this instance, ignored`);
    const known = given.filter((t) => ALL_TYPES.includes(t));
    if (known.length > 0) allowlist = known;
    if (allowlist && !allowlist.includes('core')) ctx.log('warning', 'load-allowlist has no core: jobs cannot be matched');
  }
  const h = ctx.h;
  ctx.log('debug', 'mod_main: resource module starting');
  const t0 = Date.now();
  let matcher: Matcher | undefined;
  let loadTime = 0;
  const notifiers = new Set<Responder>();
  const matchStats = { ok: newStat(), fail: newStat(), njobs: 0, failed: 0, maxJob: -1n, resetAt: Date.now() / 1000 };

  let acquired: Acquired | undefined;
  const build = async (): Promise<Matcher> => {
    const t = performance.now();
    let g: ResourceGraph;
    if (params['load-format'] === 'jgf') {
      g = loadJgf(JSON.parse(await fs.readFile(params['load-file']!, 'utf8')) as unknown, allowlist);
      ctx.log('debug', `resource graph loaded from ${params['load-file']} (JGF reader)`);
    } else if (params['load-format'] === 'grug') {
      g = loadGrug(await fs.readFile(params['load-file']!, 'utf8'), allowlist);
      ctx.log('debug', `resource graph generated from the recipe ${params['load-file']} (GRUG reader)`);
    } else {
      acquired = await acquireResources(h);
      const R = acquired.R;
      let topo: Record<string, RankTopology> = {};
      try {
        topo = (await h.rpc('resource.topology', {}).get<{ ranks: typeof topo }>()).ranks ?? {};
      } catch (e) {
        ctx.log('debug', `no socket topology (${e instanceof Error ? e.message : String(e)}): nodes hold cores directly`);
      }
      g = ResourceGraph.build(nodesFromR(R, topo), allowlist);
      ctx.log('debug', `resource graph loaded with the rv1exec reader and the machine topology (${allowlist ? `allowlist ${allowlist.join(',')}` : 'all types'})`);
      ctx.log('info', 'populate_resource_db: loaded resources from resource.acquire');
    }
    loadTime = (performance.now() - t) / 1000;
    const ranks = g.ranks();
    ctx.log('debug', `resource status: rankset=[${ranks.length ? `${ranks[0]}-${ranks[ranks.length - 1]}` : ''}] up; ${g.size} vertices, ${g.edges} edges`);
    ctx.log('debug', 'mod_main: resource graph database loaded');
    const m = new Matcher(g, policy);
    if (acquired) followAcquire(ctx, m, acquired, (up) => {
      for (const r of notifiers) respondJson(r, { resources: 'up', up: encodeIdset(up) });
    });
    for (const r of notifiers) respondJson(r, { resources: 'loaded' });
    return m;
  };
  let ready: Promise<Matcher> | undefined;
  const graph = (): Promise<Matcher> => (ready ??= build().then((m) => (matcher = m), (e: unknown) => {
    ctx.log('err', `can't populate the resource graph: ${e instanceof Error ? e.message : String(e)}`);
    throw e;
  }));
  // A graph from a file needs no other rank: a bad file fails the load itself, as in flux-sched.
  if (params['load-file']) await graph();

  const jobidOf = (v: unknown): bigint => {
    if (typeof v === 'string') return parseJobId(v);
    return idField(v);
  };
  const matchReply = (m: Matcher, jobid: bigint, status: string, mr: { vertices: number[]; start: number; end: number }, overhead: number): Record<string, unknown> => ({
    jobid: jobid < 0n ? -1 : jobid, status, overhead, at: mr.start,
    R: JSON.stringify(m.toR(mr, params['match-format'] === 'rv1')),
  });

  ctx.serve('sched-fluxion-resource.match', async (r) => {
    const req = payloadJson<{ cmd?: unknown; jobid?: unknown; jobspec?: unknown }>(r.msg);
    const m = await graph();
    const cmd = String(req.cmd) as MatchCmd;
    if (!MATCH_CMDS.includes(cmd)) throw new FluxError(errno.EINVAL, `unknown match command: ${String(req.cmd)}`);
    const allocating = !cmd.startsWith('without') && cmd !== 'satisfiability';
    // No jobid (the CLI): the next one after the largest this module has seen, as flux-sched's CLI counts.
    let jobid = req.jobid === undefined || req.jobid === -1 ? -1n : jobidOf(req.jobid);
    if (jobid < 0n && allocating) {
      for (const id of m.jobs.keys()) if (id > matchStats.maxJob) matchStats.maxJob = id;
      jobid = matchStats.maxJob + 1n;
    }
    if (allocating && m.jobs.has(jobid)) throw new FluxError(errno.EINVAL, `jobid ${jobid} already has resources`);
    const t = performance.now();
    try {
      const out = runMatch(m, cmd, jobid, req.jobspec, nowSec());
      const overhead = Number(((performance.now() - t) / 1000).toFixed(9));
      addStat(matchStats.ok, overhead);
      if (out.status !== 'MATCHED') {
        matchStats.njobs++;
        if (jobid > matchStats.maxJob) matchStats.maxJob = jobid;
        const j = m.jobs.get(jobid);
        if (j) j.overhead = overhead;
      }
      if (cmd === 'satisfiability') return respondJson(r, { jobid: -1, status: 'MATCHED', overhead, at: 0, R: '' });
      respondJson(r, matchReply(m, out.status === 'MATCHED' ? -1n : jobid, out.status, out.match, overhead));
    } catch (e) {
      addStat(matchStats.fail, (performance.now() - t) / 1000);
      matchStats.failed++;
      throw e;
    }
  });

  ctx.serve('sched-fluxion-resource.update', async (r) => {
    const req = payloadJson<{ jobid?: unknown; R?: unknown }>(r.msg);
    const m = await graph();
    const jobid = jobidOf(req.jobid);
    const R = typeof req.R === 'string' ? JSON.parse(req.R) as unknown : req.R;
    const existing = m.jobs.get(jobid);
    if (existing) return respondJson(r, matchReply(m, jobid, existing.state, existing, existing.overhead));
    const mr = m.fromR(R);
    const j = m.commit(jobid, mr, 'ALLOCATED');
    respondJson(r, matchReply(m, jobid, 'ALLOCATED', mr, j.overhead));
  });

  ctx.serve('sched-fluxion-resource.info', async (r) => {
    const m = await graph();
    const jobid = jobidOf(payloadJson<{ jobid?: unknown }>(r.msg).jobid);
    const j = m.jobs.get(jobid);
    // no text: `flux ion-resource info` prints strerror, as flux-sched's does
    if (!j) throw new FluxError(errno.ENOENT);
    respondJson(r, { jobid, status: j.state, at: j.start, overhead: j.overhead, R: JSON.stringify(m.toR(j)) });
  });

  ctx.serve('sched-fluxion-resource.cancel', async (r) => {
    const m = await graph();
    const jobid = jobidOf(payloadJson<{ jobid?: unknown }>(r.msg).jobid);
    if (!m.cancel(jobid)) throw new FluxError(errno.ENOENT, `job ${jobid} is not known to the resource graph`);
    respondJson(r, {});
  });

  /** Vertices' schedule state now: allocated (a job holds it now), reserved (later), free. */
  const stateOf = (m: Matcher, v: number, now: number): { state: string; jobs: bigint[]; reserved: boolean } => {
    const g = m.g;
    const spans = g.spans.get(v) ?? (g.planners.get(v)?.jobs.spans);
    if (!spans || spans.length === 0) return { state: 'free', jobs: [], reserved: false };
    const nowJobs = spans.filter((s) => s.start <= now && s.end > now).map((s) => s.id);
    const later = spans.filter((s) => s.start > now).map((s) => s.id);
    return { state: nowJobs.length > 0 ? 'allocated' : later.length > 0 ? 'reserved' : 'free', jobs: [...nowJobs, ...later], reserved: later.length > 0 };
  };

  /** An R of the leaves (cores, GPUs) for which pred holds. */
  const leavesR = (m: Matcher, pred: (v: number) => boolean, times = false): unknown => {
    const vs: number[] = [];
    for (let v = 0; v < m.g.size; v++) {
      const t = m.g.typeOf(v);
      if ((t === 'core' || t === 'gpu') && pred(v)) vs.push(v);
    }
    if (vs.length === 0) return null;
    return m.toR({ vertices: vs, start: 0, end: times ? GRAPH_END : 0 });
  };

  const criteriaPred = (m: Matcher, criteria: string): ((v: number) => boolean) => {
    const now = nowSec();
    const terms = criteria.split(/\s+and\s+/).map((t) => t.trim()).filter((t) => t !== '');
    if (terms.length === 0) throw new FluxError(errno.EINVAL, 'empty criteria');
    const preds = terms.map((t) => {
      const [k, v] = t.split('=');
      if (k === 'status' && (v === 'up' || v === 'down')) return (x: number): boolean => m.g.isDown(x) === (v === 'down');
      if (k === 'sched-now' && (v === 'allocated' || v === 'free')) return (x: number): boolean => (stateOf(m, x, now).state === 'allocated') === (v === 'allocated');
      if (k === 'sched-future' && (v === 'reserved' || v === 'free')) return (x: number): boolean => stateOf(m, x, now).reserved === (v === 'reserved');
      throw new FluxError(errno.EINVAL, `invalid criteria: ${t}`);
    });
    return (x) => preds.every((p) => p(x));
  };

  ctx.serve('sched-fluxion-resource.find', async (r) => {
    const req = payloadJson<{ criteria?: unknown; format?: unknown }>(r.msg);
    const m = await graph();
    const pred = criteriaPred(m, String(req.criteria ?? ''));
    if (req.format === 'jgf') {
      const vs: number[] = [];
      for (let v = 0; v < m.g.size; v++) if (pred(v)) vs.push(v);
      return respondJson(r, { R: toJgf(m.g, vs) });
    }
    respondJson(r, { R: leavesR(m, pred) });
  });

  ctx.serve('sched-fluxion-resource.status', async (r) => {
    const m = await graph();
    const now = nowSec();
    const all = leavesR(m, () => true);
    const down = leavesR(m, (v) => m.g.isDown(v));
    const alloc = leavesR(m, (v) => stateOf(m, v, now).state === 'allocated');
    const empty = { version: 1, execution: { R_lite: [], nodelist: [], starttime: 0, expiration: 0 } };
    respondJson(r, { all: all ?? empty, down: down ?? empty, allocated: alloc ?? empty });
  });

  ctx.serve('sched-fluxion-resource.set-status', async (r) => {
    const req = payloadJson<{ resource_path?: unknown; status?: unknown }>(r.msg);
    const m = await graph();
    const st = req.status === 'up' ? STATUS_UP : req.status === 'down' ? STATUS_DOWN : -1;
    if (st < 0) throw new FluxError(errno.EINVAL, `status must be up or down, not ${String(req.status)}`);
    let found = -1;
    for (let v = 0; v < m.g.size && found < 0; v++) if (m.g.path(v) === req.resource_path) found = v;
    if (found < 0) throw new FluxError(errno.ENOENT, `no vertex at path ${String(req.resource_path)}`);
    m.g.status[found] = st;
    ctx.log('debug', `resource status changed (${String(req.resource_path)} status=${String(req.status).toUpperCase()})`);
    respondJson(r, {});
  });

  ctx.serve('sched-fluxion-resource.stats-get', async (r) => {
    const m = await graph();
    const byRank = new Map<string, number[]>();
    const perRank = new Map<number, number>();
    for (let v = 0; v < m.g.size; v++) if (m.g.rank[v] >= 0) perRank.set(m.g.rank[v], (perRank.get(m.g.rank[v]) ?? 0) + 1);
    for (const [rank, n] of perRank) byRank.set(String(n), [...(byRank.get(String(n)) ?? []), rank]);
    respondJson(r, {
      V: m.g.size, E: m.g.edges,
      'by_rank': Object.fromEntries([...byRank].map(([n, ranks]) => [`[${encodeIdset(ranks.sort((a, b) => a - b))}]`, Number(n)])),
      'by_type': m.g.countByType(),
      'load-time': loadTime, 'graph-uptime': (Date.now() - t0) / 1000, 'time-since-reset': Date.now() / 1000 - matchStats.resetAt,
      match: {
        succeeded: { njobs: matchStats.njobs, 'njobs-reset': matchStats.ok.n, 'max-match-jobid': matchStats.maxJob, stats: statJson(matchStats.ok) },
        failed: { njobs: matchStats.failed, 'njobs-reset': matchStats.fail.n, stats: statJson(matchStats.fail) },
      },
    });
  });
  ctx.serve('sched-fluxion-resource.stats-clear', (r) => {
    matchStats.ok = newStat();
    matchStats.fail = newStat();
    matchStats.resetAt = Date.now() / 1000;
    respondJson(r, {});
  });

  ctx.serve('sched-fluxion-resource.params', (r) => respondJson(r, { params: JSON.stringify(params) }));

  ctx.serve('sched-fluxion-resource.notify', (r) => {
    if (!(r.msg.flags & FLAG_STREAMING)) throw new FluxError(errno.EPROTO, 'notify requires streaming');
    notifiers.add(r);
    if (matcher) respondJson(r, { resources: 'loaded' });
    else graph().catch(() => undefined);
  });
  ctx.serve('sched-fluxion-resource.disconnect', (r) => {
    const sender = r.msg.routes[r.msg.routes.length - 1];
    for (const n of notifiers) {
      if (n.msg.routes[n.msg.routes.length - 1] === sender) {
        notifiers.delete(n);
        ctx.log('debug', 'disconnect: a notify request ended');
      }
    }
  });

  ctx.serve('sched-fluxion-resource.graph', async (r) => {
    const m = await graph();
    const now = nowSec();
    const jgf = toJgf(m.g, undefined, (v) => {
      const s = stateOf(m, v, now);
      return { status: m.g.isDown(v) ? 'down' : 'up', state: s.state, jobs: s.jobs, parent: m.g.parent[v] };
    });
    respondJson(r, jgf);
  });

  ctx.onShutdown(() => {
    for (const n of notifiers) n.respondError(errno.ECANCELED);
    notifiers.clear();
  });

  // Start loading now; requests wait for it.
  setImmediate(() => {
    graph().catch(() => undefined);
  });
};
