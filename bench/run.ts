/**
 * `npm run bench` entry (after `npm run build`): runs every benchmark area and prints one table of
 * our medians next to flux-core's figures (bench/flux-core.ts, from /work/shared/reference/flux-core-perf.md).
 * Raw samples go to bench/results/latest.json (gitignored).
 *
 *   node --import tsx bench/run.ts [--quick] [--only=startup,ping,activation,kvs,archive,tbon,lsp,jobs,fluxion] [--sizes=1,4,16,64]
 *                                  [--once=256] [--rounds=N] [--windows=N] [--kvs-procs=N] [--kvs-runs=N]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { activationRows, benchActivation, type ActivationResult } from './activation';
import * as fc from './flux-core';
import { benchInstance, type InstanceResult, type InstanceTarget } from './instance';
import { benchArchive, type ArchiveRaw } from './archive';
import { benchJobs, type JobsRaw } from './jobs';
import { benchKvs, type KvsRaw } from './kvs';
import { benchFluxion, fluxionRows, type FluxionResult } from './fluxion';
import { benchLsp, lspRows, type LspResult } from './lsp';
import { benchTbon, tbonRows, type TbonResult } from './tbon';
import { deepestRank, pingRows, type PingResult } from './ping';
import { BROKER_JS, FLUX_JS, ROOT, bundle, killAll, waitNoBrokers } from './proc';
import { rssRows, type RssResult } from './rss';
import { benchStartup, startupRows, type StartupConfig, type StartupSamples } from './startup';
import { renderTable, type Row } from './stats';
import { throughputRows, type ThroughputResult } from './throughput';

/** Hard ceiling for the whole run: kill everything we started and fail rather than hang. */
const DEADLINE_MS = 12 * 60_000;

interface Options {
  only: Set<string>;
  /** Sizes measured in every area (start-up rounds, ping, throughput, RSS). */
  sizes: number[];
  /** Sizes started once only (start-up, first RPC, teardown, clean exit, RSS). */
  once: number[];
  rounds: number;
  windows: number;
  /** kvs area: processes per put/get loop, and runs per measurement. */
  kvsProcs: number;
  kvsRuns: number;
}

const USAGE = 'expected --quick --only=startup,ping,activation,kvs,archive,tbon,lsp,jobs,fluxion --sizes=1,4,16,64 --once=256 --rounds=N --windows=N --kvs-procs=N --kvs-runs=N';

function sizeList(v: string): number[] {
  if (v === '' || v === 'none') return [];
  return v.split(',').map((x) => {
    const n = Number(x);
    if (!Number.isInteger(n) || n < 1 || n > 1024) throw new Error(`bad size ${x} (${USAGE})`);
    return n;
  });
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    only: new Set(['startup', 'ping', 'activation', 'kvs', 'archive', 'tbon', 'jobs', 'lsp', 'fluxion']), sizes: [1, 4, 16, 64], once: [256], rounds: 5, windows: 3, kvsProcs: 250, kvsRuns: 3,
  };
  for (const a of argv) {
    if (a === '--quick') {
      // About 30 s: the sizes flux-core has figures for, two start-up rounds, no editor.
      Object.assign(o, { only: new Set(['startup', 'ping']), sizes: [1, 4], once: [], rounds: 2 });
      continue;
    }
    const m = /^--(only|sizes|once|rounds|windows|kvs-procs|kvs-runs)=(.*)$/.exec(a);
    if (!m) throw new Error(`unknown argument ${a} (${USAGE})`);
    if (m[1] === 'only') o.only = new Set(m[2].split(','));
    else if (m[1] === 'kvs-procs') o.kvsProcs = Math.max(1, Math.min(1000, Number(m[2]) || 1));
    else if (m[1] === 'kvs-runs') o.kvsRuns = Math.max(1, Math.min(20, Number(m[2]) || 1));
    else if (m[1] === 'sizes') o.sizes = sizeList(m[2]);
    else if (m[1] === 'once') o.once = sizeList(m[2]);
    else if (m[1] === 'rounds') o.rounds = Math.max(1, Math.min(50, Number(m[2]) || 1));
    else o.windows = Math.max(1, Math.min(10, Number(m[2]) || 1));
  }
  return o;
}

/** Start-up rounds for a size: big instances take seconds each, so fewer rounds. */
function roundsFor(size: number, rounds: number): number {
  return size >= 64 ? Math.min(rounds, 2) : rounds;
}

/** Rank 0 and the deepest rank of the default topology (one target for N=1). */
function targetsFor(size: number): InstanceTarget[] {
  const deep = deepestRank(size, 'kary:32');
  const t: InstanceTarget[] = [{ label: 'rank 0', rank: 0, cli: size === 4 }];
  if (deep !== 0) t.push({ label: `deepest rank ${deep}`, rank: deep, cli: size === 4 });
  return t;
}

const t0 = Date.now();
function log(s: string): void {
  process.stderr.write(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)} s] ${s}\n`);
}

function section(title: string): Row {
  return { metric: `-- ${title}`, runs: '', section: true };
}

async function main(): Promise<number> {
  const opts = parseArgs(process.argv.slice(2));
  for (const f of [FLUX_JS, BROKER_JS]) if (!fs.existsSync(f)) throw new Error(`${f} is missing: run \`npm run build\``);
  const load0 = os.loadavg()[0];
  const rows: Row[] = [];
  const problems: string[] = [];
  const raw: { startup?: unknown; ping?: PingResult[]; throughput?: ThroughputResult[]; rss?: RssResult[]; activation?: ActivationResult; kvs?: KvsRaw; archive?: ArchiveRaw; tbon?: TbonResult; jobs?: JobsRaw; lsp?: LspResult; fluxion?: FluxionResult } = {};

  if (opts.only.has('startup')) {
    await bundle('bench/helpers/first-rpc.ts', 'first-rpc');
    const configs: StartupConfig[] = [
      ...opts.sizes.map((n): StartupConfig => ({ label: `N=${n}`, size: n, ref: fc.isRefSize(n) ? n : undefined, rounds: roundsFor(n, opts.rounds), timeoutMs: n >= 64 ? 120_000 : undefined })),
      ...(opts.sizes.includes(16) ? [{ label: 'N=16 kary:2', size: 16, topo: 'kary:2' }] : []),
      ...opts.once.map((n): StartupConfig => ({ label: `N=${n} (once)`, size: n, rounds: 1, withTrue: false, timeoutMs: 300_000 })),
    ];
    log(`startup: ${opts.rounds} rounds of ${configs.map((c) => `${c.label}${c.rounds !== undefined && c.rounds < opts.rounds ? ` (${c.rounds})` : ''}`).join(', ')} (first-rpc + true each)`);
    const res = await benchStartup(configs, opts.rounds, log);
    rows.push(section('1. start-up / teardown (default topology kary:32 unless noted)'), ...startupRows(res));
    for (const [c, s] of res) for (const f of s.failures) problems.push(`startup ${c.label}: ${f.split('\n')[0]}`);
    for (const [c, s] of res) if (s.unclean > 0) problems.push(`startup ${c.label}: ${s.unclean} run(s) left broker processes behind`);
    raw.startup = [...res].map(([c, s]): StartupConfig & StartupSamples => ({ ...c, ...s }));
  }

  if (opts.only.has('ping')) {
    const results: InstanceResult[] = [];
    for (const n of opts.sizes) {
      log(`instance: size ${n}, default topology: RSS, ping and pipelined RPCs to ${targetsFor(n).map((t) => t.rank).join(', ')}`);
      results.push(await benchInstance({ size: n, targets: targetsFor(n), throughput: true, rss: true }, log));
    }
    if (opts.sizes.includes(16)) {
      const deep = deepestRank(16, 'kary:2');
      log(`instance: size 16 kary:2, deepest rank ${deep}`);
      results.push(await benchInstance({ size: 16, topo: 'kary:2', targets: [{ label: `deepest rank ${deep}`, rank: deep, cli: false }], throughput: true, rss: false }, log));
    }
    for (const n of opts.once) {
      // Memory of a big instance, once (no RPC loops: they would say nothing new).
      log(`instance: size ${n}, RSS only`);
      results.push(await benchInstance({ size: n, targets: [], throughput: false, rss: true }, log));
    }
    raw.ping = results.flatMap((r) => r.pings);
    raw.throughput = results.flatMap((r) => r.tput);
    raw.rss = results.flatMap((r) => (r.rss ? [r.rss] : []));
    rows.push(section('2. RPC round trip, unloaded (one in flight; 1000 after warm-up)'), ...pingRows(raw.ping));
    rows.push(section('3. pipelined RPCs (1000 sent, then 1000 received; higher is better)'), ...throughputRows(raw.throughput));
    rows.push(section('4. memory: RSS per broker process (VmRSS of broker.pid on each rank)'), ...rssRows(raw.rss));
  }

  if (opts.only.has('activation')) {
    log(`activation: ${opts.windows} fresh windows in code-server`);
    raw.activation = await benchActivation(opts.windows, log);
    if ('skipped' in raw.activation) log(`activation: ${raw.activation.skipped}`);
    rows.push(section('5. extension activation (no flux-core equivalent)'), ...activationRows(raw.activation));
  }

  if (opts.only.has('kvs')) {
    log(`kvs: 4 ranks with a statedir; ${opts.kvsRuns} runs each, ${opts.kvsProcs} processes per CLI loop`);
    const res = await benchKvs({ procs: opts.kvsProcs, runs: opts.kvsRuns }, log);
    raw.kvs = res.raw;
    problems.push(...res.problems);
    rows.push(section(`6. KVS on 4 ranks (statedir in a temp dir; load average ${res.raw.load.map((x) => x.toFixed(2)).join(' -> ')})`), ...res.rows);
  }

  if (opts.only.has('archive')) {
    log('archive: 4 ranks with a statedir; flux archive and flux exec as flux-core-perf.md §d/§f');
    const res = await benchArchive(log);
    raw.archive = res.raw;
    problems.push(...res.problems);
    rows.push(section(`7. flux archive and flux exec on 4 ranks (load average ${res.raw.load.map((x) => x.toFixed(2)).join(' -> ')})`), ...res.rows);
  }

  if (opts.only.has('tbon')) {
    log('tbon: the TBON panel\'s webview in chromium, first paint of kary:32 trees');
    const res = await benchTbon([4, 64, 1024], opts.rounds, log);
    raw.tbon = res;
    rows.push(section('8. TBON panel (webview bundle in chromium)'), ...tbonRows(res));
  }

  if (opts.only.has('jobs')) {
    log('jobs: fresh 4-rank instances; flux submit/run as flux-core-perf.md §e');
    const res = await benchJobs(log);
    raw.jobs = res.raw;
    problems.push(...res.problems);
    rows.push(section(`10. jobs on 4 ranks, sched-simple (load average ${res.raw.load.map((x) => x.toFixed(2)).join(' -> ')})`), ...res.rows);
  }

  if (opts.only.has('lsp')) {
    log('lsp: the jobspec language server (dist/server.js over IPC)');
    raw.lsp = await benchLsp(opts.rounds, log);
    rows.push(section('10. jobspec language server (no flux-core equivalent; target: 5,000 lines < 100 ms)'), ...lspRows(raw.lsp));
  }

  if (opts.only.has('fluxion')) {
    log('fluxion: libfluxion in process (flux-sched figures: flux-core-perf.md §h)');
    raw.fluxion = await benchFluxion(log);
    rows.push(section('11. Fluxion resource graph and matcher (flux-sched 0.54 on this machine)'), ...fluxionRows(raw.fluxion));
  }

  const left = await waitNoBrokers(5_000);
  const load1 = os.loadavg()[0];

  const out: string[] = [];
  out.push('');
  out.push(`flux-vscode benchmark: ${os.cpus().length} CPUs, node ${process.version}, load average ${load0.toFixed(2)} at start / ${load1.toFixed(2)} at end, ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  out.push(`flux-core figures: ${fc.FLUX_CORE_MACHINE} (${fc.FLUX_CORE_SOURCE})`);
  out.push('Ratio = ours / flux-core. Times and memory: below 1.00x we are faster/smaller. Throughput (RPC/s): above 1.00x we are faster.');
  out.push('');
  out.push(renderTable(rows));
  out.push('');
  if (problems.length > 0) out.push(`Problems seen:\n${problems.map((p) => `  - ${p}`).join('\n')}`, '');
  out.push(
    left.ours.length === 0
      ? `leftover broker processes from this run: none (brokers by name: ${left.all.length === 0 ? 'none at all' : `${left.all.length} from other sessions, e.g. ${left.all.slice(0, 8).join(' ')}`})`
      : `LEFTOVER broker processes from this run: ${left.ours.join(' ')}`,
  );
  process.stdout.write(out.join('\n') + '\n');

  const resultsDir = path.join(ROOT, 'bench/results');
  fs.mkdirSync(resultsDir, { recursive: true });
  fs.writeFileSync(path.join(resultsDir, 'latest.json'), JSON.stringify({ date: new Date().toISOString(), load: [load0, load1], rows, raw }, null, 2));
  return left.ours.length === 0 ? 0 : 1;
}

const deadline = setTimeout(() => {
  log(`bench: exceeded ${DEADLINE_MS / 1000} s, killing everything`);
  killAll();
  process.exit(3);
}, DEADLINE_MS);
deadline.unref();

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    killAll();
    process.exit(130);
  });
}

main().then(
  (code) => {
    killAll();
    process.exit(code);
  },
  (e: unknown) => {
    killAll();
    log(`bench: FAILED: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
    process.exit(1);
  },
);
