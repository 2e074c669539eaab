/**
 * KVS transaction builder: the client half of a commit.
 *
 * Why: flux-core builds transactions entirely client side (libkvs kvs_txn.c) and sends only the
 * finished op list in kvs.commit, `[{"key","flags","dirent"}]`, where dirent is an RFC 11 object
 * or JSON null for unlink. The server trusts that shape, so the checks flux-core does while
 * building (non-empty key, only APPEND among op flags and only on puts, a valid dirent) happen
 * here, with its errno (EINVAL).
 *
 * Value encodings, as flux-core stores them:
 *  - put(key, string)      the string's bytes, no NUL (flux_kvs_txn_put since the NUL was dropped;
 *                          the upstream vector in §12 item 16 relies on it);
 *  - putRaw(key, bytes)    the bytes as given;
 *  - pack(key, value)      jansson json_dumps(value, JSON_ENCODE_ANY): NOT compact — jansson's
 *                          default separators ", " and ": " — as flux_kvs_txn_pack() stores it;
 *  - putJson(key, value)   compact jansson text (JSON_COMPACT), the form most flux-core services
 *                          build themselves and hand to flux_kvs_txn_put().
 */
import { kvsError, errno } from './errors';
import { janssonDumps, type JsonValue } from './jansson';
import * as treeobj from './treeobj';
import type { TreeObj } from './treeobj';

/** Commit and op flags (flux/kvs.h). */
export const FLUX_KVS_NO_MERGE = 1;
export const FLUX_KVS_TXN_COMPACT = 2;
export const FLUX_KVS_SYNC = 4;
export const FLUX_KVS_APPEND = 32;

export interface TxnOp {
  key: string;
  flags: number;
  dirent: TreeObj | null;
}

export class KvsTxn {
  private readonly ops: TxnOp[] = [];

  /**
   * `fresh`: the dirent was just built here (createVal) and nobody else holds it, so it needs
   * neither the validation walk nor a defensive copy; a `flux kvs put` of 10,000 keys spent
   * most of its transaction building on those two.
   */
  private add(key: string, flags: number, dirent: TreeObj | null, allowedFlags: number, fresh = false): this {
    if (typeof key !== 'string' || key.length === 0) throw kvsError(errno.EINVAL);
    if (!Number.isInteger(flags) || (flags & allowedFlags) !== flags) throw kvsError(errno.EINVAL);
    if (dirent !== null && !fresh) treeobj.validate(dirent);
    this.ops.push({ key, flags, dirent: dirent === null || fresh ? dirent : treeobj.deepCopy(dirent) });
    return this;
  }

  /** flux_kvs_txn_put(): a string value (UTF-8, no terminator). */
  put(key: string, value: string, flags = 0): this {
    return this.add(key, flags, treeobj.createVal(Buffer.from(value, 'utf8')), FLUX_KVS_APPEND, true);
  }

  /** flux_kvs_txn_put_raw(). */
  putRaw(key: string, data: Uint8Array, flags = 0): this {
    return this.add(key, flags, treeobj.createVal(data), FLUX_KVS_APPEND, true);
  }

  /** flux_kvs_txn_pack(): jansson's default (non-compact) text of `value`. */
  pack(key: string, value: JsonValue, flags = 0): this {
    return this.add(key, flags, treeobj.createVal(Buffer.from(janssonDumps(value), 'utf8')), 0, true);
  }

  /** Compact JSON text of `value` (what services pass to flux_kvs_txn_put()). */
  putJson(key: string, value: JsonValue, flags = 0): this {
    return this.add(key, flags, treeobj.createVal(Buffer.from(janssonDumps(value, { compact: true }), 'utf8')), FLUX_KVS_APPEND, true);
  }

  /** flux_kvs_txn_put_treeobj(): text is decoded (EPROTO if not a tree object). */
  putTreeobj(key: string, obj: TreeObj | string, flags = 0): this {
    const o = typeof obj === 'string' ? treeobj.decode(obj) : obj;
    return this.add(key, flags, o, 0);
  }

  /** flux_kvs_txn_mkdir(): an empty directory (replaces whatever is there). */
  mkdir(key: string, flags = 0): this {
    return this.add(key, flags, treeobj.createDir(), 0, true);
  }

  /** flux_kvs_txn_unlink(). */
  unlink(key: string, flags = 0): this {
    return this.add(key, flags, null, 0);
  }

  /** flux_kvs_txn_symlink(); `namespace` makes a link into another namespace. */
  symlink(key: string, target: string, namespace?: string, flags = 0): this {
    return this.add(key, flags, treeobj.createSymlink(target, namespace), 0);
  }

  /** Append a string (flux kvs put -A): the value becomes / grows a valref on commit. */
  append(key: string, value: string | Uint8Array): this {
    const data = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
    return this.add(key, FLUX_KVS_APPEND, treeobj.createVal(data), FLUX_KVS_APPEND, true);
  }

  get length(): number {
    return this.ops.length;
  }

  /** The op list for kvs.commit's "ops" (copies, so the builder can go on being used). */
  toOps(): TxnOp[] {
    return this.ops.map((op) => ({ key: op.key, flags: op.flags, dirent: op.dirent === null ? null : treeobj.deepCopy(op.dirent) }));
  }
}

/**
 * txn_decode_op(): check one op received in kvs.commit. Exactly the keys key (string), flags
 * (integer) and dirent (any JSON value) — anything else is EPROTO. The dirent itself is checked
 * when it is applied, as in flux-core.
 */
export function decodeOp(op: unknown): { key: string; flags: number; dirent: unknown } {
  if (typeof op !== 'object' || op === null || Array.isArray(op)) throw kvsError(errno.EPROTO);
  const o = op as Record<string, unknown>;
  const keys = Object.keys(o);
  if (keys.length !== 3 || typeof o.key !== 'string' || !Number.isInteger(o.flags) || !Object.prototype.hasOwnProperty.call(o, 'dirent')) {
    throw kvsError(errno.EPROTO);
  }
  return { key: o.key, flags: o.flags as number, dirent: o.dirent };
}
