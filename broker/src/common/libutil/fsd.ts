/** RFC 23 Flux Standard Duration: `N[ms|s|m|h|d]` (seconds when no unit), or `inf`. */
import { errno, FluxError } from '../libflux/errno';

const UNITS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 };

/** Parse an FSD into seconds; throws FluxError(EINVAL) on bad input. */
export function parseFsd(s: string): number {
  if (s === 'inf' || s === 'infinity' || s === 'INF') return Infinity;
  const m = /^((?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)(ms|s|m|h|d)?$/.exec(s);
  if (!m) throw new FluxError(errno.EINVAL, `invalid duration '${s}'`);
  return Number(m[1]) * UNITS[m[2] ?? 's'];
}

/** C's `%.<p>g`: p significant digits, trailing zeros dropped, exponent form outside 1e-4..1e<p>. */
export function formatG(x: number, p: number): string {
  if (x === 0) return '0';
  const exp = Math.floor(Math.log10(Math.abs(x)));
  if (exp < -4 || exp >= p) {
    const [mant, e] = x.toExponential(p - 1).split('e');
    const m = mant.includes('.') ? mant.replace(/\.?0+$/, '') : mant;
    const n = Number(e);
    return `${m}e${n < 0 ? '-' : '+'}${String(Math.abs(n)).padStart(2, '0')}`;
  }
  const s = x.toFixed(Math.max(0, p - 1 - exp));
  return s.includes('.') ? s.replace(/\.?0+$/, '') : s;
}

/** An FSD for people, as flux-core's fsd_format_duration_ex() writes it (`62.1ms`, `19.4s`, `1.5m`). */
export function formatFsd(seconds: number, precision = 6): string {
  if (seconds === Infinity) return 'infinity';
  if (seconds < 0.1 && seconds !== 0) return `${formatG(seconds * 1000, precision)}ms`;
  if (seconds < 60) return `${formatG(seconds, precision)}s`;
  if (seconds < 3600) return `${formatG(seconds / 60, precision)}m`;
  if (seconds < 86400) return `${formatG(seconds / 3600, precision)}h`;
  return `${formatG(seconds / 86400, precision)}d`;
}
