/**
 * Metric 1: instance start-up and teardown.
 *
 * For each size N (and kary:2 for N=16) and each round (a config may take part in fewer rounds,
 * e.g. N=64 in two and N=256 in one):
 *  - `node dist/flux.js start --test-size=N node out/bench/first-rpc.js`: the bench notes the time
 *    right before spawn() and when `flux start` exits; the initial program reports when it started,
 *    when its attr.get was answered and when it exited (epoch ms, same clock). From these:
 *      until program  = program started  - spawn   (flux-core's "startup": until the initial program runs)
 *      first RPC      = attr.get answered - spawn
 *      teardown       = `flux start` exit - program exiting
 *  - `node dist/flux.js start --test-size=N true`: wall time spawn -> exit (flux-core's section a total).
 * Sizes are interleaved within a round so that machine noise hits them alike. After every run the
 * bench checks that none of the run's broker processes is left (they carry this run's marker).
 */
import * as path from 'node:path';
import * as fc from './flux-core';
import { OUT_DIR, fluxStartArgs, run, waitNoBrokers, type RunResult } from './proc';
import { fmtRange, median, type Row } from './stats';

export interface StartupSamples {
  untilProgram: number[];
  firstRpc: number[];
  teardown: number[];
  total: number[];
  trueTotal: number[];
  /** Runs that failed or hung (killed after the timeout): not in the samples. */
  failures: string[];
  /** Runs after which some of their broker processes were still there 10 s later. */
  unclean: number;
}

export interface StartupConfig {
  label: string;
  size: number;
  topo?: string;
  ref?: fc.Size;
  /** Take part in at most this many rounds (default: all). */
  rounds?: number;
  /** Also time `flux start ... true` (default true). */
  withTrue?: boolean;
  /** A run still going after this is hung (default RUN_TIMEOUT_MS). */
  timeoutMs?: number;
}

/** A healthy N=16 start + teardown takes about 2 s here; a run still going after this is hung. */
const RUN_TIMEOUT_MS = 15_000;

function describe(r: RunResult): string {
  const why = r.timedOut ? 'timed out' : `exit ${r.code ?? r.signal}`;
  return `${why}; stderr: ${r.stderr.trim().slice(-400)}`;
}

interface FirstRpcLine {
  started: number;
  answered: number;
  exiting: number;
  size: string;
}

async function oneFirstRpc(cfg: StartupConfig, s: StartupSamples): Promise<void> {
  const helper = path.join(OUT_DIR, 'first-rpc.js');
  const r = await run(process.execPath, fluxStartArgs(cfg.size, cfg.topo, [process.execPath, helper]), { timeoutMs: cfg.timeoutMs ?? RUN_TIMEOUT_MS });
  const m = /^FIRST_RPC (.*)$/m.exec(r.stdout);
  if (r.code !== 0 || !m) throw new Error(`flux start --test-size=${cfg.size} first-rpc: ${describe(r)}`);
  const t = JSON.parse(m[1]) as FirstRpcLine;
  if (Number(t.size) !== cfg.size) throw new Error(`first-rpc saw size=${t.size}, expected ${cfg.size}`);
  s.untilProgram.push(t.started - r.spawnedAt);
  s.firstRpc.push(t.answered - r.spawnedAt);
  s.teardown.push(r.exitedAt - t.exiting);
  s.total.push(r.exitedAt - r.spawnedAt);
}

async function oneTrue(cfg: StartupConfig, s: StartupSamples): Promise<void> {
  const r = await run(process.execPath, fluxStartArgs(cfg.size, cfg.topo, ['true']), { timeoutMs: cfg.timeoutMs ?? RUN_TIMEOUT_MS });
  if (r.code !== 0) throw new Error(`flux start --test-size=${cfg.size} true: ${describe(r)}`);
  s.trueTotal.push(r.exitedAt - r.spawnedAt);
}

export async function benchStartup(configs: StartupConfig[], rounds: number, log: (s: string) => void): Promise<Map<StartupConfig, StartupSamples>> {
  const empty = (): StartupSamples => ({ untilProgram: [], firstRpc: [], teardown: [], total: [], trueTotal: [], failures: [], unclean: 0 });
  const out = new Map<StartupConfig, StartupSamples>();
  for (const c of configs) out.set(c, empty());
  // A failed or hung run is recorded and the bench goes on.
  const attempt = async (c: StartupConfig, s: StartupSamples, f: (c: StartupConfig, s: StartupSamples) => Promise<void>): Promise<void> => {
    try {
      await f(c, s);
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      s.failures.push(msg);
      log(`startup: FAILED: ${msg}`);
    }
    // `flux start` has exited: every broker of the run must be gone too.
    const left = await waitNoBrokers(10_000);
    if (left.ours.length > 0) {
      s.unclean++;
      log(`startup: ${c.label}: ${left.ours.length} broker process(es) still running after flux start exited`);
    }
  };
  // Warm-up (page cache, node's compile cache): not counted.
  await attempt(configs[0], empty(), oneTrue);
  for (let round = 1; round <= rounds; round++) {
    for (const c of configs) {
      if (round > (c.rounds ?? rounds)) continue;
      const s = out.get(c)!;
      const t0 = Date.now();
      await attempt(c, s, oneFirstRpc);
      if (c.withTrue ?? true) await attempt(c, s, oneTrue);
      if (c.size >= 64) log(`startup: ${c.label} round ${round}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
    log(`startup: round ${round}/${rounds} done`);
  }
  return out;
}

export function startupRows(results: Map<StartupConfig, StartupSamples>): Row[] {
  const rows: Row[] = [];
  for (const [c, s] of results) {
    const runs = `${s.firstRpc.length} run${s.firstRpc.length === 1 ? '' : 's'}`;
    const failed = s.failures.length ? `; ${s.failures.length} run(s) FAILED/hung (of first-rpc + true), not counted` : '';
    const clean = s.unclean > 0 ? `; ${s.unclean} run(s) LEFT BROKERS BEHIND` : '; every broker gone after each run';
    const ref = c.ref;
    rows.push(
      {
        metric: `${c.label}: spawn -> initial program runs`,
        ours: median(s.untilProgram),
        runs,
        ref: ref && fc.startUntilProgram[ref],
        note: fmtRange(s.untilProgram),
      },
      {
        metric: `${c.label}: spawn -> first attr.get answered`,
        ours: median(s.firstRpc),
        runs,
        ref: ref && fc.startUntilProgram[ref],
        note: `${fmtRange(s.firstRpc)}; ${ref ? 'ref = flux-core until program runs' : 'flux-core-perf.md has no figure for this size'}`,
      },
      {
        metric: `${c.label}: teardown (program exit -> flux start exit)`,
        ours: median(s.teardown),
        runs,
        ref: ref && fc.teardown[ref],
        note: fmtRange(s.teardown) + clean + (c.withTrue === false ? failed : ''),
      },
    );
    if (c.withTrue ?? true) {
      rows.push({
        metric: `${c.label}: flux start ... true (total wall)`,
        ours: median(s.trueTotal),
        runs: `${s.trueTotal.length} runs`,
        ref: ref && fc.startTrueTotal[ref],
        note: fmtRange(s.trueTotal) + failed,
      });
    }
  }
  return rows;
}
