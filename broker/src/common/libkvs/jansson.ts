/**
 * JSON text exactly as jansson's json_dumps() writes it.
 *
 * Why: the KVS is a hash tree. A directory's blobref is the hash of its JSON text, so our text must
 * be byte for byte what flux-core produces with JSON_COMPACT|JSON_SORT_KEYS, or the same tree gets
 * a different root and a flux-core peer could not share our store. JSON.stringify differs from
 * jansson in several ways that matter:
 *  - key order: jansson sorts keys by their UTF-8 bytes (memcmp, shorter first on a tie), not by
 *    UTF-16 code units and not in insertion order;
 *  - escaping: jansson writes non-ASCII characters raw (UTF-8) and never escapes `/` (both only
 *    with flags flux-core does not use); control characters other than \b \f \n \r \t become
 *    `\u00XX` with UPPERCASE hex (JSON.stringify writes lowercase);
 *  - reals: jansson keeps integers and reals apart and prints reals with "%.17g", adding ".0" when
 *    the text would otherwise read as an integer (1.0 -> "1.0", 0.1 -> "0.10000000000000001");
 *  - without JSON_COMPACT, jansson separates with ", " and ": " (flux_kvs_txn_pack() relies on it).
 * JavaScript numbers do not say whether they were reals, so a real with an integral value has to
 * be wrapped in JsonReal to be printed as one.
 */
import { FluxError, errno } from '../libflux/errno';

/** A number jansson would hold as a real (json_real), even when its value is integral. */
export class JsonReal {
  constructor(readonly value: number) {}
}

export type JsonValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | JsonReal
  | JsonValue[]
  | { [key: string]: JsonValue };

export interface DumpFlags {
  /** JSON_COMPACT: no space after `,` and `:`. */
  compact?: boolean;
  /** JSON_SORT_KEYS: keys in UTF-8 byte order. */
  sortKeys?: boolean;
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** C's printf("%.17g", x), then jansson's touch-ups (".0" suffix, no "+" or leading zeros in the exponent). */
export function formatReal(x: number): string {
  if (!Number.isFinite(x)) throw new FluxError(errno.EINVAL, 'jansson cannot encode NaN or Infinity');
  const P = 17;
  let out: string;
  if (x === 0) {
    out = Object.is(x, -0) ? '-0' : '0';
  } else {
    // %g picks the style from the exponent the %e conversion (precision P-1) would show.
    const e = x.toExponential(P - 1);
    const exp = Number(e.slice(e.indexOf('e') + 1));
    if (exp < -4 || exp >= P) {
      let [mant, ex] = e.split('e');
      if (mant.includes('.')) mant = mant.replace(/0+$/, '').replace(/\.$/, '');
      // C prints at least two exponent digits; jansson strips the '+' and the leading zeros again.
      ex = ex.replace('+', '');
      out = `${mant}e${ex}`;
    } else {
      out = x.toFixed(P - 1 - exp);
      if (out.includes('.')) out = out.replace(/0+$/, '').replace(/\.$/, '');
    }
  }
  if (!out.includes('.') && !out.includes('e')) out += '.0';
  return out;
}

function hex4(n: number): string {
  return n.toString(16).toUpperCase().padStart(4, '0');
}

/** A JSON string literal as jansson's dump_string() writes it (no ENSURE_ASCII, no ESCAPE_SLASH). */
export function quoteString(s: string): string {
  // Nothing to escape or check (the common case for keys and base64): the text as is.
  // eslint-disable-next-line no-control-regex -- control characters are exactly what gets escaped
  if (!/[\u0000-\u001f"\\\uD800-\uDFFF]/.test(s)) return `"${s}"`;
  let out = '"';
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdfff) {
      // jansson only holds valid UTF-8; a lone surrogate has no UTF-8 form.
      const pair = c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00;
      if (!pair) throw new FluxError(errno.EINVAL, 'string is not valid UTF-8');
      i++;
      continue;
    }
    if (c >= 0x20 && c !== 0x22 && c !== 0x5c) continue;
    out += s.slice(start, i);
    start = i + 1;
    switch (c) {
      case 0x22: out += '\\"'; break;
      case 0x5c: out += '\\\\'; break;
      case 0x08: out += '\\b'; break;
      case 0x0c: out += '\\f'; break;
      case 0x0a: out += '\\n'; break;
      case 0x0d: out += '\\r'; break;
      case 0x09: out += '\\t'; break;
      default: out += `\\u${hex4(c)}`;
    }
  }
  return out + s.slice(start) + '"';
}

/** Compare keys as jansson's compare_keys does: memcmp over UTF-8, then length. */
export function compareKeysUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * Keys in jansson's order. Why not always compareKeysUtf8: it allocates two Buffers per
 * comparison, and a KVS directory of thousands of entries is re-encoded on every commit. Below
 * U+D800, UTF-16 code unit order (JavaScript's default sort) IS code point order, which is UTF-8
 * byte order, shorter-prefix-first included; only keys holding surrogates or U+E000..U+FFFF can
 * sort differently, and for those each key is encoded once, not once per comparison.
 */
const WIDE = /[\uD800-\uFFFF]/;

export function sortKeysUtf8(keys: string[]): string[] {
  let plain = true;
  for (let i = 0; i < keys.length && plain; i++) plain = !WIDE.test(keys[i]);
  if (plain) return keys.sort();
  return keys
    .map((k) => ({ k, b: Buffer.from(k, 'utf8') }))
    .sort((x, y) => Buffer.compare(x.b, y.b))
    .map((x) => x.k);
}

function dumpValue(v: JsonValue, flags: DumpFlags, seen: Set<object>): string {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'boolean': return v ? 'true' : 'false';
    case 'string': return quoteString(v);
    case 'bigint':
      if (v < INT64_MIN || v > INT64_MAX) throw new FluxError(errno.EINVAL, 'integer out of range');
      return v.toString();
    case 'number':
      // Integral values in the safe range are what jansson would have parsed as json_integer.
      if (Number.isInteger(v) && Math.abs(v) <= Number.MAX_SAFE_INTEGER && !Object.is(v, -0)) return String(v);
      return formatReal(v);
    default: break;
  }
  if (v instanceof JsonReal) return formatReal(v.value);
  if (seen.has(v)) throw new FluxError(errno.EINVAL, 'circular reference');
  seen.add(v);
  const comma = flags.compact ? ',' : ', ';
  // Plain loops and concatenation: directories of thousands of entries are dumped per commit.
  let out: string;
  if (Array.isArray(v)) {
    out = '[';
    for (let i = 0; i < v.length; i++) out += (i ? comma : '') + dumpValue(v[i], flags, seen);
    out += ']';
  } else {
    const colon = flags.compact ? ':' : ': ';
    let keys = Object.keys(v);
    if (flags.sortKeys) keys = sortKeysUtf8(keys);
    out = '{';
    for (let i = 0; i < keys.length; i++) out += (i ? comma : '') + quoteString(keys[i]) + colon + dumpValue(v[keys[i]], flags, seen);
    out += '}';
  }
  seen.delete(v);
  return out;
}

/**
 * json_dumps(value, flags | JSON_ENCODE_ANY). Throws EINVAL for what jansson cannot represent
 * (non-finite numbers, invalid UTF-8, integers outside int64, cycles).
 */
export function janssonDumps(value: JsonValue, flags: DumpFlags = {}): string {
  return dumpValue(value, flags, new Set());
}

/** The encoding flux-core hashes: JSON_COMPACT|JSON_SORT_KEYS. */
export function dumpsCompactSorted(value: JsonValue): string {
  return janssonDumps(value, { compact: true, sortKeys: true });
}
