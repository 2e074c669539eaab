/**
 * RFC 22 idsets: ascending unique non-negative integers written as
 * comma-separated decimals and `a-b` ranges, optionally in brackets: `[0-3,5]`.
 */
import { errno, FluxError } from '../libflux/errno';

const ELEMENT = /^(0|[1-9][0-9]*)(?:-(0|[1-9][0-9]*))?$/;

/** Parse an idset string; throws FluxError(EINVAL) when it is not one. */
export function decodeIdset(s: string): number[] {
  let body = s.trim();
  if (body.startsWith('[') && body.endsWith(']')) body = body.slice(1, -1);
  if (body === '') return [];
  const out = new Set<number>();
  for (const part of body.split(',')) {
    const m = ELEMENT.exec(part);
    if (!m) throw new FluxError(errno.EINVAL, `invalid idset '${s}'`);
    const lo = Number(m[1]);
    const hi = m[2] !== undefined ? Number(m[2]) : lo;
    if (hi < lo || !Number.isSafeInteger(hi)) throw new FluxError(errno.EINVAL, `invalid idset '${s}'`);
    for (let i = lo; i <= hi; i++) out.add(i);
  }
  return [...out].sort((a, b) => a - b);
}

export function isIdset(s: string): boolean {
  try {
    decodeIdset(s);
    return s.trim() !== '';
  } catch {
    return false;
  }
}

/** Encode ids as an RFC 22 string with ranges, e.g. [0,1,2,5] -> "0-2,5". */
export function encodeIdset(ids: Iterable<number>): string {
  const sorted = [...new Set(ids)].sort((a, b) => a - b);
  const parts: string[] = [];
  let i = 0;
  while (i < sorted.length) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    parts.push(j > i ? `${sorted[i]}-${sorted[j]}` : `${sorted[i]}`);
    i = j + 1;
  }
  return parts.join(',');
}
