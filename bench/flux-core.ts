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
