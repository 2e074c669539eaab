/**
 * `npm run bench` entry (after `npm run build`): runs every benchmark area and prints one table of
 * our medians next to flux-core's figures (bench/flux-core.ts, from /work/shared/reference/flux-core-perf.md).
 * Raw samples go to bench/results/latest.json (gitignored).
 *
 *   node --import tsx bench/run.ts [--only=startup,ping,activation] [--rounds=N] [--windows=N]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { activationRows, benchActivation, type ActivationResult } from './activation';
import * as fc from './flux-core';
import { benchPingInstance, deepestRank, pingRows, type PingResult } from './ping';
import { BROKER_JS, FLUX_JS, ROOT, bundle, killAll, waitNoBrokers } from './proc';
import { benchStartup, startupRows, type StartupConfig, type StartupSamples } from './startup';
import { renderTable, type Row } from './stats';

/** Hard ceiling for the whole run: kill everything we started and fail rather than hang. */
const DEADLINE_MS = 6 * 60_000;

interface Options {
  only: Set<string>;
  rounds: number;
  windows: number;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { only: new Set(['startup', 'ping', 'activation']), rounds: 5, windows: 3 };
  for (const a of argv) {
    const m = /^--(only|rounds|windows)=(.+)$/.exec(a);
    if (!m) throw new Error(`unknown argument ${a} (expected --only=startup,ping,activation --rounds=N --windows=N)`);
    if (m[1] === 'only') o.only = new Set(m[2].split(','));
    else if (m[1] === 'rounds') o.rounds = Math.max(1, Math.min(50, Number(m[2]) || 1));
    else o.windows = Math.max(1, Math.min(10, Number(m[2]) || 1));
  }
  return o;
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
  const raw: { startup?: unknown; ping?: PingResult[]; activation?: ActivationResult } = {};

  if (opts.only.has('startup')) {
    await bundle('bench/helpers/first-rpc.ts', 'first-rpc');
    const configs: StartupConfig[] = [
      ...fc.SIZES.map((n): StartupConfig => ({ label: `N=${n}`, size: n, ref: n })),
      { label: 'N=16 kary:2', size: 16, topo: 'kary:2' },
    ];
    log(`startup: ${opts.rounds} rounds of ${configs.map((c) => c.label).join(', ')} (first-rpc + true each)`);
    const res = await benchStartup(configs, opts.rounds, log);
    rows.push(section('1. start-up / teardown (default topology kary:32 unless noted)'), ...startupRows(res));
    for (const [c, s] of res) for (const f of s.failures) problems.push(`startup ${c.label}: ${f.split('\n')[0]}`);
    raw.startup = [...res].map(([c, s]): StartupConfig & StartupSamples => ({ ...c, ...s }));
  }

  if (opts.only.has('ping')) {
    log('ping: size 4, default topology');
    const flat = await benchPingInstance(4, undefined, [
      { label: 'rank 0', rank: 0, cli: true },
      { label: 'rank 3', rank: 3, cli: true },
    ], log);
    const deep = deepestRank(16, 'kary:2');
    log(`ping: size 16 kary:2, deepest rank ${deep}`);
    const tree = await benchPingInstance(16, 'kary:2', [{ label: `rank ${deep}`, rank: deep, cli: false }], log);
    raw.ping = [...flat, ...tree];
    rows.push(section('2. RPC round trip, unloaded (one in flight)'), ...pingRows(raw.ping));
  }

  if (opts.only.has('activation')) {
    log(`activation: ${opts.windows} fresh windows in code-server`);
    raw.activation = await benchActivation(opts.windows, log);
    if ('skipped' in raw.activation) log(`activation: ${raw.activation.skipped}`);
    rows.push(section('3. extension activation (no flux-core equivalent)'), ...activationRows(raw.activation));
  }

  const left = await waitNoBrokers(5_000);
  const load1 = os.loadavg()[0];

  const out: string[] = [];
  out.push('');
  out.push(`flux-vscode benchmark: ${os.cpus().length} CPUs, node ${process.version}, load average ${load0.toFixed(2)} at start / ${load1.toFixed(2)} at end, ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  out.push(`flux-core figures: ${fc.FLUX_CORE_MACHINE} (${fc.FLUX_CORE_SOURCE})`);
  out.push('Every metric is a time: lower is better. Ratio = ours / flux-core: below 1.00x we are faster.');
  out.push('');
  out.push(renderTable(rows));
  out.push('');
  if (problems.length > 0) out.push(`Problems seen:\n${problems.map((p) => `  - ${p}`).join('\n')}`, '');
  out.push(
    left.ours.length === 0
      ? `leftover broker processes from this run: none (brokers by name: ${left.all.length === 0 ? 'none at all' : `${left.all.length} from other sessions: ${left.all.join(' ')}`})`
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
