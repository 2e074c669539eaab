/**
 * resource: the instance's resource inventory, R version 1 (RFC 20), found
 * the way a flux-core test instance finds it ("dynamic discovery"): every rank
 * probes its own machine (cores, GPUs: librlist/probe.ts) and reports to rank
 * 0, which, once every rank has reported, writes `resource.R` to the KVS and
 * appends `resource-define {"method":"dynamic-discovery"}` to
 * `resource.eventlog` in the same commit. Ranks report as they load (rc1 runs
 * top-down), so rank 0 never waits for them while loading; the last reporter
 * is answered once R is committed, so by quorum (all rc1 done) R is there.
 *
 * `resource.topo-report {rank, hostname, cores, gpus, coreSockets, numaNodes}` (rank 0)
 * takes a report; `resource.get` answers `{"R": …}` once R is known (EAGAIN before), and
 * `resource.topology` the sockets, NUMA nodes and their memory of each rank, which R v1 cannot carry.
 *
 * Rank 0 also keeps what flux-core's resource module keeps there: which ranks
 * are online (monitor.ts), drained (drain.ts, rebuilt from resource.eventlog
 * at load), hands R and the up/down changes to the scheduler (acquire.ts,
 * RFC 28) and answers `resource.status` / `resource.sched-status` (status.ts).
 */
import { errno, FluxError } from '../../common/libflux/errno';
import { Rlist, type RankResources } from '../../common/librlist/rlist';
import { probeMachine } from '../../common/librlist/probe';
import type { ModuleContext, ModuleMain } from '../../module/runtime';
import { decodeHostlist } from '../../common/libhostlist/hostlist';
import { Acquire, senderOf } from './acquire';
import { Drain } from './drain';
import { Monitor } from './monitor';
import { RESLOG_KEY, Reslog, decodeEventlog, type ResEvent } from './reslog';
import { Status } from './status';
import { Targets } from './targets';

interface Report {
  rank: number;
  hostname: string;
  cores: number[];
  gpus: number[];
  /** Finer than R v1 can say, kept for the Fluxion resource graph: socket of each core, NUMA nodes. */
  coreSockets?: number[];
  numaNodes?: number[];
  /** GB of each NUMA node and its socket (the Fluxion graph's memory vertices). */
  memory?: { gb: number; socket?: number }[];
}

function isReport(v: unknown, size: number): v is Report {
  const r = v as Partial<Report> | null;
  const ints = (a: unknown): boolean => Array.isArray(a) && a.every((n) => Number.isInteger(n) && n >= 0);
  return typeof r === 'object' && r !== null && Number.isInteger(r.rank) && r.rank! >= 0 && r.rank! < size
    && typeof r.hostname === 'string' && ints(r.cores) && ints(r.gpus);
}

export const mod_main: ModuleMain = async (ctx, args) => {
  if (args.length > 0) throw new FluxError(errno.EINVAL, `unknown option: ${args[0]}`);
  const m = await probeMachine();
  const hostname = (await ctx.h.getattr('hostname').catch(() => m.hostname)) || m.hostname;
  const own: Report = {
    rank: ctx.rank, hostname, cores: m.cores.map((c) => c.index), gpus: [...Array(m.gpus).keys()],
    coreSockets: m.cores.map((c) => c.socket), numaNodes: m.numaNodes, memory: m.memory.map((x) => ({ gb: x.gb, ...(x.socket !== undefined ? { socket: x.socket } : {}) })),
  };
  if (m.source !== 'sysfs') ctx.log('warning', 'no CPU topology in /sys: counting one core per CPU Node reports');

  if (ctx.rank !== 0) {
    const notHere = (): never => {
      throw new FluxError(errno.EPROTO, 'this RPC only works on rank 0');
    };
    ctx.serve('resource.status', notHere);
    ctx.serve('resource.sched-status', notHere);
    try {
      await ctx.h.rpc('resource.topo-report', { ...own }, { nodeid: 0 }).get();
    } catch (e) {
      ctx.log('err', `error reporting resources to rank 0: ${e instanceof Error ? e.message : String(e)}`);
    }
    return;
  }

  const reports = new Map<number, RankResources>();
  const topology = new Map<number, { sockets: number[]; coreSockets: number[]; numaNodes: number[]; memory: { gb: number; socket?: number }[] }>();
  let R: Rlist | undefined;
  let pending: Rlist | undefined;
  const reslog = new Reslog(ctx.h, (s) => ctx.log('err', s), () => R?.toR());
  // R becomes known as its resource-define event is delivered: before acquire hears of it
  reslog.listen((ev) => {
    if (ev.name === 'resource-define' && pending) R = pending;
  });
  const state = await leaderState(ctx, reslog, () => R);
  const publish = async (): Promise<void> => {
    const rl = new Rlist([...reports.values()]);
    pending = rl;
    state.targets.setHosts(rl.ranks.map((r) => r.hostname));
    try {
      await reslog.post('resource-define', { method: 'dynamic-discovery' }, { commit: true, puts: [['resource.R', rl.encode()]] });
      ctx.log('info', `resource-define: ${rl.nnodes} nodes, ${rl.ncores} cores, ${rl.ngpus} GPUs (dynamic discovery)`);
    } catch (e) {
      ctx.log('err', `error committing R to KVS: ${e instanceof Error ? e.message : String(e)}`);
    }
  };
  /** The report that completes the set publishes R; its sender hears back once R is in the KVS. */
  const take = async (r: Report): Promise<void> => {
    reports.set(r.rank, { rank: r.rank, hostname: r.hostname, cores: r.cores, gpus: r.gpus });
    const coreSockets = Array.isArray(r.coreSockets) && r.coreSockets.length === r.cores.length ? r.coreSockets : r.cores.map(() => 0);
    const memory = Array.isArray(r.memory) ? r.memory.filter((x) => Number.isInteger(x?.gb) && x.gb >= 0) : [];
    topology.set(r.rank, { sockets: [...new Set(coreSockets)].sort((a, b) => a - b), coreSockets, numaNodes: r.numaNodes ?? [], memory });
    if (reports.size === ctx.size && R === undefined) await publish();
  };
  ctx.serve('resource.topo-report', async (req) => {
    const r = req.json();
    if (!isReport(r, ctx.size)) throw new FluxError(errno.EPROTO);
    await take(r);
    req.respond({});
  });
  // Sockets and NUMA nodes per rank, beyond R v1 (for the Fluxion graph): {"ranks": {"0": {...}}}.
  ctx.serve('resource.topology', (req) => {
    if (!R) throw new FluxError(errno.EAGAIN, 'resources are not known yet: not every rank has reported');
    req.respond({ ranks: Object.fromEntries([...topology].map(([rank, t]) => [String(rank), t])) });
  });
  ctx.serve('resource.get', (req) => {
    if (!R) throw new FluxError(errno.EAGAIN, 'resources are not known yet: not every rank has reported');
    req.respond({ R: R.toR() });
  });
  // Every rank's rc1 waits for its report to be taken, so once the instance runs, R is in the KVS.
  await take(own);
};

interface LeaderState {
  targets: Targets;
}

/** Rank 0's drain, monitor, acquire and status subsystems and their services. */
async function leaderState(ctx: ModuleContext, reslog: Reslog, getR: () => Rlist | undefined): Promise<LeaderState> {
  const h = ctx.h;
  let events: ResEvent[] = [];
  try {
    const r = await h.rpc('kvs.lookup', { key: RESLOG_KEY, namespace: 'primary', flags: 0 }).get<{ val?: { data?: string } }>();
    events = decodeEventlog(Buffer.from(r.val?.data ?? '', 'base64').toString('utf8'));
  } catch (e) {
    if ((e as { errnum?: unknown }).errnum !== errno.ENOENT) {
      ctx.log('err', `${RESLOG_KEY}: ${e instanceof Error ? e.message : String(e)}`);
      throw e;
    }
  }
  const hostlist = await h.getattr('hostlist').catch(() => '');
  const targets = new Targets(hostlist ? decodeHostlist(hostlist) : []);
  reslog.preload(events);
  const drain = new Drain(ctx.size, reslog, targets);
  try {
    drain.replay(events);
  } catch (e) {
    ctx.log('err', `${RESLOG_KEY}: ${e instanceof Error ? e.message : String(e)}`);
    throw e;
  }
  const drained = drain.drained();
  if (drained.size > 0) ctx.log('info', `drained ranks restored from ${RESLOG_KEY}: ${[...drained].join(',')}`);
  const monitor = new Monitor(h, ctx.size, reslog, (s) => ctx.log('err', s));
  const Rv1 = (): ReturnType<Rlist['toR']> | undefined => getR()?.toR();
  const acquire = new Acquire({ R: Rv1, drained: () => drain.drained(), down: () => monitor.down() }, (s) => ctx.log('debug', s));
  reslog.listen((ev) => acquire.onEvent(ev));
  const status = new Status(h, ctx.rank, {
    R: Rv1, drainSummary: () => drain.summary(), drained: () => drain.drained(), online: () => monitor.up(), offline: () => monitor.down(),
  });
  ctx.serve('resource.drain', (r) => drain.handleDrain(r));
  ctx.serve('resource.undrain', (r) => drain.handleUndrain(r));
  ctx.serve('resource.acquire', (r) => acquire.handleAcquire(r));
  ctx.serve('resource.acquire-mute', (r) => acquire.handleMute(r));
  ctx.serve('resource.acquire-cancel', (r) => acquire.handleCancel(r));
  ctx.serve('resource.monitor-waitup', (r) => monitor.handleWaitup(r));
  ctx.serve('resource.status', (r) => status.handleStatus(r));
  ctx.serve('resource.sched-status', (r) => status.handleSchedStatus(r));
  ctx.serve('resource.journal', (r) => reslog.handleJournal(r));
  ctx.serve('resource.journal-cancel', (r) => reslog.dropConsumers(senderOf(r), true));
  ctx.serve('resource.disconnect', (r) => {
    acquire.disconnect(senderOf(r));
    reslog.dropConsumers(senderOf(r), false);
  });
  ctx.onShutdown(() => {
    monitor.stop();
    acquire.close();
    reslog.close();
  });
  monitor.start();
  return { targets };
}
