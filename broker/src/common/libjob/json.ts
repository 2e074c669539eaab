/**
 * JSON that keeps integers past 2^53 exact, and JSON text written the way
 * flux-core's two writers write it.
 *
 * Job ids travel in RPC payloads as JSON integers (`{"id": 6731191091817518}`);
 * after about 6.2 days of instance uptime they exceed Number.MAX_SAFE_INTEGER
 * and JSON.parse would round them to a different job. parseJson returns such
 * integers as bigint (smaller ones stay numbers, so ordinary payloads look as
 * they always did), and stringifyJson writes bigints as bare integers.
 *
 * Two layouts: 'compact' is jansson's JSON_COMPACT (`{"a":1,"b":[1,2]}`), used
 * on the wire and in eventlogs; 'python' is Python's json.dumps default
 * (`{"a": 1, "b": [1, 2]}`, non-ASCII kept), which `flux run --dry-run` and
 * `flux job info … jobspec` print.
 */
import { errno, FluxError } from '../libflux/errno';

export type JsonValue = null | boolean | number | bigint | string | JsonValue[] | { [key: string]: JsonValue };

/** A safe integer has at most 16 digits; any longer run of digits may be an unsafe one. */
const LONG_DIGIT_RUN = /[0-9]{16,}/;

/**
 * Parse JSON text; integers outside the safe range come back as bigint.
 * Throws FluxError(EPROTO) with a position on malformed text.
 */
export function parseJson(text: string): JsonValue {
  // Fast path: without a run of 16+ digits no integer can be unsafe, and the native parser is far faster.
  if (!LONG_DIGIT_RUN.test(text)) {
    try {
      return JSON.parse(text) as JsonValue;
    } catch (err) {
      throw new FluxError(errno.EPROTO, (err as Error).message);
    }
  }
  return new Parser(text).parseDocument();
}

class Parser {
  private i = 0;
  constructor(private readonly s: string) {}

  parseDocument(): JsonValue {
    this.ws();
    const v = this.value();
    this.ws();
    if (this.i !== this.s.length) this.fail('unexpected text after JSON value');
    return v;
  }

  private fail(what: string): never {
    throw new FluxError(errno.EPROTO, `${what} at position ${this.i}`);
  }

  private ws(): void {
    const s = this.s;
    while (this.i < s.length) {
      const c = s.charCodeAt(this.i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) this.i++;
      else break;
    }
  }

  private value(): JsonValue {
    const c = this.s[this.i];
    if (c === '{') return this.object();
    if (c === '[') return this.array();
    if (c === '"') return this.string();
    if (c === '-' || (c >= '0' && c <= '9')) return this.number();
    if (this.s.startsWith('true', this.i)) return (this.i += 4), true;
    if (this.s.startsWith('false', this.i)) return (this.i += 5), false;
    if (this.s.startsWith('null', this.i)) return (this.i += 4), null;
    return this.fail(c === undefined ? 'unexpected end of text' : `unexpected character '${c}'`);
  }

  private object(): { [key: string]: JsonValue } {
    const out: { [key: string]: JsonValue } = {};
    this.i++;
    this.ws();
    if (this.s[this.i] === '}') return this.i++, out;
    for (;;) {
      this.ws();
      if (this.s[this.i] !== '"') this.fail('expected object key');
      const k = this.string();
      this.ws();
      if (this.s[this.i] !== ':') this.fail("expected ':'");
      this.i++;
      this.ws();
      // defineProperty, not assignment: a "__proto__" key must stay an ordinary key.
      Object.defineProperty(out, k, { value: this.value(), enumerable: true, writable: true, configurable: true });
      this.ws();
      const c = this.s[this.i++];
      if (c === '}') return out;
      if (c !== ',') this.fail("expected ',' or '}'");
    }
  }

  private array(): JsonValue[] {
    const out: JsonValue[] = [];
    this.i++;
    this.ws();
    if (this.s[this.i] === ']') return this.i++, out;
    for (;;) {
      this.ws();
      out.push(this.value());
      this.ws();
      const c = this.s[this.i++];
      if (c === ']') return out;
      if (c !== ',') this.fail("expected ',' or ']'");
    }
  }

  private string(): string {
    // Find the closing quote, then let the native parser decode escapes exactly.
    const start = this.i;
    let j = this.i + 1;
    const s = this.s;
    for (;;) {
      if (j >= s.length) this.fail('unterminated string');
      const c = s[j];
      if (c === '"') break;
      if (c === '\\') j++;
      j++;
    }
    this.i = j + 1;
    try {
      return JSON.parse(s.slice(start, j + 1)) as string;
    } catch {
      this.i = start;
      return this.fail('invalid string');
    }
  }

  private number(): number | bigint {
    const m = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?/y;
    m.lastIndex = this.i;
    const r = m.exec(this.s);
    if (!r) return this.fail('invalid number');
    this.i = m.lastIndex;
    const text = r[0];
    if (r[1] === undefined && r[2] === undefined) {
      const n = Number(text);
      return Number.isSafeInteger(n) ? n : BigInt(text);
    }
    return Number(text);
  }
}

/**
 * 'compact': no spaces, numbers as JavaScript writes them (shortest round trip).
 * 'jansson': no spaces, reals as flux-core's C code writes them (jansson's
 *   "%.17g", '+' and leading exponent zeros dropped, ".0" added when integral).
 * 'python': Python json.dumps' default separators and float repr.
 */
export type JsonLayout = 'compact' | 'jansson' | 'python';

export interface StringifyOptions {
  layout?: JsonLayout;
  /**
   * Paths (keys joined with '\u0000') whose numeric value Python holds as a
   * float: json.dumps writes 300.0 where JS has 300. Used for jobspec fields
   * flux-core computes in floating point (e.g. attributes.system.duration from -t).
   */
  floatPaths?: ReadonlySet<string>;
}

/** Join path components the way floatPaths expects. */
export function jsonPathKey(path: readonly (string | number)[]): string {
  return path.join('\u0000');
}

/**
 * Python's repr() of a float, which json.dumps uses: shortest round-trip
 * digits, fixed notation for exponents -4..15 (always with a fractional
 * part), exponent notation otherwise (`1e+16`, `1.5e-05`).
 */
export function pythonFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const [mant, expText] = x.toExponential().split('e');
  const exp = Number(expText);
  if (exp < -4 || exp >= 16) {
    const e = Math.abs(exp).toString().padStart(2, '0');
    return `${mant}e${exp < 0 ? '-' : '+'}${e}`;
  }
  const neg = mant.startsWith('-');
  const digits = mant.replace('-', '').replace('.', '');
  let out: string;
  if (exp >= 0) {
    const intPart = digits.slice(0, exp + 1).padEnd(exp + 1, '0');
    const frac = digits.slice(exp + 1);
    out = `${intPart}.${frac === '' ? '0' : frac}`;
  } else {
    out = `0.${'0'.repeat(-exp - 1)}${digits}`;
  }
  return (neg ? '-' : '') + out;
}

/** jansson's jsonp_dtostr at its default precision of 17 significant digits. */
export function janssonRealRepr(x: number): string {
  if (!Number.isFinite(x)) return 'null'; // jansson refuses to create such reals; never emitted
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const [mant, expText] = x.toExponential(16).split('e');
  const exp = Number(expText);
  const neg = mant.startsWith('-');
  const digits = mant.replace('-', '').replace('.', '').replace(/0+$/, '') || '0';
  let out: string;
  if (exp < -4 || exp >= 17) {
    out = digits[0] + (digits.length > 1 ? '.' + digits.slice(1) : '') + 'e' + (exp < 0 ? '-' : '') + Math.abs(exp);
  } else if (exp >= 0) {
    const intPart = digits.slice(0, exp + 1).padEnd(exp + 1, '0');
    const frac = digits.slice(exp + 1);
    out = frac === '' ? intPart : `${intPart}.${frac}`;
  } else {
    out = `0.${'0'.repeat(-exp - 1)}${digits}`;
  }
  if (!/[.e]/.test(out)) out += '.0';
  return (neg ? '-' : '') + out;
}

/**
 * Serialize a value. bigint is written as an integer. Undefined members are
 * skipped (as JSON.stringify does); functions and symbols are refused.
 */
export function stringifyJson(value: unknown, opts: StringifyOptions = {}): string {
  if ((opts.layout === undefined || opts.layout === 'compact') && (opts.floatPaths === undefined || opts.floatPaths.size === 0)) {
    // Compact layout: V8's own serializer writes the same text, far faster; it refuses BigInts
    // (job ids past 2^53), which the walk below writes as plain integers.
    try {
      return JSON.stringify(value) ?? 'null';
    } catch {
      // a BigInt (or a cycle, which the walk reports with our message)
    }
  }
  const py = opts.layout === 'python';
  const colon = py ? ': ' : ':';
  const comma = py ? ', ' : ',';
  const floats = opts.floatPaths;
  const path: (string | number)[] = [];
  const seen = new Set<object>();

  const jansson = opts.layout === 'jansson';
  const num = (n: number): string => {
    const isFloat = floats !== undefined && floats.size > 0 && floats.has(jsonPathKey(path));
    if (jansson) return isFloat || !Number.isInteger(n) ? janssonRealRepr(n) : JSON.stringify(n);
    if (isFloat) return pythonFloatRepr(n);
    if (!Number.isFinite(n)) return py ? pythonFloatRepr(n) : 'null';
    if (py && !Number.isInteger(n)) return pythonFloatRepr(n);
    return JSON.stringify(n);
  };

  const enc = (v: unknown): string | undefined => {
    switch (typeof v) {
      case 'string':
        return JSON.stringify(v);
      case 'number':
        return num(v);
      case 'bigint':
        return v.toString(10);
      case 'boolean':
        return v ? 'true' : 'false';
      case 'undefined':
        return undefined;
      case 'object': {
        if (v === null) return 'null';
        if (seen.has(v)) throw new FluxError(errno.EINVAL, 'cannot serialize a cyclic structure');
        const toJSON = (v as { toJSON?: unknown }).toJSON;
        if (typeof toJSON === 'function') return enc((toJSON as () => unknown).call(v));
        seen.add(v);
        let out: string;
        if (Array.isArray(v)) {
          const parts: string[] = [];
          v.forEach((item, i) => {
            path.push(i);
            parts.push(enc(item) ?? 'null');
            path.pop();
          });
          out = `[${parts.join(comma)}]`;
        } else {
          const parts: string[] = [];
          for (const [k, item] of Object.entries(v)) {
            path.push(k);
            const e = enc(item);
            path.pop();
            if (e !== undefined) parts.push(JSON.stringify(k) + colon + e);
          }
          out = `{${parts.join(comma)}}`;
        }
        seen.delete(v);
        return out;
      }
      default:
        throw new FluxError(errno.EINVAL, `cannot serialize a ${typeof v}`);
    }
  };
  return enc(value) ?? 'null';
}
