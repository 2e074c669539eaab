/**
 * Metric 3: pipelined RPC throughput, as `flux ping --batch --count=1000` measures it: 1000
 * broker.ping requests are all handed to the socket before any reply is read, then all replies
 * are awaited. The clock runs from the first send to the last reply. One unmeasured warm-up
 * burst, then REPS measured bursts; the median burst is reported as RPC/s (each RPC is two
 * messages, request and response).
 */
import type { Flux } from '../broker/src/common/libflux/handle';
import * as fc from './flux-core';
import { fmtMs, fmtValue, median, type Row } from './stats';

export const PIPELINE_COUNT = 1000;
const REPS = 5;
const BURST_TIMEOUT_MS = 30_000;

export interface ThroughputResult {
  label: string;
  size: number;
  topo: string;
  rank: number;
  hops: number;
  /** Wall time of each measured burst of PIPELINE_COUNT RPCs, ms. */
  wallMs: number[];
}

/** One burst: every request sent before the event loop can deliver a reply. Returns its wall time in ms. */
async function burst(h: Flux, rank: number): Promise<number> {
  const t0 = process.hrtime.bigint();
  const rpcs = [];
  for (let i = 0; i < PIPELINE_COUNT; i++) rpcs.push(h.rpc('broker.ping', { seq: i, pad: '' }, { nodeid: rank }));
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_res, rej) => {
    timer = setTimeout(() => rej(new Error(`${PIPELINE_COUNT} pipelined broker.ping to rank ${rank}: not all answered within ${BURST_TIMEOUT_MS} ms`)), BURST_TIMEOUT_MS);
  });
  try {
    await Promise.race([Promise.all(rpcs.map((r) => r.get())), timeout]);
  } finally {
    clearTimeout(timer);
  }
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

export async function benchThroughput(h: Flux, rank: number): Promise<number[]> {
  await burst(h, rank); // warm-up: JIT in client and brokers, socket buffers
  const walls: number[] = [];
  for (let i = 0; i < REPS; i++) walls.push(await burst(h, rank));
  return walls;
}

export function throughputRows(results: ThroughputResult[]): Row[] {
  return results.map((t) => {
    const where = `${t.label} (size ${t.size} ${t.topo}, ${t.hops} hop${t.hops === 1 ? '' : 's'})`;
    const flat4 = t.size === 4 && t.topo === 'kary:32';
    const ref = flat4 ? (t.rank === 0 ? fc.pipelined.batchKvsR0 : t.rank === 3 ? fc.pipelined.batchKvsR3 : undefined) : undefined;
    const i0 = flat4 ? (t.rank === 0 ? fc.pipelined.i0BrokerR0 : t.rank === 3 ? fc.pipelined.i0BrokerR3 : undefined) : undefined;
    const rps = t.wallMs.map((w) => (PIPELINE_COUNT * 1000) / w);
    const refNote = ref
      ? `ref: flux-core \`flux ping --batch\` ${t.rank === 0 ? 'kvs' : '3!kvs'}; its --interval=0 broker.ping: ${fmtValue(i0 ?? NaN, 'rps')}`
      : 'no flux-core figure';
    return {
      metric: `${PIPELINE_COUNT} pipelined broker.ping to ${where}`,
      ours: median(rps),
      unit: 'rps' as const,
      runs: `${t.wallMs.length} bursts`,
      ref,
      note: `${refNote}; burst wall median ${fmtMs(median(t.wallMs))} (${fmtMs(Math.min(...t.wallMs))}–${fmtMs(Math.max(...t.wallMs))})`,
    };
  });
}
