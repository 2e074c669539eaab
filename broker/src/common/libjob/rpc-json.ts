/**
 * RPC payloads that carry job ids: JSON integers that may pass 2^53. These
 * helpers read and write such payloads exactly (bigint for large integers),
 * through the same NUL-terminated text frames as ordinary JSON payloads.
 */
import { errno, FluxError } from '../libflux/errno';
import { getString, type Message } from '../libflux/message';
import type { Responder } from '../../broker/service';
import { parseJson, stringifyJson } from './json';
import type { JobId } from './jobid';

/** A JSON object as a payload buffer (text + NUL), ids written as exact integers. */
export function jsonPayload(obj: unknown): Buffer {
  return Buffer.from(`${stringifyJson(obj)}\0`, 'utf8');
}

/** The payload of a message as a JSON object, large integers as bigint; EPROTO otherwise. */
export function payloadJson<T = Record<string, unknown>>(m: Message): T {
  const s = getString(m);
  if (s === undefined) throw new FluxError(errno.EPROTO);
  const v = parseJson(s);
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new FluxError(errno.EPROTO);
  return v as T;
}

export function respondJson(r: Responder, obj: unknown): void {
  r.respondRaw(jsonPayload(obj));
}

/** A job id field of a payload (number or bigint), EPROTO when absent or not an id. */
export function idField(v: unknown): JobId {
  if (typeof v === 'bigint' && v >= 0n) return v;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  throw new FluxError(errno.EPROTO, 'invalid job id');
}

/** A job id as JSON wants it: a number when it is exact as one, else a bigint. */
export function idJson(id: JobId): number | bigint {
  return id <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(id) : id;
}
