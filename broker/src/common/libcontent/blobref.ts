/**
 * Blobrefs: the names of content-store blobs (RFC 10), `<hash>-<lowercase hex digest>`.
 *
 * Why this module exists: every layer above the content store (KVS tree objects, checkpoints,
 * content.load/store) names blobs this way, and interoperating with flux-core means accepting and
 * rejecting exactly the strings its libutil/blobref.c does. In particular validation insists on
 * lowercase hex of the exact digest length, while digest parsing (used to turn a blobref into the
 * raw digest bytes that content.load takes) tolerates uppercase, as flux-core's hex decoder does.
 * The wire carries raw digests, not strings, so conversions both ways live here too.
 */
import type * as NodeCrypto from 'node:crypto';

/**
 * node:crypto, loaded when first needed: loading it costs a `flux` process 10–20 ms at start-up,
 * and most commands (`flux kvs get`) never hash anything.
 */
let cryptoModule: typeof NodeCrypto | undefined;
function nodeCrypto(): typeof NodeCrypto {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- deliberately lazy (see above)
  return (cryptoModule ??= require('node:crypto') as typeof NodeCrypto);
}
import { FluxError, errno } from '../libflux/errno';

export type HashName = 'sha1' | 'sha256';

/** Digest sizes of the hash functions flux-core knows (content.hash attribute values). */
const DIGEST_SIZE: Record<HashName, number> = { sha1: 20, sha256: 32 };

/** flux-core's BLOBREF_MAX_STRING_SIZE: "sha256-" + 64 hex + NUL. The KVS uses it as a size threshold. */
export const BLOBREF_MAX_STRING_SIZE = 72;
/** flux-core's BLOBREF_MAX_DIGEST_SIZE. */
export const BLOBREF_MAX_DIGEST_SIZE = 32;

/**
 * Find the hash function a name or blobref refers to: `sha1` itself or anything starting `sha1-`
 * (flux-core looks both up with one function, so `sha1-` alone also "names" sha1).
 */
function lookupHash(s: string): HashName | undefined {
  for (const name of Object.keys(DIGEST_SIZE) as HashName[]) {
    if (s === name || s.startsWith(`${name}-`)) return name;
  }
  return undefined;
}

/** Digest size for a hash name; EINVAL for names flux-core does not know. */
export function hashDigestSize(hashName: string): number {
  const h = lookupHash(hashName);
  if (!h || h !== hashName) throw new FluxError(errno.EINVAL);
  return DIGEST_SIZE[h];
}

export function isHashName(s: string): s is HashName {
  return Object.prototype.hasOwnProperty.call(DIGEST_SIZE, s);
}

/** Raw digest of `data` (no size prefix, no terminator: exactly the bytes given). */
export function hashRaw(hashName: HashName, data: Uint8Array): Buffer {
  if (!isHashName(hashName)) throw new FluxError(errno.EINVAL);
  const c = nodeCrypto();
  // One-shot crypto.hash (Node ≥ 20.12) skips creating a Hash object: half the cost for the
  // small blobs the KVS makes by the thousand.
  if (typeof c.hash === 'function') return c.hash(hashName, data, 'buffer');
  return c.createHash(hashName).update(data).digest();
}

/** Blobref of `data`, e.g. `sha1-aaf4c61d...`. */
export function blobrefHash(hashName: HashName, data: Uint8Array): string {
  return `${hashName}-${hashRaw(hashName, data).toString('hex')}`;
}

function isLowerHex(s: string): boolean {
  return /^[0-9a-f]*$/.test(s);
}

/** True if `s` is a well-formed blobref (known hash, lowercase hex, exact digest length). */
export function isBlobref(s: unknown): s is string {
  if (typeof s !== 'string') return false;
  const h = lookupHash(s);
  if (!h) return false;
  const hex = s.slice(h.length + 1);
  return s.length > h.length && hex.length === DIGEST_SIZE[h] * 2 && isLowerHex(hex);
}

/** Throw EINVAL unless `s` is a valid blobref (flux-core's blobref_validate). */
export function blobrefValidate(s: unknown): asserts s is string {
  if (!isBlobref(s)) throw new FluxError(errno.EINVAL);
}

/** Hash name of a valid blobref. */
export function blobrefHashName(blobref: string): HashName {
  blobrefValidate(blobref);
  return lookupHash(blobref) as HashName;
}

/**
 * Raw digest bytes of a blobref, as content.load wants them. Like flux-core's blobref_strtohash,
 * hex digits of either case are accepted here; the length must be exact.
 */
export function blobrefToDigest(blobref: string): Buffer {
  const h = lookupHash(blobref);
  if (!h) throw new FluxError(errno.EINVAL);
  const hex = blobref.slice(h.length + 1);
  if (blobref.length <= h.length || hex.length !== DIGEST_SIZE[h] * 2 || !/^[0-9a-fA-F]*$/.test(hex)) {
    throw new FluxError(errno.EINVAL);
  }
  return Buffer.from(hex, 'hex');
}

/** Blobref for a raw digest (content.store replies and content.load requests carry these). */
export function digestToBlobref(hashName: HashName, digest: Uint8Array): string {
  if (!isHashName(hashName) || digest.length !== DIGEST_SIZE[hashName]) throw new FluxError(errno.EINVAL);
  return `${hashName}-${Buffer.from(digest.buffer, digest.byteOffset, digest.byteLength).toString('hex')}`;
}
