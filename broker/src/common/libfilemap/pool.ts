/**
 * Bounded concurrency for `flux archive`: a counting semaphore (requests or bytes in flight) and
 * an ordered task pool. One RPC round trip per file, awaited in turn, is what made archiving
 * 1,000 small files take a second: the work is almost all waiting, so many files go at once.
 */

/** A counting semaphore: acquire(n) waits until n units are free (a request larger than the limit waits for all). */
export class Limiter {
  private used = 0;
  private readonly waiting: { n: number; go: () => void }[] = [];

  constructor(private readonly limit: number) {}

  acquire(n = 1): Promise<void> {
    const want = Math.min(n, this.limit);
    if (this.waiting.length === 0 && this.used + want <= this.limit) {
      this.used += want;
      return Promise.resolve();
    }
    return new Promise((go) => this.waiting.push({ n: want, go }));
  }

  release(n = 1): void {
    this.used -= Math.min(n, this.limit);
    // First come, first served: a large request is not starved by small ones behind it.
    while (this.waiting.length > 0 && this.used + this.waiting[0].n <= this.limit) {
      const w = this.waiting.shift() as { n: number; go: () => void };
      this.used += w.n;
      w.go();
    }
  }
}

/**
 * Run task(0..count-1), at most `width` at a time, started in index order. Once one fails no
 * new task starts; after those running have settled, the failure of the lowest index is thrown,
 * so the error reported is the one a one-at-a-time run would have met first among those tried.
 */
export async function runOrdered(count: number, width: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const state: { failed?: { i: number; e: unknown } } = {};
  const worker = async (): Promise<void> => {
    while (next < count && state.failed === undefined) {
      const i = next++;
      try {
        await task(i);
      } catch (e) {
        // (read again: another worker may have failed while this one awaited)
        const f = state.failed as { i: number; e: unknown } | undefined;
        if (f === undefined || i < f.i) state.failed = { i, e };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, count) }, () => worker()));
  if (state.failed !== undefined) throw state.failed.e;
}
