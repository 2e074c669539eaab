/**
 * Fluxion's graph and matcher (libfluxion), in process, against flux-sched's
 * figures (issue 10, flux-core-perf.md §h): match time per one-core job on a
 * synthetic 256-node × 32-core graph (flux-sched: 1.1 ms; goal ≤ 0.5 ms), and
 * build time and memory of a 16,384-node graph (flux-sched: 11 s, 1.78 GB;
 * goal ≤ 3 s, ≤ 400 MB). The big graph is built in a child process so its
 * memory is measured alone (RSS growth and heap). Also the `flux ion-resource` CLI on a live
 * 4-rank instance (flux-sched: 186 ms; goal ≤ 50 ms) and `flux start --test-size=4 true` with
 * Fluxion loaded (1.33 s).
 *
 *   node --import tsx bench/fluxion.ts            (standalone, prints JSON)
 *   node --import tsx bench/run.ts --only=fluxion
 */
import { fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FLUX_JS, ROOT, childEnv, run, start } from './proc';
import { ResourceGraph, type NodeDesc } from '../broker/src/common/libfluxion/graph';
import { Matcher } from '../broker/src/common/libfluxion/match';
import { parsePolicy } from '../broker/src/common/libfluxion/policy';
import { runMatch } from '../broker/src/common/libfluxion/match-cmd';
import { median, type Row } from './stats';

export interface FluxionResult {
  /** ms per one-core allocate, filling 256 × 32 cores. */
  matchMs: number[];
  matchMedianMs: number;
  matchMeanMs: number;
  matchP99Ms: number;
  /** 16,384 nodes × 2 sockets × 16 cores. */
  bigBuildMs: number[];
  bigRssMiB: number;
  bigHeapMiB: number;
  bigVertices: number;
  /** `flux ion-resource match allocate` spawn → exit, on a 4-rank instance (Fluxion loaded). */
  cliMs: number[];
  /** `flux start --test-size=4 true` with Fluxion (the default). */
  startMs: number[];
  /** jobs/s of 1,000 real and 1,000 simulated (testexec) jobs under Fluxion. */
  realJobs: number[];
  simJobs: number[];
}

function cliEnv(uri?: string): NodeJS.ProcessEnv {
  const e = childEnv({ ...(uri ? { FLUX_URI: uri } : {}), PATH: `${path.join(ROOT, 'dist/bin')}:${process.env.PATH ?? ''}` });
  delete e.NODE_EXTRA_CA_CERTS;
  delete e.FLUX_MODPROBE_PATH;
  return e;
}

/** The CLI against a live instance, and a whole instance's start and stop, with Fluxion. */
async function benchLive(): Promise<{ cliMs: number[]; startMs: number[]; realJobs: number[]; simJobs: number[] }> {
  const startMs: number[] = [];
  for (let i = 0; i < 3; i++) {
    const r = await run(process.execPath, [FLUX_JS, 'start', '--test-size=4', 'true'], { timeoutMs: 60_000, env: cliEnv() });
    if (r.code !== 0) throw new Error(`flux start: exit ${r.code ?? r.signal}`);
    startMs.push(r.exitedAt - r.spawnedAt);
  }
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'flux-bench-fluxion-'));
  const js = path.join(dir, 'one.json');
  await fs.promises.writeFile(js, JSON.stringify(ONE_CORE));
  const inst = start(process.execPath, [FLUX_JS, 'start', '--test-size=4', 'sh', '-c', 'echo "BENCH_URI=$FLUX_URI"; exec cat >/dev/null'], {
    timeoutMs: 300_000, stdin: 'pipe', env: cliEnv(),
  });
  const cliMs: number[] = [];
  const realJobs: number[] = [];
  const simJobs: number[] = [];
  try {
    const uri = (await inst.waitLine(/^BENCH_URI=(\S+)$/m, 60_000))[1];
    for (let i = 0; i < 8; i++) {
      const r = await run(process.execPath, [FLUX_JS, 'ion-resource', 'match', 'allocate', js], { timeoutMs: 60_000, env: cliEnv(uri) });
      if (r.code !== 0) throw new Error(`flux ion-resource: exit ${r.code ?? r.signal}: ${r.stderr.trim().slice(-200)}`);
      cliMs.push(r.exitedAt - r.spawnedAt);
    }
    // jobs under Fluxion (its matches of the CLI above released first): real, then simulated
    // (qmanager leaves when the resource module goes, as flux-sched's does: load it again after)
    for (const cmd of [['remove', 'sched-fluxion-qmanager'], ['reload', 'sched-fluxion-resource'], ['load', 'sched-fluxion-qmanager']]) {
      const r = await run(process.execPath, [FLUX_JS, 'module', ...cmd], { timeoutMs: 60_000, env: cliEnv(uri) });
      if (r.code !== 0) throw new Error(`flux module ${cmd.join(' ')}: exit ${r.code ?? r.signal}: ${r.stderr.trim().slice(-200)}`);
    }
    const rate = async (extra: string[]): Promise<number> => {
      const r = await run(process.execPath, [FLUX_JS, 'submit', '--cc=1-1000', '--quiet', '--wait', ...extra, 'true'], { timeoutMs: 600_000, env: cliEnv(uri) });
      if (r.code !== 0) throw new Error(`flux submit: exit ${r.code ?? r.signal}: ${r.stderr.trim().slice(-200)}`);
      return 1000 / ((r.exitedAt - r.spawnedAt) / 1000);
    };
    realJobs.push(await rate([]));
    simJobs.push(await rate(['--setattr=system.exec.test.run_duration=0.001s']));
  } finally {
    inst.child.stdin?.end();
    await inst.done;
    await fs.promises.rm(dir, { recursive: true, force: true });
  }
  return { cliMs, startMs, realJobs, simJobs };
}

export function synthNodes(n: number, sockets: number, coresPerSocket: number): NodeDesc[] {
  const cores = [...Array(sockets * coresPerSocket).keys()];
  const coreSockets = cores.map((c) => Math.floor(c / coresPerSocket));
  return Array.from({ length: n }, (_, rank) => ({ rank, hostname: `node${rank}`, cores, gpus: [], coreSockets }));
}

const ONE_CORE = {
  version: 1,
  resources: [{ type: 'slot', count: 1, label: 'task', with: [{ type: 'core', count: 1 }] }],
  tasks: [{ command: ['true'], slot: 'task', count: { per_slot: 1 } }],
  attributes: { system: { duration: 0 } },
};

/** Allocate one-core jobs until the 256 × 32 graph is full; time each match. */
export function benchMatch(): number[] {
  const m = new Matcher(ResourceGraph.build(synthNodes(256, 2, 16)), parsePolicy('first'));
  const times: number[] = [];
  for (let id = 1n; id <= 8192n; id++) {
    const t = performance.now();
    runMatch(m, 'allocate', id, ONE_CORE, 1000);
    times.push(performance.now() - t);
  }
  return times;
}

function child(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const rss0 = process.memoryUsage().rss;
  const heap0 = process.memoryUsage().heapUsed;
  const builds: number[] = [];
  const kept: ResourceGraph[] = [];
  for (let i = 0; i < 3; i++) {
    kept.length = 0;
    gc?.();
    const t = performance.now();
    kept.push(ResourceGraph.build(synthNodes(16384, 2, 16)));
    builds.push(performance.now() - t);
  }
  gc?.();
  const mu = process.memoryUsage();
  process.send?.({ builds, rss: (mu.rss - rss0) / 2 ** 20, heap: (mu.heapUsed - heap0) / 2 ** 20, vertices: kept[0].size });
}

function bigGraph(): Promise<{ builds: number[]; rss: number; heap: number; vertices: number }> {
  return new Promise((resolve, reject) => {
    const c = fork(__filename, ['--child'], { execArgv: ['--import', 'tsx', '--expose-gc'] });
    c.once('message', (m) => resolve(m as { builds: number[]; rss: number; heap: number; vertices: number }));
    c.once('error', reject);
    c.once('exit', (code) => code !== 0 && reject(new Error(`child exited ${code}`)));
  });
}

export async function benchFluxion(log: (s: string) => void = () => {}): Promise<FluxionResult> {
  log('fluxion: one-core matches on 256 × 32 cores');
  const matchMs = benchMatch();
  const sorted = [...matchMs].sort((a, b) => a - b);
  log('fluxion: 16,384-node graph (child process)');
  const big = await bigGraph();
  log('fluxion: flux start --test-size=4 true, and flux ion-resource match on a live instance');
  const live = await benchLive();
  return {
    ...live,
    matchMs, matchMedianMs: median(matchMs), matchMeanMs: matchMs.reduce((a, b) => a + b, 0) / matchMs.length,
    matchP99Ms: sorted[Math.floor(sorted.length * 0.99)],
    bigBuildMs: big.builds, bigRssMiB: big.rss, bigHeapMiB: big.heap, bigVertices: big.vertices,
  };
}

export function fluxionRows(r: FluxionResult): Row[] {
  return [
    { metric: 'match, one core, 256 nodes × 32 cores (mean)', ours: r.matchMeanMs, runs: `${r.matchMs.length} jobs`, ref: 1.1, note: `median ${r.matchMedianMs.toFixed(3)} ms, p99 ${r.matchP99Ms.toFixed(3)} ms; flux-sched 1.1 ms, goal ≤ 0.5 ms` },
    { metric: '`flux ion-resource match allocate` (CLI)', ours: median(r.cliMs), runs: `${r.cliMs.length} runs`, ref: 186, note: 'spawn → exit on 4 ranks; flux-sched 186 ms (Python start-up), goal ≤ 50 ms' },
    { metric: 'flux start --test-size=4 true, Fluxion', ours: median(r.startMs), runs: `${r.startMs.length} runs`, ref: 1330, note: 'flux-sched + flux-core 1.33 s' },
    { metric: '1,000 real jobs under Fluxion (submit --cc=1-1000 --wait true)', ours: median(r.realJobs), unit: 'rps', runs: `${r.realJobs.length} run`, ref: 47.4, note: 'flux-sched 47.4 jobs/s' },
    { metric: '1,000 simulated jobs under Fluxion (testexec, 1 ms)', ours: median(r.simJobs), unit: 'rps', runs: `${r.simJobs.length} run`, ref: 159, note: 'flux-sched 159 jobs/s (throughput.py)' },
    { metric: 'build a 16,384-node graph', ours: median(r.bigBuildMs), runs: `${r.bigBuildMs.length} runs`, ref: 11_000, note: `${r.bigVertices} vertices; flux-sched 11 s, goal ≤ 3 s` },
    { metric: 'memory of the 16,384-node graph', ours: r.bigRssMiB * 1024, unit: 'kib', runs: '1 run', ref: 1.78 * 1024 * 1024, note: `RSS growth; heap ${r.bigHeapMiB.toFixed(0)} MiB; flux-sched 1.78 GB, goal ≤ 400 MB` },
  ];
}

if (require.main === module) {
  if (process.argv.includes('--child')) child();
  else void benchFluxion((s) => process.stderr.write(`${s}\n`)).then((r) => console.log(JSON.stringify({ ...r, matchMs: undefined }, null, 1)));
}
