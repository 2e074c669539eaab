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
