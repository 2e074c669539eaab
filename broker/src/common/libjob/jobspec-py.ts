/**
 * Python value semantics that flux-core's jobspec validator (Python, run by
 * job-ingest) depends on, so that our checks accept and reject exactly what it
 * does: `bool` is an `int`, `str` is a sequence (of one-character strings),
 * `1 == True`, and the type names Python puts into its messages.
 */

export type Path = (string | number)[];

export function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** abc.Sequence: list or str (a str is a sequence of its characters). */
export function isSequence(v: unknown): v is unknown[] | string {
  return Array.isArray(v) || typeof v === 'string';
}

/** Items of a Python sequence: a string yields its characters. */
export function seqItems(v: unknown[] | string): unknown[] {
  return typeof v === 'string' ? [...v] : v;
}

/** isinstance(v, int): integers and booleans (JSON 1.0 is indistinguishable from 1 once parsed). */
export function isPyInt(v: unknown): boolean {
  return typeof v === 'bigint' || typeof v === 'boolean' || (typeof v === 'number' && Number.isInteger(v));
}

/** isinstance(v, numbers.Number): includes bool. */
export function isPyNumber(v: unknown): boolean {
  return typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean';
}

/** The numeric value of a Python int/bool. */
export function pyNum(v: unknown): number {
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'bigint') return Number(v);
  return v as number;
}

/** type(v).__name__ as Python would report it for a JSON-decoded value. */
export function pyTypeName(v: unknown): string {
  if (v === null || v === undefined) return 'NoneType';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'bigint') return 'int';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float';
  if (typeof v === 'string') return 'str';
  if (Array.isArray(v)) return 'list';
  return 'dict';
}

/** Python's `x in [True, False]`: 0, 1, 0.0 and 1.0 compare equal to the booleans. */
export function isPyBoolLike(v: unknown): boolean {
  return typeof v === 'boolean' || v === 0 || v === 1 || v === 0n || v === 1n;
}

/** RFC 22 idset syntax (as flux.idset.decode accepts it), checked without expanding ranges. */
export function isIdsetString(s: string): boolean {
  let body = s.trim();
  if (body.startsWith('[') && body.endsWith(']')) body = body.slice(1, -1);
  if (body === '') return true;
  for (const part of body.split(',')) {
    const m = /^([0-9]+)(?:-([0-9]+))?$/.exec(part);
    if (!m) return false;
    if (m[2] !== undefined && BigInt(m[2]) < BigInt(m[1])) return false;
  }
  return true;
}

/** Python int(s) for a str: optional blanks and sign, digits with single underscores. */
export function pyIntFromStr(s: string): number {
  if (!/^\s*[+-]?[0-9]+(?:_[0-9]+)*\s*$/.test(s)) throw new PyValueError(`invalid literal for int() with base 10: '${s}'`);
  return Number(s.replace(/[_\s]/g, ''));
}

/** A ValueError/TypeError message as the validator reports it (str(exc)). */
export class PyValueError extends Error {}
