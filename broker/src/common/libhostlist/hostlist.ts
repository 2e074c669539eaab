/**
 * RFC 29 hostlists: `node[1-4,7],login0` ↔ an ordered list of host names.
 * Encoding keeps the list's order and only folds neighbours that share a
 * prefix and end in a number (`foo-1a-2,foo-1a-3` → `foo-1a-[2-3]`), as
 * flux-core's libhostlist does; names that differ only in a non-numeric
 * suffix stay spelled out (`foo1-bar,foo3-bar`), and repeated names stay
 * repeated (`vm,vm,vm,vm`, as a test instance's `hostlist` attribute shows).
 */
import { errno, FluxError } from '../libflux/errno';

/** flux-core refuses ranges larger than this (ERANGE). */
const MAX_RANGE = 1 << 20;

interface Parsed {
  prefix: string;
  /** Trailing number, if the name ends in digits. */
  num?: number;
  /** Zero-padded width (0 = not padded). */
  width: number;
}

function splitName(host: string): Parsed {
  const m = /^(.*?)(\d+)$/.exec(host);
  if (!m) return { prefix: host, width: 0 };
  const digits = m[2];
  return { prefix: m[1], num: Number(digits), width: digits.length > 1 && digits.startsWith('0') ? digits.length : 0 };
}

function pad(n: number, width: number): string {
  return width > 0 ? String(n).padStart(width, '0') : String(n);
}

function invalid(): never {
  throw new FluxError(errno.EINVAL);
}

/** Split on commas that are not inside brackets. */
function topLevelParts(s: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '[') {
      if (depth > 0) invalid();
      depth++;
    } else if (ch === ']') {
      if (depth === 0) invalid();
      depth--;
    }
    if (ch === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else {
      cur += ch;
    }
  }
  if (depth !== 0) invalid();
  parts.push(cur);
  return parts.filter((p) => p !== '');
}

/** Decode a hostlist; throws FluxError EINVAL (bad syntax) or ERANGE (range too large). */
export function decodeHostlist(s: string): string[] {
  const out: string[] = [];
  for (const part of topLevelParts(s.trim())) {
    const open = part.indexOf('[');
    if (open < 0) {
      if (part.includes(']')) invalid();
      out.push(part);
      continue;
    }
    const close = part.indexOf(']', open);
    const prefix = part.slice(0, open);
    const suffix = part.slice(close + 1);
    if (suffix.includes('[') || suffix.includes(']')) invalid();
    const body = part.slice(open + 1, close);
    if (body === '') invalid();
    for (const r of body.split(',')) {
      const m = /^(\d+)(?:-(\d+))?$/.exec(r);
      if (!m) invalid();
      const lo = Number(m[1]);
      const hi = m[2] === undefined ? lo : Number(m[2]);
      if (hi < lo) invalid();
      if (hi - lo >= MAX_RANGE) throw new FluxError(errno.ERANGE);
      const width = m[1].length > 1 && m[1].startsWith('0') ? m[1].length : 0;
      for (let n = lo; n <= hi; n++) out.push(prefix + pad(n, width) + suffix);
    }
  }
  return out;
}

/** Encode names in order, folding numbered neighbours with a common prefix into ranges. */
export function encodeHostlist(hosts: readonly string[]): string {
  const groups: { prefix: string; width: number; nums: number[]; plain?: string }[] = [];
  for (const h of hosts) {
    if (h === '') continue;
    const p = splitName(h);
    const last = groups.at(-1);
    if (p.num !== undefined && last && last.plain === undefined && last.prefix === p.prefix && compatible(last.width, p)) {
      last.nums.push(p.num);
      if (p.width > last.width) last.width = p.width;
    } else if (p.num !== undefined) {
      groups.push({ prefix: p.prefix, width: p.width, nums: [p.num] });
    } else {
      groups.push({ prefix: p.prefix, width: 0, nums: [], plain: h });
    }
  }
  return groups.map((g) => {
    if (g.plain !== undefined) return g.plain;
    if (g.nums.length === 1) return g.prefix + pad(g.nums[0], g.width);
    return `${g.prefix}[${ranges(g.nums, g.width)}]`;
  }).join(',');
}

/** A padded group takes names of its width; unpadded groups take unpadded names. */
function compatible(width: number, p: Parsed): boolean {
  const digits = pad(p.num!, p.width).length;
  if (width === 0) return p.width === 0;
  return p.width === width || (p.width === 0 && digits === width);
}

function ranges(nums: number[], width: number): string {
  const out: string[] = [];
  let i = 0;
  while (i < nums.length) {
    let j = i;
    while (j + 1 < nums.length && nums[j + 1] === nums[j] + 1) j++;
    out.push(j > i ? `${pad(nums[i], width)}-${pad(nums[j], width)}` : pad(nums[i], width));
    i = j + 1;
  }
  return out.join(',');
}
