/**
 * RFC 11 tree objects: the nodes of the KVS hash tree.
 *
 * Why it is written this way:
 *  - Validation follows flux-core's treeobj_validate() rule for rule (exactly the three keys
 *    ver/type/data, ver the integer 1, non-empty blobref arrays, symlink data an object with a string
 *    target and optional string namespace, val data a string whose base64 is NOT checked here) and
 *    fails with EINVAL; decoding text that is not a valid tree object fails with EPROTO, as
 *    treeobj_decode() does. Callers on the wire get the same errno a flux-core client would.
 *  - encode() is jansson's JSON_COMPACT|JSON_SORT_KEYS text (see jansson.ts), because a tree
 *    object's blobref is the hash of that text and must equal flux-core's.
 *  - Directory entries are read and written through own-property helpers: entry names are
 *    arbitrary user strings, and names like "__proto__" or "constructor" must behave as plain keys.
 */
import { blobrefHash, blobrefValidate, isBlobref, type HashName } from '../libcontent/blobref';
import { base64DecodeStrict, base64Encode } from './base64';
import { kvsError, errno } from './errors';
import { dumpsCompactSorted, quoteString, sortKeysUtf8, type JsonValue } from './jansson';

export interface ValObj { ver: 1; type: 'val'; data: string }
export interface ValrefObj { ver: 1; type: 'valref'; data: string[] }
export interface DirrefObj { ver: 1; type: 'dirref'; data: string[] }
export interface DirObj { ver: 1; type: 'dir'; data: Record<string, TreeObj> }
export interface SymlinkObj { ver: 1; type: 'symlink'; data: { target: string; namespace?: string } }
export type TreeObj = ValObj | ValrefObj | DirrefObj | DirObj | SymlinkObj;
export type TreeObjType = TreeObj['type'];

function isPlainObject(o: unknown): o is Record<string, unknown> {
  return typeof o === 'object' && o !== null && !Array.isArray(o);
}

export function hasOwn(o: object, k: string): boolean {
  return Object.prototype.hasOwnProperty.call(o, k);
}

/**
 * Set an own enumerable property, even for names like "__proto__". Only "__proto__" needs
 * defineProperty (it is the one accessor plain objects inherit; assigning any other name creates
 * or replaces an own data property); plain assignment is several times cheaper, and a commit of
 * 10,000 keys does 10,000 of these.
 */
function setOwn<T>(o: Record<string, T>, k: string, v: T): void {
  if (k === '__proto__') Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  else o[k] = v;
}

/** True when `o` is not a valid tree object. Mirrors treeobj_validate(). */
function invalid(o: unknown, depth: number): boolean {
  if (!isPlainObject(o)) return true;
  const keys = Object.keys(o);
  // json_unpack "{s:i s:s s:o !}": all three present, nothing else.
  if (keys.length !== 3 || !hasOwn(o, 'ver') || !hasOwn(o, 'type') || !hasOwn(o, 'data')) return true;
  if (o.ver !== 1 || typeof o.type !== 'string') return true;
  const data = o.data;
  switch (o.type) {
    case 'valref':
    case 'dirref':
      return !Array.isArray(data) || data.length === 0 || !data.every((r) => isBlobref(r));
    case 'dir':
      if (!isPlainObject(data)) return true;
      // Deep trees come from stored blobs, each level its own object; this bound only stops a
      // hostile, absurdly nested payload from exhausting the stack.
      if (depth > 10000) return true;
      for (const k of Object.keys(data)) if (invalid(data[k], depth + 1)) return true;
      return false;
    case 'symlink': {
      if (!isPlainObject(data)) return true;
      if (!hasOwn(data, 'target') || typeof data.target !== 'string') return true;
      if (hasOwn(data, 'namespace') && typeof data.namespace !== 'string') return true;
      return false;
    }
    case 'val':
      return typeof data !== 'string';
    default:
      return true;
  }
}

export function isTreeObj(o: unknown): o is TreeObj {
  return !invalid(o, 0);
}

/** treeobj_validate(): EINVAL unless `o` is a valid tree object (recursively for dirs). */
export function validate(o: unknown): asserts o is TreeObj {
  if (invalid(o, 0)) throw kvsError(errno.EINVAL);
}

/** Type of a tree object's envelope without validating its data (treeobj_get_type()). */
export function typeOf(o: unknown): TreeObjType | undefined {
  if (!isPlainObject(o) || o.ver !== 1 || typeof o.type !== 'string') return undefined;
  if (Object.keys(o).length !== 3 || !hasOwn(o, 'data')) return undefined;
  const t = o.type;
  return t === 'val' || t === 'valref' || t === 'dir' || t === 'dirref' || t === 'symlink' ? t : undefined;
}

/** treeobj_decode(): parse JSON text (bytes or string) and validate; EPROTO on any failure. */
export function decode(text: string | Uint8Array): TreeObj {
  let o: unknown;
  try {
    const s = typeof text === 'string' ? text : Buffer.from(text.buffer, text.byteOffset, text.byteLength).toString('utf8');
    o = JSON.parse(s);
  } catch {
    throw kvsError(errno.EPROTO);
  }
  if (invalid(o, 0)) throw kvsError(errno.EPROTO);
  return o as TreeObj;
}

/**
 * The text of a tree object known to be valid (validate() passed, or built by this module), the
 * same bytes as dumpsCompactSorted() gives. Why a second encoder: a commit re-encodes every
 * directory on its path, entries included, and the generic one sorts each entry's three keys and
 * walks it as arbitrary JSON; here the key order ("data" < "type" < "ver") is fixed and only
 * the strings are escaped. Anything with another shape (a symlink, or an object this does not
 * recognise) goes through the generic encoder.
 */
function encodeValid(o: TreeObj): string {
  switch (o.type) {
    case 'val':
      if (typeof o.data === 'string' && o.ver === 1) return `{"data":${quoteString(o.data)},"type":"val","ver":1}`;
      break;
    case 'dirref':
    case 'valref':
      if (Array.isArray(o.data) && o.ver === 1) {
        let out = '{"data":[';
        for (let i = 0; i < o.data.length; i++) out += (i ? ',' : '') + quoteString(o.data[i]);
        return `${out}],"type":"${o.type}","ver":1}`;
      }
      break;
    case 'dir':
      if (isPlainObject(o.data) && o.ver === 1) {
        const data = o.data;
        const names = sortKeysUtf8(Object.keys(data));
        let out = '{"data":{';
        for (let i = 0; i < names.length; i++) out += (i ? ',' : '') + quoteString(names[i]) + ':' + encodeValid(data[names[i]]);
        return `${out}},"type":"dir","ver":1}`;
      }
      break;
    default:
      break;
  }
  return dumpsCompactSorted(o as unknown as JsonValue);
}

/** treeobj_encode(): the exact text flux-core hashes. */
export function encode(o: TreeObj): string {
  // Only an object with exactly ver/type/data may take the fast path: anything else must come
  // out as the generic encoder writes it (extra keys included).
  if (isPlainObject(o) && Object.keys(o).length === 3 && hasOwn(o, 'ver') && hasOwn(o, 'type') && hasOwn(o, 'data') && !invalid(o, 0)) {
    return encodeValid(o);
  }
  return dumpsCompactSorted(o as unknown as JsonValue);
}

/**
 * encode() for an object the caller knows to be valid (the commit path: every entry was
 * validated on its way in), skipping the validation walk over a large directory.
 */
export function encodeTrusted(o: TreeObj): string {
  return encodeValid(o);
}

/**
 * encodeTrusted() of a directory, plus the directory as decode() would give it back from that
 * text: entries in the stored (sorted) order, the envelope's keys as "data", "type", "ver". The
 * commit path keeps this object in the kvs cache instead of parsing the text again, so lookups
 * answer with the same JSON, key order included, as they would from a freshly loaded blob.
 * Entries are shared, not copied (they must already be in that form).
 */
export function encodeDirCanonical(o: DirObj): { text: string; obj: DirObj } {
  const data = o.data;
  const names = sortKeysUtf8(Object.keys(data));
  const sorted: Record<string, TreeObj> = {};
  let out = '{"data":{';
  for (let i = 0; i < names.length; i++) {
    const entry = data[names[i]];
    setOwn(sorted, names[i], entry);
    out += (i ? ',' : '') + quoteString(names[i]) + ':' + encodeValid(entry);
  }
  return { text: `${out}},"type":"dir","ver":1}`, obj: { data: sorted, type: 'dir', ver: 1 } as DirObj };
}

/**
 * A copy of `o` with every object's keys in jansson's sorted order, as decode() of its encoded
 * text would build it (a val, the usual case, without the generic walk). Anything that is not a
 * plain object comes back as it is.
 */
export function canonicalCopy(o: unknown): unknown {
  if (typeof o !== 'object' || o === null) return o;
  if (Array.isArray(o)) return o.map(canonicalCopy);
  const src = o as Record<string, unknown>;
  if (src.type === 'val' && typeof src.data === 'string' && src.ver === 1 && Object.keys(src).length === 3) {
    return { data: src.data, type: 'val', ver: 1 };
  }
  const out: Record<string, unknown> = {};
  for (const k of sortKeysUtf8(Object.keys(src))) setOwn(out, k, canonicalCopy(src[k]));
  return out;
}

/** Bytes of encode(): what is stored in the content store. */
export function encodeBuffer(o: TreeObj): Buffer {
  return Buffer.from(encode(o), 'utf8');
}

/** Blobref of a tree object as flux-core computes it (hash of the encoded text, no NUL). */
export function hash(hashName: HashName, o: TreeObj): string {
  return blobrefHash(hashName, encodeBuffer(o));
}

export function createDir(): DirObj {
  return { ver: 1, type: 'dir', data: {} };
}

/** A val holding `data`, base64 encoded with padding (treeobj_create_val()). */
export function createVal(data: Uint8Array | string): ValObj {
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  return { ver: 1, type: 'val', data: base64Encode(buf) };
}

export function createValref(...blobrefs: string[]): ValrefObj {
  for (const r of blobrefs) blobrefValidate(r);
  return { ver: 1, type: 'valref', data: [...blobrefs] };
}

export function createDirref(blobref: string): DirrefObj {
  blobrefValidate(blobref);
  return { ver: 1, type: 'dirref', data: [blobref] };
}

/** A symlink; namespace is optional (flux-core omits the key when there is none). */
export function createSymlink(target: string, namespace?: string): SymlinkObj {
  if (typeof target !== 'string') throw kvsError(errno.EINVAL);
  return namespace === undefined
    ? { ver: 1, type: 'symlink', data: { target } }
    : { ver: 1, type: 'symlink', data: { namespace, target } };
}

/** treeobj_decode_val(): the bytes of a val; EINVAL if not a val or its base64 is bad. */
export function decodeVal(o: TreeObj): Buffer {
  if (typeOf(o) !== 'val' || typeof o.data !== 'string') throw kvsError(errno.EINVAL);
  const b = base64DecodeStrict(o.data);
  if (!b) throw kvsError(errno.EINVAL);
  return b;
}

/** treeobj_get_count(): blobrefs in a ref, entries in a dir, 1 for val and symlink. */
export function getCount(o: TreeObj): number {
  switch (o.type) {
    case 'valref':
    case 'dirref': return o.data.length;
    case 'dir': return Object.keys(o.data).length;
    default: return 1;
  }
}

/** treeobj_get_blobref(): EINVAL if not a ref or the index is out of range. */
export function getBlobref(o: TreeObj, index: number): string {
  if ((o.type !== 'valref' && o.type !== 'dirref') || index < 0 || index >= o.data.length) {
    throw kvsError(errno.EINVAL);
  }
  return o.data[index];
}

/** treeobj_get_symlink(). */
export function getSymlink(o: TreeObj): { target: string; namespace?: string } {
  if (o.type !== 'symlink' || !isPlainObject(o.data) || typeof o.data.target !== 'string') throw kvsError(errno.EINVAL);
  if (hasOwn(o.data, 'namespace') && typeof o.data.namespace !== 'string') throw kvsError(errno.EINVAL);
  return hasOwn(o.data, 'namespace') ? { target: o.data.target, namespace: o.data.namespace } : { target: o.data.target };
}

/** treeobj_get_entry(): EINVAL if `dir` is not a dir, ENOENT if the name is absent. */
export function getEntry(dir: TreeObj, name: string): TreeObj {
  if (typeOf(dir) !== 'dir' || !isPlainObject(dir.data)) throw kvsError(errno.EINVAL);
  const data = dir.data as Record<string, TreeObj>;
  if (!hasOwn(data, name)) throw kvsError(errno.ENOENT);
  return data[name];
}

/** Entry or undefined; EINVAL if `dir` is not a dir. */
export function peekEntry(dir: TreeObj, name: string): TreeObj | undefined {
  if (typeOf(dir) !== 'dir' || !isPlainObject(dir.data)) throw kvsError(errno.EINVAL);
  const data = dir.data as Record<string, TreeObj>;
  return hasOwn(data, name) ? data[name] : undefined;
}

/** treeobj_insert_entry(): validates the entry (EINVAL), replaces any entry of that name. */
export function insertEntry(dir: TreeObj, name: string, entry: unknown, opts: { novalidate?: boolean } = {}): void {
  if (typeof name !== 'string' || typeOf(dir) !== 'dir' || !isPlainObject(dir.data)) throw kvsError(errno.EINVAL);
  if (opts.novalidate ? typeOf(entry) === undefined : invalid(entry, 0)) throw kvsError(errno.EINVAL);
  setOwn(dir.data as Record<string, TreeObj>, name, entry as TreeObj);
}

/** treeobj_delete_entry(): EINVAL if not a dir, ENOENT if absent. */
export function deleteEntry(dir: TreeObj, name: string): void {
  if (typeOf(dir) !== 'dir' || !isPlainObject(dir.data)) throw kvsError(errno.EINVAL);
  const data = dir.data as Record<string, TreeObj>;
  if (!hasOwn(data, name)) throw kvsError(errno.ENOENT);
  delete data[name];
}

/** treeobj_append_blobref(): only for valref/dirref, and only valid blobrefs (EINVAL). */
export function appendBlobref(o: TreeObj, blobref: string): void {
  if (!isBlobref(blobref) || (o.type !== 'valref' && o.type !== 'dirref')) throw kvsError(errno.EINVAL);
  o.data.push(blobref);
}

/**
 * Deep copy of plain JSON (what tree objects are). Why not structuredClone: it serializes and
 * deserializes through V8's clone machinery, costing microseconds per small object; a client
 * transaction of 10,000 puts copies 20,000 of them and a lookup of a big directory copies every
 * entry. Same result for JSON data: own enumerable keys in the same order, "__proto__" kept as an
 * own key.
 */
function copyJson(v: unknown): unknown {
  if (typeof v !== 'object' || v === null) return v;
  if (Array.isArray(v)) {
    const a = new Array<unknown>(v.length);
    for (let i = 0; i < v.length; i++) a[i] = copyJson(v[i]);
    return a;
  }
  const src = v as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(src)) setOwn(out, k, copyJson(src[k]));
  return out;
}

/** Deep copy (tree objects are plain JSON). */
export function deepCopy<T extends TreeObj>(o: T): T {
  return copyJson(o) as T;
}

/**
 * treeobj_create_valref_buf(): a valref over `data` split in blobs of at most `maxBlob` bytes
 * (no split when maxBlob <= 0); a zero-length value still gets one (empty) blob. Returns the
 * object and the blobs, which the caller must store.
 */
export function createValrefBuf(hashName: HashName, maxBlob: number, data: Uint8Array): { valref: ValrefObj; blobs: Buffer[] } {
  const blobs: Buffer[] = [];
  let off = 0;
  do {
    const len = maxBlob > 0 ? Math.min(maxBlob, data.length - off) : data.length - off;
    blobs.push(Buffer.from(data.subarray(off, off + len)));
    off += len;
  } while (off < data.length);
  return { valref: { ver: 1, type: 'valref', data: blobs.map((b) => blobrefHash(hashName, b)) }, blobs };
}
