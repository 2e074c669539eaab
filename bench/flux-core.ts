/**
 * flux-core's reference figures, copied from /work/shared/reference/flux-core-perf.md
 * (flux-core v0.88.0 built from source, KVM guest with 2 vCPU AMD EPYC, Debian 12,
 * unloaded machine, `env -i ... SHLVL=1`). All values in milliseconds.
 */
export const FLUX_CORE_SOURCE = '/work/shared/reference/flux-core-perf.md';
export const FLUX_CORE_MACHINE = 'flux-core 0.88.0, 2 vCPU EPYC KVM guest, unloaded';

export type Size = 1 | 4 | 16;
export const SIZES: readonly Size[] = [1, 4, 16];

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
