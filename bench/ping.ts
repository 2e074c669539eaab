/**
 * Metric 2: unloaded RPC round trips (one request in flight at a time), inside an instance
 * started by instance.ts. This process opens the URI with the client
 * library (broker/src/common/libflux/handle.ts) and runs, per target rank, sequential
 * `h.rpc('broker.ping', ..., {nodeid}).get()` calls (one in flight), each timed with hrtime:
 * the same shape as flux-core's Python loop (`flux.Flux().rpc(...).get()`). The first PING_COUNT
 * are reported as "cold", then after WARMUP more, PING_COUNT are measured as the main figure.
 * It also runs our `flux ping --count=1000 --interval=0.001 RANK` CLI, like flux-core's section b.
 */
import type { Flux } from '../broker/src/common/libflux/handle';
import { level, parseTopology } from '../broker/src/broker/topology';
import * as fc from './flux-core';
import { FLUX_JS, childEnv, run } from './proc';
import { fmtMs, summarize, type Row, type Summary } from './stats';

export const PING_COUNT = 1000;
/**
 * JIT warm-up matters a lot here (client and brokers are V8): on this machine the rank-0 p50 falls
 * from ~0.14 ms over the first 1000 RPCs of a fresh instance to ~0.035 ms after ~3000. So each target
 * gets: the first PING_COUNT RPCs ("cold", reported too), WARMUP more, then PING_COUNT measured ("warm").
 */
const WARMUP = 2000;
const RPC_TIMEOUT_MS = 5_000;

export interface PingResult {
  label: string;
  size: number;
  topo: string;
  rank: number;
  hops: number;
  /** Steady state: PING_COUNT RPCs after PING_COUNT + WARMUP others to the same target. */
  lib: Summary;
  /** The first PING_COUNT RPCs to this target on a fresh connection. */
  cold: Summary;
  /** `flux ping` CLI times, when measured. */
  cli?: Summary;
}

/** One RPC, bounded: a lost response fails the bench instead of hanging it. */
async function pingOnce(h: Flux, nodeid: number, seq: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_res, rej) => {
    timer = setTimeout(() => rej(new Error(`broker.ping to rank ${nodeid}: no response within ${RPC_TIMEOUT_MS} ms`)), RPC_TIMEOUT_MS);
  });
  try {
    await Promise.race([h.rpc('broker.ping', { seq, pad: '' }, { nodeid }).get(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function timedLoop(h: Flux, rank: number, count: number): Promise<Summary> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = process.hrtime.bigint();
    await pingOnce(h, rank, i);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return summarize(times);
}

export async function libLoop(h: Flux, rank: number): Promise<{ cold: Summary; lib: Summary }> {
  const cold = await timedLoop(h, rank, PING_COUNT);
  await timedLoop(h, rank, WARMUP);
  const lib = await timedLoop(h, rank, PING_COUNT);
  return { cold, lib };
}

/** `flux ping --count=N --interval=0.001 RANK` against the running instance; parses `time=X ms`. */
export async function cliPing(uri: string, rank: number): Promise<Summary> {
  const r = await run(process.execPath, [FLUX_JS, 'ping', `--count=${PING_COUNT}`, '--interval=0.001', String(rank)], {
    timeoutMs: 30_000,
    env: childEnv({ FLUX_URI: uri }),
  });
  const times = [...r.stdout.matchAll(/ time=([\d.]+) ms/g)].map((m) => Number(m[1]));
  if (r.code !== 0 || times.length !== PING_COUNT) {
    throw new Error(`flux ping ${rank}: exit ${r.code ?? r.signal}, ${times.length} replies; ${r.stderr.trim().slice(-300)}`);
  }
  return summarize(times);
}

export interface PingTarget {
  label: string;
  rank: number;
  cli: boolean;
}

/** The deepest rank of a topology (the highest rank at the maximum level). */
export function deepestRank(size: number, topo: string): number {
  const t = parseTopology(topo, size);
  let best = 0;
  for (let r = 0; r < size; r++) if (level(t, r) >= level(t, best)) best = r;
  return best;
}

export function pingRows(results: PingResult[]): Row[] {
  const rows: Row[] = [];
  const runs = `${PING_COUNT} RPCs`;
  for (const p of results) {
    const where = `${p.label} (size ${p.size} ${p.topo}, ${p.hops} hop${p.hops === 1 ? '' : 's'})`;
    // flux-core's Python loop figures exist for ranks 0 and 3 of the 4-rank flat tree only.
    const py = p.size === 4 && p.topo === 'kary:32' ? (p.rank === 0 ? fc.ping.pyBrokerR0 : p.rank === 3 ? fc.ping.pyBrokerR3 : undefined) : undefined;
    const refNote = py ? 'ref: flux-core Python rpc().get() loop' : 'no flux-core figure';
    rows.push(
      { metric: `broker.ping ${where} p50, client lib`, ours: p.lib.p50, runs, ref: py?.p50, note: `${refNote}; min ${fmtMs(p.lib.min)}, mean ${fmtMs(p.lib.mean)}` },
      { metric: `broker.ping ${where} p99, client lib`, ours: p.lib.p99, runs, ref: py?.p99, note: `max ${fmtMs(p.lib.max)}` },
      {
        metric: `  same, cold: first ${PING_COUNT} RPCs to this rank, p50`,
        ours: p.cold.p50,
        runs,
        ref: py?.p50,
        note: `p99 ${fmtMs(p.cold.p99)}, max ${fmtMs(p.cold.max)} (JIT not warm yet)`,
      },
    );
    if (p.cli) {
      const cliRef = p.size === 4 && p.topo === 'kary:32' ? (p.rank === 0 ? fc.ping.cliKvsR0 : p.rank === 3 ? fc.ping.cliBrokerR3 : undefined) : undefined;
      const cliNote = p.rank === 0 ? 'ref: flux-core `flux ping kvs` (kvs.ping; no broker.ping r0 CLI figure)' : 'ref: flux-core `flux ping 3`';
      rows.push(
        { metric: `flux ping -i 0.001 ${p.rank} p50 (CLI)`, ours: p.cli.p50, runs, ref: cliRef?.p50, note: `${cliNote}; mean ${fmtMs(p.cli.mean)}` },
        { metric: `flux ping -i 0.001 ${p.rank} p99 (CLI)`, ours: p.cli.p99, runs, ref: cliRef?.p99, note: `max ${fmtMs(p.cli.max)}` },
      );
    }
  }
  return rows;
}
