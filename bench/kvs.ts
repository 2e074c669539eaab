/**
 * Area `kvs` (section 6): the KVS next to flux-core-perf.md §c, on one 4-rank instance started
 * with `-S statedir=<temp dir>` (so content-sqlite keeps a real WAL database, as flux-core's
 * instance kept one under /var/tmp), whose initial program waits on our stdin pipe as in
 * instance.ts.
 *
 * What runs, in this order (medians of RUNS runs unless said):
 *  - one `flux kvs put` of 10,000 `benchR.kI=I` (a fresh directory per run, as flux-core's one run);
 *  - one `flux kvs get` of those 10,000 keys (our CLI, one lookup at a time as flux-kvs does), and
 *    the same 10,000 lookups sent at once from one client-API handle on rank 0 and on rank 3
 *    ("we may fetch them in one go");
 *  - commit rate: bench/helpers/kvs-commit (t/kvs/commit's loop: one-key put+commit, wait, next)
 *    with 1 client × 1000 commits, 8 × 100 on rank 0, and 8 × 100 on each of the 4 ranks at once
 *    (four processes that connect, say READY, and start together on GO);
 *  - `for i in $(seq 1 N); do flux kvs put loop.k$i=$i; done` and the same with `get`, N = --kvs-procs
 *    (default 250, scaled to flux-core's 1,000: each process is ~40 ms of mostly Node start-up, and
 *    1,000 of each would take most of this area's time budget);
 *  - start-up of single processes spawned from here: `node -e 0` and `flux kvs get loop.k1`, each
 *    with and without NODE_EXTRA_CA_CERTS (this sandbox sets it; Node then parses the CA bundle at
 *    start-up, ~40 ms a process). Every other CLI row runs WITHOUT it, as flux-core's clean
 *    `env -i` runs had nothing of the kind;
 *  - 100,000 keys (`big.dJ.kI`, 100 directories × 1,000) committed as 10 transactions of 10,000
 *    through the client API, then `flux kvs ls -R big`, then rank 0's VmRSS (broker.pid).
 *
 * Times are spawn -> exit for CLI rows (they include Node's start-up, ~20 ms bare here, against
 * ~4 ms for flux-core's C commands).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Flux } from '../broker/src/common/libflux/handle';
import { KvsTxn, commit, lookup } from '../broker/src/common/libkvs/client';
import * as fc from './flux-core';
import { FLUX_JS, ROOT, bundle, childEnv, run, start, type RunResult } from './proc';
import { vmRssKiB } from './rss';
import { fmtMs, fmtRange, fmtValue, median, type Row } from './stats';

export interface KvsOptions {
  /** Processes in each of the put/get process loops (scaled to 1,000 in the table). */
  procs: number;
  /** Runs per measurement (medians). */
  runs: number;
}

export interface KvsRaw {
  /** ms per run unless the key says otherwise. */
  samples: Record<string, number[]>;
  rssKiB: { idle: number; with100k?: number };
  kvsStats?: unknown;
  load: number[];
}

const SIZE = 4;
const UP_TIMEOUT_MS = 60_000;
const CLI_TIMEOUT_MS = 60_000;
const KEYS = 10_000;
const BIG_KEYS = 100_000;
const BIG_DIRS = 100;
const STARTUP_SAMPLES = 12;

function cliEnv(uri: string, withCa: boolean): NodeJS.ProcessEnv {
  const env = childEnv({ FLUX_URI: uri, PATH: `${path.join(ROOT, 'dist/bin')}:${process.env.PATH ?? ''}` });
  delete env.FLUX_KVS_NAMESPACE;
  if (!withCa) delete env.NODE_EXTRA_CA_CERTS;
  return env;
}

function ms(r: RunResult): number {
  return r.exitedAt - r.spawnedAt;
}

function check(r: RunResult, what: string): RunResult {
  if (r.code !== 0) throw new Error(`${what}: ${r.timedOut ? 'timed out' : `exit ${r.code ?? r.signal}`}: ${r.stderr.trim().slice(-400)}`);
  return r;
}

interface CommitLine {
  rank: number;
  t0: number;
  t1: number;
  count: number;
  lat: number[];
}

function parseCommit(r: RunResult): CommitLine {
  const m = /^KVS_COMMIT (.*)$/m.exec(check(r, 'kvs-commit').stdout);
  if (!m) throw new Error(`kvs-commit printed no result: ${r.stdout.slice(-200)}`);
  return JSON.parse(m[1]) as CommitLine;
}

/** t/kvs/commit on one rank; returns commits/s over the whole run (connections included). */
async function commitRate(helper: string, uri: string, threads: number, count: number, prefix: string): Promise<number> {
  const c = parseCommit(await run(process.execPath, [helper, uri, String(threads), String(count), prefix], { timeoutMs: 120_000 }));
  return (c.count * 1000) / (c.t1 - c.t0);
}

/** Clients on every rank at once: each process connects, says READY, and all start on GO. */
async function commitRateAll(helper: string, uris: string[], threads: number, count: number, prefix: string): Promise<{ total: number; perRank: number[] }> {
  const procs = uris.map((u) => start(process.execPath, [helper, u, String(threads), String(count), prefix, '--wait'], { timeoutMs: 120_000, stdin: 'pipe' }));
  await Promise.all(procs.map((p) => p.waitLine(/^READY$/m, 30_000)));
  for (const p of procs) p.child.stdin?.end('GO\n');
  const lines = (await Promise.all(procs.map((p) => p.done))).map(parseCommit);
  const t0 = Math.min(...lines.map((l) => l.t0));
  const t1 = Math.max(...lines.map((l) => l.t1));
  const total = lines.reduce((s, l) => s + l.count, 0);
  return { total: (total * 1000) / (t1 - t0), perRank: lines.sort((a, b) => a.rank - b.rank).map((l) => (l.count * 1000) / (l.t1 - l.t0)) };
}

/** All `keys` looked up at once on one handle; checks every value. */
async function getAll(h: Flux, prefix: string): Promise<number> {
  const t0 = performance.now();
  const vals = await Promise.all(Array.from({ length: KEYS }, (_, i) => lookup(h, `${prefix}.k${i + 1}`)));
  const t = performance.now() - t0;
  vals.forEach((v, i) => {
    if (v.string() !== String(i + 1)) throw new Error(`${prefix}.k${i + 1} = ${v.string()}`);
  });
  return t;
}

export async function benchKvs(opts: KvsOptions, log: (s: string) => void): Promise<{ rows: Row[]; raw: KvsRaw; problems: string[] }> {
  const helper = await bundle('bench/helpers/kvs-commit.ts', 'kvs-commit');
  const statedir = fs.mkdtempSync(path.join(os.tmpdir(), 'flux-bench-kvs-'));
  const runs = opts.runs;
  const s: Record<string, number[]> = {};
  const add = (k: string, v: number): void => {
    (s[k] ??= []).push(v);
  };
  const raw: KvsRaw = { samples: s, rssKiB: { idle: NaN }, load: [os.loadavg()[0]] };
  const problems: string[] = [];
  const inst = start(process.execPath, [FLUX_JS, 'start', `--test-size=${SIZE}`, '-S', `statedir=${statedir}`, '--', 'sh', '-c', 'echo "BENCH_URI=$FLUX_URI"; exec cat >/dev/null'], {
    timeoutMs: 600_000,
    stdin: 'pipe',
  });
  let h: Flux | undefined;
  let h3: Flux | undefined;
  const t00 = Date.now();
  try {
    const uri = (await inst.waitLine(/^BENCH_URI=(\S+)$/m, UP_TIMEOUT_MS))[1];
    h = await Flux.open(uri);
    const rundir = await h.getattr('rundir');
    const uris = Array.from({ length: SIZE }, (_, r) => `local://${path.join(rundir, `local-${r}`)}`);
    h3 = await Flux.open(uris[3]);
    const pid0 = Number(await h.getattr('broker.pid'));
    raw.rssKiB.idle = vmRssKiB(pid0);
    const env = cliEnv(uri, false);
    const cli = (args: string[], what: string, e = env): Promise<RunResult> =>
      run(process.execPath, [FLUX_JS, 'kvs', ...args], { timeoutMs: CLI_TIMEOUT_MS, env: e }).then((r) => check(r, what));

    // -- one put of 10,000 keys, one get of 10,000 keys
    const putRuns = Math.max(runs, 5);
    for (let r = 0; r < putRuns; r++) {
      const args = Array.from({ length: KEYS }, (_, i) => `bench${r}.k${i + 1}=${i + 1}`);
      add('put10k', ms(await cli(['put', ...args], 'flux kvs put (10,000 keys)')));
    }
    if ((await lookup(h, `bench0.k${KEYS}`)).string() !== String(KEYS)) throw new Error(`bench0.k${KEYS} has the wrong value`);
    log(`kvs: put of ${KEYS} keys: ${s.put10k.map(fmtMs).join(', ')}`);
    const getArgs = Array.from({ length: KEYS }, (_, i) => `bench0.k${i + 1}`);
    for (let r = 0; r < runs; r++) {
      const res = await cli(['get', ...getArgs], 'flux kvs get (10,000 keys)');
      const lines = res.stdout.split('\n');
      if (lines.length !== KEYS + 1 || lines[KEYS - 1] !== String(KEYS)) throw new Error(`flux kvs get printed ${lines.length - 1} lines`);
      add('get10k', ms(res));
    }
    for (let r = 0; r < runs; r++) add('get10kApi0', await getAll(h, `bench${r}`));
    for (let r = 0; r < runs; r++) add('get10kApi3', await getAll(h3, `bench${r}`));
    log(`kvs: get of ${KEYS} keys: CLI ${s.get10k.map(fmtMs).join(', ')}; API at once rank 0 ${s.get10kApi0.map(fmtMs).join(', ')}, rank 3 ${s.get10kApi3.map(fmtMs).join(', ')}`);

    // -- commit rates (t/kvs/commit)
    for (let r = 0; r < runs; r++) add('commit1', await commitRate(helper, uris[0], 1, 1000, `c1r${r}`));
    for (let r = 0; r < runs; r++) add('commit8r0', await commitRate(helper, uris[0], 8, 100, `c8r${r}`));
    const perRank: number[][] = [];
    for (let r = 0; r < runs; r++) {
      const res = await commitRateAll(helper, uris, 8, 100, `cx${r}`);
      add('commit32', res.total);
      perRank.push(res.perRank);
    }
    for (let rank = 0; rank < SIZE; rank++) s[`commit32.rank${rank}`] = perRank.map((p) => p[rank]);
    log(`kvs: commits/s: 1 client ${s.commit1.map((x) => x.toFixed(0)).join(', ')}; 8 on rank 0 ${s.commit8r0.map((x) => x.toFixed(0)).join(', ')}; 8 on each of 4 ranks ${s.commit32.map((x) => x.toFixed(0)).join(', ')}`);

    // -- one process per put / get
    const loop = (cmd: string): Promise<RunResult> =>
      run('sh', ['-c', `for i in $(seq 1 ${opts.procs}); do ${cmd} || exit 1; done`], { timeoutMs: 300_000, env }).then((r) => check(r, `${opts.procs} × ${cmd}`));
    add('putProcs', ms(await loop('flux kvs put loop.k$i=$i')));
    add('getProcs', ms(await loop('flux kvs get loop.k$i >/dev/null')));
    log(`kvs: ${opts.procs} put processes ${fmtMs(s.putProcs[0])}, ${opts.procs} get processes ${fmtMs(s.getProcs[0])}`);

    // -- start-up of one process, with and without NODE_EXTRA_CA_CERTS (interleaved)
    const envCa = cliEnv(uri, true);
    const caSet = envCa.NODE_EXTRA_CA_CERTS !== undefined;
    for (let i = 0; i < STARTUP_SAMPLES; i++) {
      add('nodeBare', ms(check(await run(process.execPath, ['-e', '0'], { timeoutMs: 10_000, env }), 'node -e 0')));
      add('getOne', ms(await cli(['get', 'loop.k1'], 'flux kvs get')));
      if (caSet) {
        add('nodeBareCa', ms(check(await run(process.execPath, ['-e', '0'], { timeoutMs: 10_000, env: envCa }), 'node -e 0')));
        add('getOneCa', ms(await cli(['get', 'loop.k1'], 'flux kvs get', envCa)));
      }
    }
    log(`kvs: one flux kvs get: ${fmtMs(median(s.getOne))} (node -e 0 ${fmtMs(median(s.nodeBare))})${caSet ? `; with NODE_EXTRA_CA_CERTS ${fmtMs(median(s.getOneCa))} (node -e 0 ${fmtMs(median(s.nodeBareCa))})` : ''}`);

    // -- 100,000 keys: populate through the API, ls -R, RSS
    for (let c = 0; c < BIG_KEYS / KEYS; c++) {
      const txn = new KvsTxn();
      for (let i = c * KEYS; i < (c + 1) * KEYS; i++) txn.put(`big.d${i % BIG_DIRS}.k${i}`, String(i));
      const t0 = performance.now();
      await commit(h, txn);
      add('bigCommit', performance.now() - t0);
    }
    for (let r = 0; r < runs; r++) {
      const res = await cli(['ls', '-R', 'big'], 'flux kvs ls -R big');
      if (!res.stdout.includes(`k${BIG_KEYS - 1}`) || !res.stdout.includes(`big.d${BIG_DIRS - 1}:`)) throw new Error('flux kvs ls -R big: keys missing from the output');
      add('lsR100k', ms(res));
    }
    raw.rssKiB.with100k = vmRssKiB(pid0);
    raw.kvsStats = await h.rpc('kvs.stats-get', {}).get().catch(() => undefined);
    log(`kvs: 100,000 keys: commits ${s.bigCommit.map(fmtMs).join(', ')}; ls -R ${s.lsR100k.map(fmtMs).join(', ')}; rank 0 RSS ${fmtValue(raw.rssKiB.idle, 'kib')} idle, ${fmtValue(raw.rssKiB.with100k, 'kib')} with 100,000 keys`);
  } catch (e) {
    problems.push(`kvs: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
    log(`kvs: FAILED: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
  } finally {
    h?.close();
    h3?.close();
    inst.child.stdin?.end();
    const r = await inst.done;
    if (r.code !== 0) problems.push(`kvs: the instance ended with ${r.timedOut ? 'a timeout' : `status ${r.code ?? r.signal}`}: ${r.stderr.trim().slice(-300)}`);
    fs.rmSync(statedir, { recursive: true, force: true });
    raw.load.push(os.loadavg()[0]);
    log(`kvs: done in ${((Date.now() - t00) / 1000).toFixed(0)} s`);
  }
  return { rows: kvsRows(raw, opts), raw, problems };
}

function rangeNote(xs: number[] | undefined, unit: 'ms' | 'rps' = 'ms'): string {
  if (!xs || xs.length === 0) return '';
  if (unit === 'ms') return `runs ${fmtRange(xs)}`;
  return `runs ${fmtValue(Math.min(...xs), 'rps')}–${fmtValue(Math.max(...xs), 'rps')}`;
}

export function kvsRows(raw: KvsRaw, opts: KvsOptions): Row[] {
  const s = raw.samples;
  const n = (k: string): string => `${s[k]?.length ?? 0} runs`;
  const med = (k: string): number | undefined => (s[k]?.length ? median(s[k]) : undefined);
  const scale = 1000 / opts.procs;
  const rows: Row[] = [
    { metric: `flux kvs put of ${KEYS.toLocaleString('en')} keys (one process, one commit)`, ours: med('put10k'), runs: n('put10k'), ref: fc.kvs.put10k, note: `${rangeNote(s.put10k)}; flux-core ${fc.kvs.put10kRange}; spawn -> exit` },
    { metric: `flux kvs get of ${KEYS.toLocaleString('en')} keys (CLI, one lookup at a time)`, ours: med('get10k'), runs: n('get10k'), ref: fc.kvs.get10k, note: rangeNote(s.get10k) },
    { metric: `get of ${KEYS.toLocaleString('en')} keys, all at once (client API, rank 0)`, ours: med('get10kApi0'), runs: n('get10kApi0'), ref: fc.kvs.get10k, note: `${rangeNote(s.get10kApi0)}; ref: flux-core's CLI, one at a time` },
    { metric: `get of ${KEYS.toLocaleString('en')} keys, all at once (client API, rank 3)`, ours: med('get10kApi3'), runs: n('get10kApi3'), ref: fc.kvs.get10kRank3, note: `${rangeNote(s.get10kApi3)}; ref: flux-core \`flux exec -r 3 flux kvs get\`` },
    { metric: 'put+commit loop, 1 client × 1000 (t/kvs/commit 1 1000)', ours: med('commit1'), unit: 'rps', runs: n('commit1'), ref: fc.kvs.commit1, note: `commits/s; ${rangeNote(s.commit1, 'rps')}` },
    { metric: 'put+commit, 8 clients × 100 on rank 0', ours: med('commit8r0'), unit: 'rps', runs: n('commit8r0'), ref: fc.kvs.commit8r0, note: `commits/s; ${rangeNote(s.commit8r0, 'rps')}` },
    {
      metric: 'put+commit, 8 clients × 100 on each of 4 ranks',
      ours: med('commit32'),
      unit: 'rps',
      runs: n('commit32'),
      ref: fc.kvs.commit32,
      note: `commits/s, 3,200 over the wall time of all; ${rangeNote(s.commit32, 'rps')}; per rank (median) ${[0, 1, 2, 3].map((r) => fmtValue(med(`commit32.rank${r}`) ?? NaN, 'rps')).join(' ')}; flux-core ≈750/s each`,
    },
    {
      metric: `1,000 separate flux kvs put processes${opts.procs !== 1000 ? ` (${opts.procs} run, ×${scale.toFixed(scale % 1 ? 2 : 0)})` : ''}`,
      ours: s.putProcs?.length ? s.putProcs[0] * scale : undefined,
      runs: `${opts.procs} procs`,
      ref: fc.kvs.put1000procs,
      note: s.putProcs?.length ? `${fmtMs(s.putProcs[0] / opts.procs)} per process (flux-core 8.3 ms, a C program)` : '',
    },
    {
      metric: `1,000 separate flux kvs get processes${opts.procs !== 1000 ? ` (${opts.procs} run, ×${scale.toFixed(scale % 1 ? 2 : 0)})` : ''}`,
      ours: s.getProcs?.length ? s.getProcs[0] * scale : undefined,
      runs: `${opts.procs} procs`,
      ref: fc.kvs.get1000procs,
      note: s.getProcs?.length ? `${fmtMs(s.getProcs[0] / opts.procs)} per process (flux-core 5.0 ms)` : '',
    },
    { metric: 'one flux kvs get process, spawn -> exit (goal ≤ 50 ms)', ours: med('getOne'), runs: `${s.getOne?.length ?? 0} runs`, ref: fc.kvs.getProcess, note: `without NODE_EXTRA_CA_CERTS; bare \`node -e 0\` ${fmtMs(med('nodeBare') ?? NaN)}; flux-core: 100 × get in 460 ms` },
  ];
  if (s.getOneCa?.length) {
    rows.push({ metric: 'one flux kvs get process, with NODE_EXTRA_CA_CERTS', ours: med('getOneCa'), runs: `${s.getOneCa.length} runs`, ref: fc.kvs.getProcess, note: `this sandbox's setting: every Node process parses the CA bundle; bare \`node -e 0\` ${fmtMs(med('nodeBareCa') ?? NaN)}` });
  }
  rows.push(
    { metric: `commit of ${KEYS.toLocaleString('en')} keys into ${BIG_DIRS} dirs (API, ×10 up to 100,000)`, ours: med('bigCommit'), runs: `${s.bigCommit?.length ?? 0} commits`, note: `${rangeNote(s.bigCommit)}; flux-core: one CLI put into 100 fresh dirs 140–151 ms` },
    { metric: 'flux kvs ls -R of 100,000 keys (100 dirs × 1,000)', ours: med('lsR100k'), runs: n('lsR100k'), note: `${rangeNote(s.lsR100k)}; no flux-core figure (its ls -1 of 10,000 keys: ${fc.kvs.ls10k} ms, dir -R of 10,000: ${fmtMs(fc.kvs.dirR10k)})` },
    { metric: 'rank 0 broker RSS with 100,000 keys', ours: raw.rssKiB.with100k, unit: 'kib', runs: 'after ls -R', note: `idle at start ${fmtValue(raw.rssKiB.idle, 'kib')}; no flux-core figure (its idle rank 0: ${fmtValue(fc.rssKiB.rank0, 'kib')})` },
  );
  return rows;
}
