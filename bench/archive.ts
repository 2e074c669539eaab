/**
 * Area `archive` (section 7): `flux archive` and `flux exec` next to flux-core-perf.md §d and §f,
 * on one 4-rank instance with a temporary statedir, following flux-core's script: data = a
 * 100 MiB random file and 1,000 random files of 64 B–4 KiB; for each, REPS times: drop every
 * rank's content cache, `flux archive create`, extract on rank 0 only, extract on all 4 ranks
 * at once (each into its own directory, through `flux exec -r all sh -c ...`), the same again
 * warm, `flux archive remove`; the bytes are compared on every rank; the same with --mmap
 * (files over 1 KiB served by rank 0 from the file itself). Then `flux exec -r all
 * true` and `flux exec -r 3 true`. CLI rows are spawn -> exit without NODE_EXTRA_CA_CERTS.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Flux } from '../broker/src/common/libflux/handle';
import { FLUX_JS, ROOT, childEnv, run, start, type RunResult } from './proc';
import { fmtRange, median, type Row } from './stats';

const SIZE = 4;
const REPS = 2;
const BIG_MIB = 100;
const SMALL_FILES = 1000;
const EXEC_RUNS = 10;

export interface ArchiveRaw {
  samples: Record<string, number[]>;
  load: number[];
}

function env(uri: string): NodeJS.ProcessEnv {
  const e = childEnv({ FLUX_URI: uri, PATH: `${path.join(ROOT, 'dist/bin')}:${process.env.PATH ?? ''}` });
  delete e.NODE_EXTRA_CA_CERTS;
  return e;
}

async function timed(uri: string, args: string[], what: string): Promise<number> {
  const r: RunResult = await run(process.execPath, [FLUX_JS, ...args], { timeoutMs: 180_000, env: env(uri) });
  if (r.code !== 0) throw new Error(`${what}: exit ${r.code ?? r.signal}: ${r.stderr.trim().slice(-300)}`);
  return r.exitedAt - r.spawnedAt;
}

async function writeData(dir: string): Promise<void> {
  const big = await fs.promises.open(path.join(dir, 'big.bin'), 'w');
  for (let i = 0; i < BIG_MIB; i++) await big.write(randomBytes(1 << 20));
  await big.close();
  await fs.promises.mkdir(path.join(dir, 'small'));
  for (let i = 0; i < SMALL_FILES; i++) {
    await fs.promises.writeFile(path.join(dir, 'small', `f${i}`), randomBytes(64 + Math.floor(Math.random() * 4033)));
  }
}

async function digestTree(p: string): Promise<string> {
  const h = createHash('md5');
  const walk = async (d: string, rel: string): Promise<void> => {
    const st = await fs.promises.stat(d);
    if (st.isDirectory()) {
      for (const n of (await fs.promises.readdir(d)).sort()) await walk(path.join(d, n), `${rel}/${n}`);
    } else {
      h.update(rel).update(await fs.promises.readFile(d));
    }
  };
  await walk(p, '');
  return h.digest('hex');
}

async function dropCaches(h: Flux): Promise<void> {
  for (let r = 0; r < SIZE; r++) await h.rpc('content.dropcache', {}, { nodeid: r }).get();
}

export async function benchArchive(log: (s: string) => void): Promise<{ rows: Row[]; raw: ArchiveRaw; problems: string[] }> {
  const work = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'flux-bench-archive-'));
  const data = path.join(work, 'data');
  await fs.promises.mkdir(data);
  const samples: Record<string, number[]> = {};
  const add = (k: string, v: number): void => {
    (samples[k] ??= []).push(v);
  };
  const problems: string[] = [];
  const load = [os.loadavg()[0]];
  log(`archive: writing ${BIG_MIB} MiB and ${SMALL_FILES} small files`);
  await writeData(data);
  const want = { big: await digestTree(path.join(data, 'big.bin')), small: await digestTree(path.join(data, 'small')) };
  const statedir = path.join(work, 'state');
  const inst = start(process.execPath, [FLUX_JS, 'start', `--test-size=${SIZE}`, '-S', `statedir=${statedir}`, 'sh', '-c', 'echo "BENCH_URI=$FLUX_URI"; exec cat >/dev/null'], {
    timeoutMs: 600_000,
    stdin: 'pipe',
  });
  let h: Flux | undefined;
  try {
    const uri = (await inst.waitLine(/^BENCH_URI=(\S+)$/m, 60_000))[1];
    h = await Flux.open(uri);
    for (let rep = 0; rep < REPS; rep++) {
      for (const what of ['big', 'small', 'mbig', 'msmall'] as const) {
        const mmap = what.startsWith('m');
        const src = what.endsWith('big') ? 'big.bin' : 'small';
        const name = `${what}${rep}`;
        const out = path.join(work, `out-${name}`);
        await dropCaches(h);
        add(`${what}.create`, await timed(uri, ['archive', 'create', ...(mmap ? ['--mmap'] : []), '--name', name, '-C', data, src], `create ${name}`));
        await dropCaches(h);
        await fs.promises.mkdir(path.join(out, 'r0only'), { recursive: true });
        add(`${what}.rank0`, await timed(uri, ['archive', 'extract', '--name', name, '-C', path.join(out, 'r0only')], 'extract rank 0'));
        await dropCaches(h);
        const all = (dir: string): string[] => ['exec', '-r', 'all', 'sh', '-c', `mkdir -p ${dir}/r$(flux getattr rank) && flux archive extract --name ${name} -C ${dir}/r$(flux getattr rank)`];
        add(`${what}.all4`, await timed(uri, all(path.join(out, 'cold')), 'extract all ranks'));
        add(`${what}.all4warm`, await timed(uri, all(path.join(out, 'warm')), 'extract all ranks again'));
        for (let r = 0; r < SIZE; r++) {
          if (await digestTree(path.join(out, 'cold', `r${r}`, src)) !== want[src === 'big.bin' ? 'big' : 'small']) problems.push(`archive ${name}: rank ${r}'s copy differs`);
        }
        add(`${what}.remove`, await timed(uri, ['archive', 'remove', '--name', name], 'remove'));
        await fs.promises.rm(out, { recursive: true, force: true });
        log(`archive: ${name}: create ${samples[`${what}.create`].at(-1)} ms, extract all 4 ${samples[`${what}.all4`].at(-1)} ms`);
      }
    }
    for (let i = 0; i < EXEC_RUNS; i++) {
      add('exec.all', await timed(uri, ['exec', '-r', 'all', 'true'], 'flux exec -r all true'));
      add('exec.r3', await timed(uri, ['exec', '-r', '3', 'true'], 'flux exec -r 3 true'));
    }
  } catch (e) {
    problems.push(`archive: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    h?.close();
    inst.child.stdin?.end();
    await inst.done;
    await fs.promises.rm(work, { recursive: true, force: true });
  }
  load.push(os.loadavg()[0]);
  return { rows: archiveRows(samples), raw: { samples, load }, problems };
}

/** flux-core's figures (flux-core-perf.md §d, §f): the range's midpoint is the reference. */
const REF: Record<string, [number, string]> = {
  'big.create': [1797, 'flux-core 1.79–1.81 s'],
  'big.rank0': [238, 'flux-core 0.20–0.27 s'],
  'big.all4': [1474, 'flux-core 1.32–1.62 s'],
  'big.all4warm': [795, 'flux-core 0.73–0.86 s'],
  'big.remove': [7, 'flux-core 7 ms'],
  'small.create': [206, 'flux-core 0.20–0.21 s'],
  'small.rank0': [193, 'flux-core 0.19 s'],
  'small.all4': [1369, 'flux-core 1.08–1.66 s'],
  'small.all4warm': [1134, 'flux-core 0.60–1.67 s'],
  'small.remove': [21, 'flux-core 20–22 ms'],
  'mbig.create': [1482, 'flux-core 1.48 s'],
  'mbig.rank0': [989, 'flux-core 0.98–0.99 s'],
  'mbig.all4': [3159, 'flux-core 3.10–3.21 s'],
  'mbig.all4warm': [1544, 'flux-core 1.53–1.55 s'],
  'mbig.remove': [7.5, 'flux-core 7–8 ms'],
  'msmall.create': [193, 'flux-core 0.19–0.20 s'],
  'msmall.rank0': [821, 'flux-core 0.74–0.90 s'],
  'msmall.all4': [2264, 'flux-core 2.26–2.27 s'],
  'msmall.all4warm': [1969, 'flux-core 1.96–1.98 s'],
  'msmall.remove': [20.5, 'flux-core 20–21 ms'],
  'exec.r3': [7.4, 'flux-core `flux exec -r 3 true` 7.4 ms'],
};

const LABEL: Record<string, string> = {
  'big.create': `flux archive create, one ${BIG_MIB} MiB file`,
  'big.rank0': '  extract on rank 0 only (cold caches)',
  'big.all4': '  extract on all 4 ranks at once (cold; flux exec -r all)',
  'big.all4warm': '  the same again, caches warm',
  'big.remove': '  flux archive remove',
  'small.create': `flux archive create, ${SMALL_FILES} small files (64 B–4 KiB)`,
  'small.rank0': '  extract on rank 0 only (cold caches)',
  'small.all4': '  extract on all 4 ranks at once (cold)',
  'small.all4warm': '  the same again, caches warm',
  'small.remove': '  flux archive remove',
  'mbig.create': `flux archive create --mmap, one ${BIG_MIB} MiB file`,
  'mbig.rank0': '  extract on rank 0 only (cold caches)',
  'mbig.all4': '  extract on all 4 ranks at once (cold)',
  'mbig.all4warm': '  the same again, caches warm',
  'mbig.remove': '  flux archive remove (unmaps)',
  'msmall.create': `flux archive create --mmap, ${SMALL_FILES} small files`,
  'msmall.rank0': '  extract on rank 0 only (cold caches)',
  'msmall.all4': '  extract on all 4 ranks at once (cold)',
  'msmall.all4warm': '  the same again, caches warm',
  'msmall.remove': '  flux archive remove (unmaps)',
  'exec.all': 'flux exec -r all true (4 ranks)',
  'exec.r3': 'flux exec -r 3 true',
};

export function archiveRows(samples: Record<string, number[]>): Row[] {
  return Object.keys(LABEL).map((k): Row => {
    const xs = samples[k];
    const ref = REF[k];
    if (!xs || xs.length === 0) return { metric: LABEL[k], runs: '', skipped: 'not measured' };
    return { metric: LABEL[k], ours: median(xs), runs: `${xs.length} runs`, ref: ref?.[0], note: `${fmtRange(xs)}${ref ? `; ${ref[1]}` : ''}` };
  });
}
