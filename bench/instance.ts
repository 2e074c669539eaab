/**
 * One running instance per size, for the metrics that need it up: memory (RSS of every broker,
 * idle, right after start-up), then for each target rank the sequential round trips (ping.ts)
 * and the pipelined throughput (throughput.ts).
 *
 * The instance is `flux start --test-size=N [-S tbon.topo=T] sh -c 'echo URI; exec cat'`: the
 * initial program prints $FLUX_URI and then waits for its stdin (our pipe) to close, so the
 * instance lives exactly as long as we need it and ends the normal way.
 */
import { Flux } from '../broker/src/common/libflux/handle';
import { level, parseTopology } from '../broker/src/broker/topology';
import { cliPing, libLoop, type PingResult } from './ping';
import { fluxStartArgs, start } from './proc';
import { brokerRss, type RssResult } from './rss';
import { fmtMs, fmtValue, median } from './stats';
import { PIPELINE_COUNT, benchThroughput, type ThroughputResult } from './throughput';

export interface InstanceTarget {
  label: string;
  rank: number;
  /** Also run our `flux ping --interval=0.001` CLI against it (as flux-core's section b). */
  cli: boolean;
}

export interface InstanceConfig {
  size: number;
  topo?: string;
  targets: InstanceTarget[];
  /** Pipelined throughput to each target. */
  throughput: boolean;
  /** RSS of every broker. */
  rss: boolean;
}

export interface InstanceResult {
  pings: PingResult[];
  tput: ThroughputResult[];
  rss?: RssResult;
}

/** The instance must be up within this (N=64 on a busy 2-core machine takes ~15 s). */
const UP_TIMEOUT_MS = 120_000;

export async function benchInstance(cfg: InstanceConfig, log: (s: string) => void): Promise<InstanceResult> {
  const topo = cfg.topo ?? 'kary:32';
  const t = parseTopology(topo, cfg.size);
  const inst = start(process.execPath, fluxStartArgs(cfg.size, cfg.topo, ['sh', '-c', 'echo "BENCH_URI=$FLUX_URI"; exec cat >/dev/null']), {
    timeoutMs: 240_000,
    stdin: 'pipe',
  });
  const out: InstanceResult = { pings: [], tput: [] };
  let h: Flux | undefined;
  try {
    const m = await inst.waitLine(/^BENCH_URI=(\S+)$/m, UP_TIMEOUT_MS);
    const uri = m[1];
    h = await Flux.open(uri);
    if (cfg.rss) {
      const rss = await brokerRss(await h.getattr('rundir'), cfg.size);
      out.rss = { size: cfg.size, topo, rss };
      const followers = rss.filter((b) => b.rank !== 0).map((b) => b.rssKiB);
      log(`size ${cfg.size}: RSS rank 0 ${fmtValue(rss[0].rssKiB, 'kib')}${followers.length ? `, follower median ${fmtValue(median(followers), 'kib')}` : ''}`);
    }
    for (const tg of cfg.targets) {
      const hops = level(t, tg.rank);
      const { cold, lib } = await libLoop(h, tg.rank);
      const cli = tg.cli ? await cliPing(uri, tg.rank) : undefined;
      out.pings.push({ label: tg.label, size: cfg.size, topo, rank: tg.rank, hops, lib, cold, cli });
      let tp = '';
      if (cfg.throughput) {
        const wallMs = await benchThroughput(h, tg.rank);
        out.tput.push({ label: tg.label, size: cfg.size, topo, rank: tg.rank, hops, wallMs });
        tp = `; ${PIPELINE_COUNT} pipelined in ${fmtMs(median(wallMs))}`;
      }
      log(`size ${cfg.size}: ${tg.label}: ping warm p50 ${fmtMs(lib.p50)} p99 ${fmtMs(lib.p99)}${cli ? `, flux ping p50 ${fmtMs(cli.p50)}` : ''}${tp}`);
    }
  } finally {
    h?.close();
    inst.child.stdin?.end(); // the initial program's `cat` ends, the instance shuts down
    const r = await inst.done;
    if (r.code !== 0) log(`instance of size ${cfg.size} ended with ${r.timedOut ? 'a timeout' : `status ${r.code ?? r.signal}`}: ${r.stderr.trim().slice(-300)}`);
  }
  return out;
}
