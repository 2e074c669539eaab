/**
 * A planner: how much of one resource pool is in use over time. Each span
 * holds `amount` units from `start` (inclusive) to `end` (exclusive, may be
 * Infinity for a job without a time limit). Times are seconds. Fluxion keeps
 * one such planner per vertex and aggregates per subtree to prune its search;
 * we keep one per node (cores, GPUs, and a whole-node count) and span lists
 * per leaf.
 */
export interface Span {
  id: bigint;
  start: number;
  end: number;
  amount: number;
}

export class Planner {
  readonly spans: Span[] = [];

  constructor(readonly total: number) {}

  /** Largest amount in use at any instant of [start, end). */
  maxUsed(start: number, end: number): number {
    return maxUsedOf(this.spans, start, end);
  }

  /** Units free throughout [start, end). */
  availDuring(start: number, end: number): number {
    return this.total - this.maxUsed(start, end);
  }

  add(id: bigint, start: number, end: number, amount: number): void {
    if (amount > 0) this.spans.push({ id, start, end, amount });
  }

  remove(id: bigint): void {
    for (let i = this.spans.length - 1; i >= 0; i--) if (this.spans[i].id === id) this.spans.splice(i, 1);
  }

  /** Span ends after `t` (candidate times at which more becomes free). */
  endsAfter(t: number, out: Set<number>): void {
    for (const s of this.spans) if (s.end > t && Number.isFinite(s.end)) out.add(s.end);
  }
}

/** Largest amount a span list holds at any instant of [start, end) (a pool vertex's use). */
export function maxUsedOf(spans: Span[] | undefined, start: number, end: number): number {
  if (!spans) return 0;
  let overlapping: Span[] | undefined;
  for (const s of spans) {
    if (s.start < end && s.end > start) (overlapping ??= []).push(s);
  }
  if (!overlapping) return 0;
  if (overlapping.length === 1) return overlapping[0].amount;
  // The maximum is reached at the window's start or at some span's start inside it.
  let used = 0;
  const points = [start, ...overlapping.filter((s) => s.start > start).map((s) => s.start)];
  for (const p of points) {
    let u = 0;
    for (const s of overlapping) if (s.start <= p && s.end > p) u += s.amount;
    if (u > used) used = u;
  }
  return used;
}

/** Does a span list (a leaf vertex's schedule) leave [start, end) free? */
export function spansFree(spans: Span[] | undefined, start: number, end: number): boolean {
  if (!spans) return true;
  for (const s of spans) if (s.start < end && s.end > start) return false;
  return true;
}
