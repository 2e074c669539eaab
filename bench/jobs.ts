/**
 * Area `jobs` (section 9): job throughput next to flux-core-perf.md §e, each part on a fresh
 * `flux start --test-size=4` with sched-simple, as flux-core's script does:
 *   A. `flux submit --cc=1-1000 --quiet --wait true` (twice), rank 0's RSS before and after
 *   B. `flux submit --cc=1-1000 --quiet true` alone (ingest), then until the 1,000th job is
 *      clean (followed on job-manager.events-journal with the extension's JobsJournal)
 *   C. `flux submit --cc=1-100 -N4 --quiet --wait true` (4-node jobs), then sequential
 *      `flux run true` and `flux run -N4 true` (median of RUNS)
 *   D. simulated execution as flux-core's src/test/throughput.py -n 1000 measures it: 1,000
 *      jobs with `attributes.system.exec.test.run_duration=0.001s` (job-exec's testexec: no
 *      process), submitted and waited for (`--wait`)
 * CLI rows are spawn -> exit of `node dist/flux.js` (NODE_EXTRA_CA_CERTS removed, as in §7).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Flux } from '../broker/src/common/libflux/handle';
import { JobsJournal } from '../extension/src/jobs/jobs-journal';
import { FLUX_JS, ROOT, childEnv, run, start } from './proc';
import { fmtRange, median, type Row } from './stats';

const SIZE = 4;
const RUNS = 10;

export interface JobsRaw {
  samples: Record<string, number[]>;
  rssKiB: Record<string, number>;
  load: number[];
}

function env(uri: string): NodeJS.ProcessEnv {
  const e = childEnv({ FLUX_URI: uri, PATH: `${path.join(ROOT, 'dist/bin')}:${process.env.PATH ?? ''}` });
  delete e.NODE_EXTRA_CA_CERTS;
  return e;
}

async function timed(uri: string, args: string[]): Promise<number> {
  const r = await run(process.execPath, [FLUX_JS, ...args], { timeoutMs: 300_000, env: env(uri) });
  if (r.code !== 0) throw new Error(`flux ${args.join(' ')}: exit ${r.code ?? r.signal}: ${r.stderr.trim().slice(-300)}`);
  return r.exitedAt - r.spawnedAt;
}

async function rank0RssKiB(h: Flux): Promise<number> {
  const pid = (await h.rpc('attr.get', { name: 'broker.pid' }, { nodeid: 0 }).get<{ value: string }>()).value;
  const m = /^VmRSS:\s+(\d+) kB/m.exec(await fs.promises.readFile(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

/**
 * One fresh instance for `body`, stopped afterwards. flux-core's §e figures are sched-simple's:
 * a modprobe file picks it where another scheduler (Fluxion) would be the default.
 */
async function withInstance(body: (uri: string, h: Flux) => Promise<void>): Promise<void> {
  const mp = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'flux-bench-jobs-'));
  await fs.promises.writeFile(path.join(mp, 'sched-simple.toml'), 'alternatives.sched = "sched-simple"\nalternatives.feasibility = "sched-simple"\n');
  const inst = start(process.execPath, [FLUX_JS, 'start', `--test-size=${SIZE}`, 'sh', '-c', 'echo "BENCH_URI=$FLUX_URI"; exec cat >/dev/null'], {
    timeoutMs: 600_000,
    stdin: 'pipe',
    env: childEnv({ FLUX_MODPROBE_PATH: mp }),
  });
  let h: Flux | undefined;
  try {
    const uri = (await inst.waitLine(/^BENCH_URI=(\S+)$/m, 60_000))[1];
    h = await Flux.open(uri);
    const { mods } = await h.rpc('module.list', {}, { nodeid: 0 }).get<{ mods: { name: string }[] }>();
    if (!mods.some((m) => m.name === 'sched-simple')) throw new Error(`sched-simple is not loaded (modules: ${mods.map((m) => m.name).join(' ')})`);
    await body(uri, h);
  } finally {
    h?.close();
    inst.child.stdin?.end();
    await inst.done;
    await fs.promises.rm(mp, { recursive: true, force: true });
  }
}

export async function benchJobs(log: (s: string) => void): Promise<{ rows: Row[]; raw: JobsRaw; problems: string[] }> {
  const samples: Record<string, number[]> = {};
  const rssKiB: Record<string, number> = {};
  const add = (k: string, v: number): void => {
    (samples[k] ??= []).push(v);
  };
  const problems: string[] = [];
  const load = [os.loadavg()[0]];
  const attempt = async (what: string, fn: () => Promise<void>): Promise<void> => {
    try {
      await fn();
    } catch (e) {
      problems.push(`jobs ${what}: ${e instanceof Error ? e.message : String(e)}`);
    }
  };

  await attempt('A (submit --cc=1-1000 --wait)', () => withInstance(async (uri, h) => {
    rssKiB.idle = await rank0RssKiB(h);
    for (let rep = 1; rep <= 2; rep++) {
      const ms = await timed(uri, ['submit', '--cc=1-1000', '--quiet', '--wait', 'true']);
      add('cc1000wait', 1000 / (ms / 1000));
      log(`jobs: rep${rep}: flux submit --cc=1-1000 --quiet --wait true: ${ms} ms => ${(1000 / (ms / 1000)).toFixed(1)} jobs/s`);
      if (rep === 1) rssKiB.after1000 = await rank0RssKiB(h);
    }
    rssKiB.after2000 = await rank0RssKiB(h);
    log(`jobs: rank 0 RSS idle ${rssKiB.idle} KiB, after 1000 jobs ${rssKiB.after1000} KiB, after 2000 ${rssKiB.after2000} KiB`);
  }));

  await attempt('B (submission alone, then drain)', () => withInstance(async (uri, h) => {
    const journal = new JobsJournal();
    void journal.start(h);
    while (!journal.ready) await new Promise((r) => setTimeout(r, 10));
    let cleaned = 0;
    let lastClean = 0;
    let allClean: () => void = () => undefined;
    const drained = new Promise<void>((r) => (allClean = r));
    journal.onEvent((_j, ev) => {
      if (ev.name !== 'clean') return;
      cleaned++;
      lastClean = Date.now();
      if (cleaned === 1000) allClean();
    });
    const t0 = Date.now();
    const ms = await timed(uri, ['submit', '--cc=1-1000', '--quiet', 'true']);
    add('cc1000submit', ms);
    await Promise.race([drained, new Promise((_r, rej) => setTimeout(() => rej(new Error(`only ${cleaned} of 1000 jobs clean after 300 s`)), 300_000))]);
    const drainMs = lastClean - t0;
    add('cc1000drain', 1000 / (drainMs / 1000));
    journal.stop();
    const c = journal.counts();
    if (c.inactive !== 1000) problems.push(`jobs B: the journal model counts ${c.inactive} inactive jobs, not 1000`);
    log(`jobs: submit 1000 (no wait): ${ms} ms; submit+drain: ${drainMs} ms => ${(1000 / (drainMs / 1000)).toFixed(1)} jobs/s`);
  }));

  await attempt('C (-N4 jobs, flux run)', () => withInstance(async (uri) => {
    const ms = await timed(uri, ['submit', '--cc=1-100', '-N4', '--quiet', '--wait', 'true']);
    add('n4', 100 / (ms / 1000));
    log(`jobs: flux submit --cc=1-100 -N4: ${ms} ms => ${(100 / (ms / 1000)).toFixed(1)} jobs/s`);
    await timed(uri, ['run', 'true']); // warm-up (page cache, code cache)
    for (let i = 0; i < RUNS; i++) add('run', await timed(uri, ['run', 'true']));
    for (let i = 0; i < RUNS; i++) add('runN4', await timed(uri, ['run', '-N4', 'true']));
    log(`jobs: flux run true: median ${median(samples.run)} ms; flux run -N4 true: median ${median(samples.runN4)} ms`);
  }));

  await attempt('D (simulated execution)', () => withInstance(async (uri) => {
    for (let rep = 1; rep <= 2; rep++) {
      const ms = await timed(uri, ['submit', '--cc=1-1000', '--quiet', '--wait', '--setattr=system.exec.test.run_duration=0.001s', 'true']);
      add('sim', 1000 / (ms / 1000));
      log(`jobs: rep${rep}: 1000 simulated jobs (testexec, 1 ms): ${ms} ms => ${(1000 / (ms / 1000)).toFixed(1)} jobs/s`);
    }
  }));

  load.push(os.loadavg()[0]);
  return { rows: jobsRows(samples, rssKiB), raw: { samples, rssKiB, load }, problems };
}

/** flux-core's figures (flux-core-perf.md §e and Memory). */
const REF = {
  cc1000wait: 46.55, // 47.5 and 45.6 jobs/s
  cc1000submit: 1684,
  cc1000drain: 47.4,
  n4: 15.4,
  run: 168.6,
  runN4: 193.7,
  sim: 153.5, // throughput.py -n 1000: 153.4–153.7 jobs/s
  rssAfter1000: 438_572,
  rssIdle: 15_860,
};

export function jobsRows(samples: Record<string, number[]>, rss: Record<string, number>): Row[] {
  const rate = (k: keyof typeof REF & string, metric: string, note: string): Row => {
    const xs = samples[k];
    if (!xs || xs.length === 0) return { metric, runs: '', skipped: 'not measured' };
    return { metric, ours: median(xs), unit: 'rps', runs: `${xs.length} run${xs.length === 1 ? '' : 's'}`, ref: REF[k], note: `${xs.map((x) => x.toFixed(1)).join(', ')} jobs/s; ${note}` };
  };
  const time = (k: keyof typeof REF & string, metric: string, note: string): Row => {
    const xs = samples[k];
    if (!xs || xs.length === 0) return { metric, runs: '', skipped: 'not measured' };
    return { metric, ours: median(xs), runs: `${xs.length} run${xs.length === 1 ? '' : 's'}`, ref: REF[k], note: `${fmtRange(xs)}; ${note}` };
  };
  const rows: Row[] = [
    rate('cc1000wait', 'flux submit --cc=1-1000 --quiet --wait true (jobs/s)', 'flux-core 45.6–47.5 jobs/s'),
    time('cc1000submit', '  submission alone: flux submit --cc=1-1000 --quiet true', 'flux-core 1.68 s (595 jobs/s)'),
    rate('cc1000drain', '  submission + drain, until the 1,000th job is clean (jobs/s)', 'flux-core 47.4 jobs/s'),
    rate('n4', 'flux submit --cc=1-100 -N4 --wait true (4-node jobs, jobs/s)', 'flux-core 15.4 jobs/s'),
    time('run', 'flux run true (sequential, one at a time)', 'flux-core 168.6 ms'),
    time('runN4', 'flux run -N4 true', 'flux-core 193.7 ms'),
    rate('sim', 'simulated execution, 1,000 testexec jobs of 1 ms (jobs/s)', 'flux-core throughput.py -n 1000: 153.4–153.7 jobs/s'),
  ];
  if (Number.isFinite(rss.after1000)) {
    rows.push({ metric: 'rank 0 RSS after 1,000 jobs', ours: rss.after1000, unit: 'kib', runs: '1 run', ref: REF.rssAfter1000,
      note: `idle ${(rss.idle / 1024).toFixed(1)} MiB, after 2,000 ${(rss.after2000 / 1024).toFixed(1)} MiB; flux-core 438 MiB (idle 15.9 MiB)` });
    rows.push({ metric: '  growth over idle (1,000 jobs)', ours: rss.after1000 - rss.idle, unit: 'kib', runs: '1 run', ref: REF.rssAfter1000 - REF.rssIdle,
      note: 'goal: a tenth of flux-core\'s' });
  } else rows.push({ metric: 'rank 0 RSS after 1,000 jobs', runs: '', skipped: 'not measured' });
  return rows;
}
