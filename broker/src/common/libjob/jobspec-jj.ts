/**
 * The scheduler's view of a v1 jobspec, as flux-core's libjob jj.c computes it
 * for sched-simple: how many slots, cores and GPUs per slot, how many nodes,
 * whether nodes are exclusive, and the duration. It reads the document with
 * jansson's json_unpack, so its errors carry jansson's texts ("Object item not
 * found: count", "Expected integer, got real"), prefixed as jj.c prefixes them.
 */
import { errno, FluxError } from '../libflux/errno';

export interface JjCounts {
  /** Total node count (product of node counts down the tree), 0 when no node vertex. */
  nnodes: number;
  /** Total slots: the slot count times nnodes when nodes are given. */
  nslots: number;
  /** Cores per slot. */
  slot_size: number;
  /** GPUs per slot. */
  slot_gpus: number;
  exclusive: boolean;
  /** attributes.system.duration in seconds (0 = unlimited). */
  duration: number;
}

/** jansson's type_name(). JSON 1.0 parses to the number 1, so it reads as an integer here. */
function janssonType(v: unknown): string {
  if (v === null) return 'null';
  if (v === true) return 'true';
  if (v === false) return 'false';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'bigint') return 'integer';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'real';
  if (Array.isArray(v)) return 'array';
  return 'object';
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function fail(text: string): never {
  throw new FluxError(errno.EINVAL, text);
}

/** json_unpack "i": a JSON integer, stored in a C int (so large values wrap as the cast does). */
function unpackInt(v: unknown, key: string, prefix: string): number {
  if (v === undefined) fail(`${prefix}Object item not found: ${key}`);
  if (janssonType(v) !== 'integer') fail(`${prefix}Expected integer, got ${janssonType(v)}`);
  return Number(BigInt.asIntN(32, BigInt(v as number | bigint)));
}

function readLevel(o: unknown, level: number, jj: JjCounts, nodefactor: number): void {
  if (!Array.isArray(o)) fail(`level ${level}: must be an array`);
  for (const v of o) readVertex(v, level, jj, nodefactor);
}

function readVertex(o: unknown, level: number, jj: JjCounts, nodefactor: number): void {
  const prefix = `level ${level}: `;
  // jansson unpacks "{ s:s s:i s?b s?o }" key by key, in this order.
  if (!isObject(o)) fail(`${prefix}Expected object, got ${janssonType(o)}`);
  const type = o.type;
  if (type === undefined) fail(`${prefix}Object item not found: type`);
  if (typeof type !== 'string') fail(`${prefix}Expected string, got ${janssonType(type)}`);
  const count = unpackInt(o.count, 'count', prefix);
  const exclusive = o.exclusive;
  if (exclusive !== undefined && typeof exclusive !== 'boolean') fail(`${prefix}Expected true or false, got ${janssonType(exclusive)}`);
  if (count <= 0) fail(`Invalid count ${count} for type '${type}'`);
  const factor = Math.imul(nodefactor, count);
  if (type === 'node') {
    jj.nnodes = factor;
    if (exclusive) jj.exclusive = true;
  } else if (type === 'slot') jj.nslots = count;
  else if (type === 'core') jj.slot_size = count;
  else if (type === 'gpu') jj.slot_gpus = count;
  // other resource types are ignored, as in current flux-core
  if (o.with !== undefined) readLevel(o.with, level + 1, jj, factor);
}

/**
 * jj_get_counts_json(). Throws FluxError(EINVAL) with jj.c's message:
 * "Unable to determine slot count", "Unable to determine slot size",
 * "Invalid count N for type 'T'", "level N: …", "at top level: …".
 */
export function jjGetCounts(jobspec: unknown): JjCounts {
  const jj: JjCounts = { nnodes: 0, nslots: 0, slot_size: 0, slot_gpus: 0, exclusive: false, duration: 0 };
  const top = 'at top level: ';
  if (!isObject(jobspec)) fail(`${top}Expected object, got ${janssonType(jobspec)}`);
  unpackInt(jobspec.version, 'version', top);
  if (jobspec.resources === undefined) fail(`${top}Object item not found: resources`);
  const dp = `${top}getting duration: `;
  const attrs = jobspec.attributes;
  if (attrs === undefined) fail(`${dp}Object item not found: attributes`);
  if (!isObject(attrs)) fail(`${dp}Expected object, got ${janssonType(attrs)}`);
  const sys = attrs.system;
  if (sys === undefined) fail(`${dp}Object item not found: system`);
  if (!isObject(sys)) fail(`${dp}Expected object, got ${janssonType(sys)}`);
  const d = sys.duration;
  if (d === undefined) fail(`${dp}Object item not found: duration`);
  if (typeof d !== 'number' && typeof d !== 'bigint') fail(`${dp}Expected real or integer, got ${janssonType(d)}`);
  jj.duration = Number(d);
  readLevel(jobspec.resources, 0, jj, 1);
  if (jj.nslots <= 0) fail('Unable to determine slot count');
  if (jj.slot_size <= 0) fail('Unable to determine slot size');
  if (jj.nnodes) jj.nslots *= jj.nnodes;
  return jj;
}
