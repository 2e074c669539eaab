/**
 * KVS checkpoint objects, as libkvs kvs_checkpoint.c writes them through content.checkpoint-put:
 * `{"version":1,"rootref":R,"sequence":N,"timestamp":T}` in that key order (jansson keeps
 * insertion order and the backing store writes it with JSON_COMPACT, unsorted), the timestamp a
 * jansson real ("%.17g"). Version 0 objects (rootref only) are still read.
 *
 * Why here: the KVS module writes checkpoints and reads them back at startup, and the sqlite store
 * must keep their text byte for byte so a flux-core instance restarted on our file reads it.
 */
import { isBlobref } from '../libcontent/blobref';
import { kvsError, errno } from './errors';
import { JsonReal, type JsonValue } from './jansson';

export interface KvsCheckpoint {
  version: number;
  rootref: string;
  sequence: number;
  timestamp: number;
}

/** The value kvs_checkpoint_commit() sends (timestamp in seconds since the epoch). */
export function checkpointValue(rootref: string, sequence: number, timestamp: number): JsonValue {
  return { version: 1, rootref, sequence, timestamp: new JsonReal(timestamp) };
}

/** kvs_checkpoint_parse_*(): EPROTO if malformed, EINVAL for an unknown version. */
export function parseCheckpoint(o: unknown): KvsCheckpoint {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw kvsError(errno.EPROTO);
  const c = o as Record<string, unknown>;
  if (!Number.isInteger(c.version) || typeof c.rootref !== 'string') throw kvsError(errno.EPROTO);
  if (c.version !== 0 && c.version !== 1) throw kvsError(errno.EINVAL);
  if (c.sequence !== undefined && !Number.isInteger(c.sequence)) throw kvsError(errno.EPROTO);
  if (c.timestamp !== undefined && typeof c.timestamp !== 'number') throw kvsError(errno.EPROTO);
  if (!isBlobref(c.rootref)) throw kvsError(errno.EINVAL);
  return {
    version: c.version as number,
    rootref: c.rootref,
    sequence: (c.sequence as number | undefined) ?? 0,
    timestamp: (c.timestamp as number | undefined) ?? 0,
  };
}
