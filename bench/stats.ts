/**
 * Small statistics and formatting helpers shared by the benchmark areas.
 * Figures are times in milliseconds unless a row says otherwise (throughput in RPC/s,
 * memory in KiB).
 */

/** Wall-clock time in milliseconds since the epoch, with sub-millisecond resolution, comparable across processes. */
export function nowEpochMs(): number {
  return performance.timeOrigin + performance.now();
}

export interface Summary {
  n: number;
  min: number;
  max: number;
  mean: number;
  p50: number;
  p99: number;
}

/** Median; the mean of the two middle values for an even count. NaN for no samples. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Nearest-rank percentile (q in 0..1) of already sorted samples. */
export function percentileSorted(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[idx];
}

export function summarize(xs: readonly number[]): Summary {
  const s = [...xs].sort((a, b) => a - b);
  return {
    n: s.length,
    min: s.length ? s[0] : NaN,
    max: s.length ? s[s.length - 1] : NaN,
    mean: s.length ? s.reduce((a, b) => a + b, 0) / s.length : NaN,
    p50: median(s),
    p99: percentileSorted(s, 0.99),
  };
}

/** A duration in a readable unit: µs-level precision below 1 ms, ms below 1 s, else seconds. */
export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  if (ms < 1) return `${ms.toFixed(3)} ms`;
  if (ms < 10) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${ms.toFixed(0)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

/** "min–max" of samples, for the notes column. */
export function fmtRange(xs: readonly number[]): string {
  if (xs.length === 0) return '';
  return `${fmtMs(Math.min(...xs))}–${fmtMs(Math.max(...xs))}`;
}

/** What a row's figures are: a time (ms, lower is better), a rate (RPC/s, higher is better), a size (KiB, lower is better). */
export type Unit = 'ms' | 'rps' | 'kib';

export function fmtValue(v: number, unit: Unit = 'ms'): string {
  if (!Number.isFinite(v)) return '-';
  if (unit === 'rps') return `${v >= 10_000 ? (v / 1000).toFixed(1) + 'k' : v.toFixed(0)}/s`;
  if (unit === 'kib') return `${(v / 1024).toFixed(1)} MiB`;
  return fmtMs(v);
}

/** ours / reference as "0.42x"; "n/a" when there is no reference figure. */
export function fmtRatio(ours: number, ref: number | undefined): string {
  if (ref === undefined || !Number.isFinite(ref) || ref <= 0 || !Number.isFinite(ours)) return 'n/a';
  const r = ours / ref;
  return `${r < 0.1 ? r.toFixed(3) : r.toFixed(2)}x`;
}

/** One row of the final table. Times in ms; `ref` undefined means flux-core has no figure. */
export interface Row {
  metric: string;
  /** Our median (or percentile), in `unit`; undefined when the metric was skipped. */
  ours?: number;
  /** Default 'ms'. For 'rps' a ratio above 1.00x means we are faster. */
  unit?: Unit;
  /** What the "runs" column says: "7 runs", "1000 RPCs". */
  runs: string;
  ref?: number;
  /** Shown instead of a figure when the metric could not be measured. */
  skipped?: string;
  note?: string;
  /** A heading line between groups of rows (only `metric` is shown). */
  section?: boolean;
}

/** Render rows as an aligned plain-text table. */
export function renderTable(rows: readonly Row[]): string {
  const header = ['metric', 'ours (median)', 'n', 'flux-core', 'ours/flux-core', 'notes'];
  const data = rows.filter((r) => !r.section);
  const cells = data.map((r) => [
    r.metric,
    r.skipped !== undefined ? r.skipped : fmtValue(r.ours ?? NaN, r.unit),
    r.skipped !== undefined ? '-' : r.runs,
    r.ref === undefined ? 'n/a' : fmtValue(r.ref, r.unit),
    r.skipped !== undefined ? '-' : fmtRatio(r.ours ?? NaN, r.ref) + (r.unit === 'rps' && r.ref !== undefined ? ' (higher=better)' : ''),
    r.note ?? '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (i === header.length - 1 ? 0 : c[i].length))));
  const line = (c: string[]): string =>
    c.map((s, i) => (i === c.length - 1 ? s : i === 0 ? s.padEnd(widths[i]) : s.padStart(widths[i]))).join('  ').trimEnd();
  const sep = widths.map((w, i) => '-'.repeat(i === widths.length - 1 ? 5 : w)).join('  ');
  const body = rows.map((r) => (r.section ? r.metric : line(cells[data.indexOf(r)])));
  return [line(header), sep, ...body].join('\n');
}
