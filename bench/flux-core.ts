/**
 * flux-core's reference figures, copied from /work/shared/reference/flux-core-perf.md
 * (flux-core v0.88.0 built from source, KVM guest with 2 vCPU AMD EPYC, Debian 12,
 * unloaded machine, `env -i ... SHLVL=1`). All values in milliseconds.
 */
export const FLUX_CORE_SOURCE = '/work/shared/reference/flux-core-perf.md';
export const FLUX_CORE_MACHINE = 'flux-core 0.88.0, 2 vCPU EPYC KVM guest, unloaded';

/** The sizes flux-core-perf.md has start-up figures for (none for 64 or 256). */
export type Size = 1 | 4 | 16;
export const SIZES: readonly Size[] = [1, 4, 16];

export function isRefSize(n: number): n is Size {
  return (SIZES as readonly number[]).includes(n);
}

/**
 * Section a. `/usr/bin/time flux start --test-size=N true`, median of 5 runs
 * (1.00–1.03 / 1.56–1.62 / 3.61–3.79 s).
 */
export const startTrueTotal: Record<Size, number> = { 1: 1020, 4: 1570, 16: 3680 };

/**
 * Section a, split (scripts/perf-a2-split.sh, `t1=$(flux start --test-size=N date +%s.%N)`),
 * medians of the 3 raw runs: spawn of `flux start` until the initial program runs ...
 */
export const startUntilProgram: Record<Size, number> = { 1: 370, 4: 689, 16: 1907 };
/** ... and from the initial program's output until `flux start` has exited. */
export const teardown: Record<Size, number> = { 1: 619, 4: 865, 16: 1879 };

/** Section b, unloaded RPC round trips (default kary:32 topology, test-size=4: rank 3 is one hop from rank 0). */
export const ping = {
  /** Python client, `flux.Flux().rpc('broker.ping', ...).get()` in a loop, n=1000, rank 0. */
  pyBrokerR0: { p50: 0.111, p99: 0.138 },
  /** Same loop, broker.ping on rank 3 (one TBON hop). */
  pyBrokerR3: { p50: 0.327, p99: 0.381 },
  /** `flux ping --count=1000 --interval=0.001 kvs` (kvs.ping on rank 0; flux-core has no `flux ping 0` figure). */
  cliKvsR0: { p50: 0.155, p99: 0.23 },
  /** `flux ping --count=1000 --interval=0.001 3` (broker.ping on rank 3). */
  cliBrokerR3: { p50: 0.33, p99: 0.466 },
} as const;

/**
 * Section b, many requests in flight, inside `flux start --test-size=4` (flat tree). `--batch`
 * sends all 1000 requests before reading any reply, as our pipelined measurement does; `wall`
 * is the whole `flux ping` run (its ~4 ms process start-up included), so 1000 / wall is an RPC/s
 * figure slightly in flux-core's disfavour. flux-core measured kvs.ping (`--batch` was not run
 * against broker.ping); the `--interval=0` broker.ping runs (requests queued by a 0 s timer,
 * replies read meanwhile) are in the notes.
 */
export const pipelined = {
  /** `flux ping --count=1000 --interval=0 --batch kvs`: wall 97 ms. */
  batchKvsR0: 1000 / 0.097,
  /** `flux ping --count=1000 --interval=0 --batch 3!kvs`: wall 125 ms. */
  batchKvsR3: 1000 / 0.125,
  /** `flux ping --count=1000 --interval=0 0`: wall 50 ms. */
  i0BrokerR0: 1000 / 0.05,
  /** `flux ping --count=1000 --interval=0 3`: wall 78 ms. */
  i0BrokerR3: 1000 / 0.078,
} as const;

/**
 * Section "Memory": idle `flux start --test-size=4`, broker RSS in KiB. flux-core's rank 0 runs
 * its ~19 modules as threads (sched-simple, a Python process of 26 MiB, not counted).
 */
export const rssKiB = {
  rank0: 15860,
  /** Ranks 1-3: 11756, 11764, 11740. */
  follower: 11756,
} as const;

/**
 * Section c, KVS, inside `flux start --test-size=4` (content-sqlite under /var/tmp). Times in ms,
 * rates in commits/s. Where the anchor gives two runs, the first figure is the one quoted in the
 * summary table and the range goes in the notes.
 */
export const kvs = {
  /** `flux kvs put $(10,000 bench.k$i=$i)`: one process, one commit, one directory (149–165 ms). */
  put10k: 165,
  put10kRange: '149–165 ms',
  /** `flux kvs get $(10,000 keys)` on rank 0: one lookup at a time (1171, 1197 ms). */
  get10k: 1171,
  /** The same through `flux exec -r 3` (leaf rank 3): 1796, 1812 ms. */
  get10kRank3: 1796,
  /** `t/kvs/commit --stats 1 1000 c1`: 319.2/s (earlier 328.9/s). */
  commit1: 319.2,
  /** `t/kvs/commit --stats 8 100 c8` on rank 0: 2432.6/s (earlier 2628.3/s). */
  commit8r0: 2432.6,
  /** `flux exec -r all t/kvs/commit --stats 8 100 cx.$rank`: 3,200 commits in 1124 ms wall. */
  commit32: 3200 / 1.124,
  /** `for i in $(seq 1 1000); do flux kvs put loop.k$i=$i; done`: 8278 ms (8088 ms). */
  put1000procs: 8278,
  /** `for i in $(seq 1 1000); do flux kvs get loop.k$i; done`: 4990 ms. */
  get1000procs: 4990,
  /** `100 x flux kvs get bench.k1 -> 460 ms`: one `flux kvs get` process. */
  getProcess: 4.6,
  /** `flux kvs ls -1 bench` (10,000 keys, one directory): 55 ms; no 100,000-key figure. */
  ls10k: 55,
  /** `flux kvs dir -R bench2` (10,000 keys in 100 directories, values printed): 1310 ms. */
  dirR10k: 1310,
} as const;
