/**
 * The KVS commit-rate client of the benchmark (bundled into out/bench/kvs-commit.js): our
 * counterpart of flux-core's t/kvs/commit, which flux-core-perf.md §c ran as
 * `t/kvs/commit --stats NTHREADS COUNT PREFIX`. Each of `threads` clients (threads there, handles
 * on one event loop here) opens its own connection and then, `count` times, builds a one-key
 * transaction (`PREFIX.RANK.N.I` packed as 42, flux_kvs_txn_pack(txn, 0, key, "i", 42)) and
 * waits for its commit before sending the next. As in t/kvs/commit the clock starts before the
 * connections are opened.
 *
 *   node out/bench/kvs-commit.js URI THREADS COUNT PREFIX [--wait]
 *
 * With --wait it connects once first (to learn the rank), prints `READY`, and starts when a line
 * arrives on stdin, so that the bench can start clients on every rank at the same moment.
 * Prints one line: `KVS_COMMIT {"rank","t0","t1","count","lat":[ms...]}` (epoch ms).
 */
import { Flux } from '../../broker/src/common/libflux/handle';
import { KvsTxn, commit } from '../../broker/src/common/libkvs/client';

function nowEpochMs(): number {
  return performance.timeOrigin + performance.now();
}

async function client(uri: string, rank: number, n: number, count: number, prefix: string, lat: number[]): Promise<void> {
  const h = await Flux.open(uri);
  try {
    for (let i = 0; i < count; i++) {
      const t = performance.now();
      await commit(h, new KvsTxn().pack(`${prefix}.${rank}.${n}.${i}`, 42));
      lat.push(performance.now() - t);
    }
  } finally {
    h.close();
  }
}

function waitLine(): Promise<void> {
  return new Promise((resolve) => {
    process.stdin.once('data', () => resolve());
    process.stdin.once('end', () => resolve());
  });
}

async function main(): Promise<void> {
  const [uri, threadsArg, countArg, prefix] = process.argv.slice(2);
  const threads = Number(threadsArg);
  const count = Number(countArg);
  if (!uri || !(threads > 0) || !(count > 0) || !prefix) throw new Error('usage: kvs-commit URI THREADS COUNT PREFIX [--wait]');
  const h0 = await Flux.open(uri);
  const rank = Number(await h0.getattr('rank'));
  h0.close();
  if (process.argv.includes('--wait')) {
    process.stdout.write('READY\n');
    await waitLine();
    process.stdin.pause();
  }
  const lat: number[] = [];
  const t0 = nowEpochMs();
  await Promise.all(Array.from({ length: threads }, (_, n) => client(uri, rank, n, count, prefix, lat)));
  const t1 = nowEpochMs();
  process.stdout.write(`KVS_COMMIT ${JSON.stringify({ rank, t0, t1, count: threads * count, lat })}\n`, () => process.exit(0));
}

const watchdog = setTimeout(() => {
  process.stderr.write('kvs-commit: not done within 120 s\n');
  process.exit(2);
}, 120_000);
watchdog.unref();

main().catch((e: unknown) => {
  process.stderr.write(`kvs-commit: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
