/**
 * Applying KVS transactions to a root: the server half of kvs.commit, after flux-core's kvstxn.c
 * (the queue that merges transactions is commit-manager.ts).
 *
 * Why it is shaped like this:
 *  - Copy-on-write: the root directory is copied, each op walks its key through the copy, and
 *    every directory it passes through is loaded from the content store and inlined (dirref -> dir)
 *    in the copy. Nothing already stored is modified. At the end the copy is "unrolled" depth
 *    first: each inlined dir is stored and replaced by a dirref, and each val whose base64 text is
 *    longer than 72 characters (BLOBREF_MAX_STRING_SIZE) is stored raw and replaced by a valref.
 *    Untouched subtrees stay dirrefs, so a commit stores only the path it changed.
 *  - The odd cases follow kvstxn_link_dirent(), not POSIX intuition: a put THROUGH a value
 *    (a.b=1 then a.b.c=2) silently replaces the value with a new directory; an unlink through a
 *    missing or non-directory component is a successful no-op; a symlink in the middle of a key
 *    is followed (target + rest of the key) within the namespace, and a symlink into ANOTHER
 *    namespace is EINVAL; putting or unlinking the root "." is EINVAL; a final symlink is replaced,
 *    never followed. APPEND: missing -> plain insert, val -> valref [old, new], valref -> one more
 *    blobref, symlink -> EOPNOTSUPP, dir/dirref -> EISDIR, a non-val dirent -> EPROTO.
 *  - Blobs are hashed locally (as flux-core does) and only stored once the whole transaction has
 *    succeeded, so a failed commit leaves nothing behind; they are then stored in bounded parallel
 *    batches and the store's answer is checked against our hash.
 *  - flux-core has no bound on symlink hops inside a commit (a cycle recurses until the broker
 *    dies); we stop at the lookup's limit with ELOOP instead.
 */
import type { FluxError } from '../libflux/errno';
import type { HashName } from '../libcontent/blobref';
import { blobrefHash, BLOBREF_MAX_STRING_SIZE } from '../libcontent/blobref';
import { base64DecodeStrict } from './base64';
import { ELOOP, ENOTRECOVERABLE, errno, kvsError } from './errors';
import { normalizeKey } from './key';
import * as treeobj from './treeobj';
import type { DirObj, TreeObj } from './treeobj';
import { decodeOp, FLUX_KVS_APPEND } from './txn';

/** The content store as the KVS sees it (content.load / content.store). */
export interface ContentStore {
  load(blobref: string): Promise<Buffer>;
  store(data: Buffer, hint?: StoreHint): Promise<string>;
  /**
   * Optional: store several blobs at once (one message instead of one per blob); resolves to
   * their blobrefs in order, or fails as the first failing store() would.
   */
  storeItems?(items: readonly StoreItem[]): Promise<string[]>;
  /**
   * Optional: the blob decoded as a tree object (undefined if it is not one), shared between
   * callers and never to be modified. A store that caches decoded objects (the kvs module's)
   * spares every lookup and commit re-parsing and re-validating large directories.
   */
  loadTreeObj?(blobref: string): Promise<TreeObj | undefined>;
}

/** What the committer already knows about a blob it stores. */
export interface StoreHint {
  /**
   * The blob decoded: a store that caches decoded objects may keep it, so the next commit
   * through this directory does not parse and validate it again. Never modified afterwards.
   */
  obj?: TreeObj;
  /** Its blobref, as the committer computed it (spares the store hashing it again). */
  ref?: string;
}

export interface StoreItem extends StoreHint {
  data: Buffer;
}

/** Load and decode a tree object through `store` (undefined if the blob is not one). */
export async function loadTreeObj(store: ContentStore, blobref: string): Promise<TreeObj | undefined> {
  if (store.loadTreeObj) return store.loadTreeObj(blobref);
  const buf = await store.load(blobref);
  try {
    return treeobj.decode(buf);
  } catch {
    return undefined;
  }
}

export interface ApplyOptions {
  /** content.hash of the instance (default sha1). */
  hashName?: HashName;
  /** Namespace the root belongs to: symlinks naming another namespace are refused. */
  namespace?: string;
}

export interface ApplyResult {
  rootref: string;
  /** Normalized keys of the ops, unique, in op order (the setroot event's "keys"). */
  keys: string[];
}

/** Symlink hops allowed while walking one key (flux-core's SYMLINK_CYCLE_LIMIT in lookup.c). */
export const SYMLINK_CYCLE_LIMIT = 10;

/** How many content.store requests one commit keeps in flight. */
const STORE_BATCH = 64;

function isFluxError(e: unknown): e is FluxError {
  return typeof e === 'object' && e !== null && typeof (e as { errnum?: unknown }).errnum === 'number';
}

function hasOwn(o: object, k: string): boolean {
  return Object.prototype.hasOwnProperty.call(o, k);
}

/**
 * A directory of the working tree that this transaction may modify: `data` is its own copy.
 * Spread (not Object.assign) so that an entry named "__proto__" is copied as a plain key.
 */
function copyDir(o: DirObj): DirObj {
  return { ver: 1, type: 'dir', data: { ...o.data } };
}

interface DirtyBlob {
  data: Buffer;
  obj?: TreeObj;
}

class Applier {
  private readonly hashName: HashName;
  private readonly namespace: string | undefined;
  /** Blobs to store once the transaction has succeeded, by blobref. */
  private readonly dirty = new Map<string, DirtyBlob>();
  /**
   * Directories of the working tree this transaction created or copied, and so may modify.
   * Copy-on-write, one level at a time: a directory loaded from the store is copied shallowly
   * (its entries are shared with the store's cached, immutable object) and only the directories
   * on a key's path are copied. The former deep copy of every directory loaded cost a commit into
   * a directory of N entries O(N) object allocations before any work was done.
   */
  private readonly owned = new WeakSet<object>();

  constructor(private readonly store: ContentStore, opts: ApplyOptions) {
    this.hashName = opts.hashName ?? 'sha1';
    this.namespace = opts.namespace;
  }

  /**
   * Load a tree object for the working tree: a directory comes back as this transaction's own
   * shallow copy. A blob that is not a tree object means a corrupt store (ENOTRECOVERABLE).
   */
  async loadObj(ref: string): Promise<TreeObj> {
    const o = await loadTreeObj(this.store, ref);
    if (!o) throw kvsError(ENOTRECOVERABLE);
    if (o.type !== 'dir') return treeobj.deepCopy(o);
    return this.own(copyDir(o));
  }

  private own<T extends object>(o: T): T {
    this.owned.add(o);
    return o;
  }

  /** `entry` (an inline dir in `dir` at `name`) made modifiable: copied unless already ours. */
  private ownDir(dir: DirObj, name: string, entry: DirObj): DirObj {
    if (this.owned.has(entry)) return entry;
    const copy = this.own(copyDir(entry));
    setEntry(dir, name, copy);
    return copy;
  }

  private storeRaw(data: Buffer, obj?: TreeObj): string {
    const ref = blobrefHash(this.hashName, data);
    if (!this.dirty.has(ref)) this.dirty.set(ref, { data, obj });
    return ref;
  }

  /** Store the decoded bytes of a val's base64 text (EPROTO if it does not decode). */
  private storeValData(val: TreeObj): string {
    const data = typeof val.data === 'string' ? base64DecodeStrict(val.data) : undefined;
    if (!data) throw kvsError(errno.EPROTO);
    return this.storeRaw(data);
  }

  /**
   * Store a tree object of the working tree. No validation walk: every entry in it was validated
   * on its way in (decoded from the store, checked by insertEntry, or built here), and
   * encodeTrusted() writes exactly what encode() would. A directory goes to the store with its
   * text and its canonical copy (encodeDirCanonical), which shares the entries: neither may change
   * afterwards, and they do not, since the caller replaces the directory by a dirref at once and
   * unroll() left no inline directory in it.
   */
  private storeObj(o: TreeObj): string {
    if (o.type === 'dir') {
      const { text, obj } = treeobj.encodeDirCanonical(o);
      return this.storeRaw(Buffer.from(text, 'utf8'), obj);
    }
    return this.storeRaw(Buffer.from(treeobj.encodeTrusted(o), 'utf8'));
  }

  /** kvstxn_link_dirent(): apply one op to the working copy of the root. */
  async link(root: DirObj, key: string, dirent: unknown, flags: number, hops = 0): Promise<void> {
    const k = normalizeKey(key);
    if (k === '.') throw kvsError(errno.EINVAL);
    const parts = k.split('.');
    let dir: DirObj = root;
    for (let i = 0; i < parts.length - 1; i++) {
      const name = parts[i];
      if (dir.type !== 'dir') throw kvsError(ENOTRECOVERABLE);
      const entry = hasOwn(dir.data, name) ? dir.data[name] : undefined;
      const type = entry?.type;
      if (entry !== undefined && type === 'dir') {
        dir = this.ownDir(dir, name, entry as DirObj);
      } else if (entry !== undefined && type === 'dirref') {
        if (treeobj.getCount(entry) !== 1) throw kvsError(ENOTRECOVERABLE);
        const sub = await this.loadObj(treeobj.getBlobref(entry, 0));
        setEntry(dir, name, sub);
        dir = sub as DirObj;
      } else if (entry !== undefined && type === 'symlink') {
        let link: { target: string; namespace?: string };
        try {
          link = treeobj.getSymlink(entry);
        } catch {
          throw kvsError(errno.EINVAL);
        }
        if (link.namespace !== undefined && link.namespace !== this.namespace) throw kvsError(errno.EINVAL);
        if (hops >= SYMLINK_CYCLE_LIMIT) throw kvsError(ELOOP);
        const rest = parts.slice(i + 1).join('.');
        return this.link(root, `${link.target}.${rest}`, dirent, flags, hops + 1);
      } else {
        // Missing, or a value in the way: an unlink has nothing to do; anything else gets a
        // fresh directory here (the value, if any, is discarded).
        if (dirent === null) return;
        const sub = this.own(treeobj.createDir());
        setEntry(dir, name, sub);
        dir = sub;
      }
    }
    const name = parts[parts.length - 1];
    if (dirent === null) {
      try {
        treeobj.deleteEntry(dir, name);
      } catch (e) {
        if (!isFluxError(e) || e.errnum !== errno.ENOENT) throw e;
      }
    } else if (flags & FLUX_KVS_APPEND) {
      this.append(dir, name, dirent);
    } else {
      // In stored key order, so that the directory cached after this commit answers lookups
      // with the JSON a freshly decoded blob would give.
      // Validated first, as insertEntry would (EINVAL; the copy must not walk a hostile payload).
      // `dir` is this transaction's own directory, or a non-directory a corrupt dirref led to.
      if (dir.type !== 'dir') throw kvsError(errno.EINVAL);
      treeobj.validate(dirent);
      setEntry(dir, name, treeobj.canonicalCopy(dirent) as TreeObj);
    }
  }

  /** kvstxn_append(). */
  private append(dir: TreeObj, name: string, dirent: unknown): void {
    if (treeobj.typeOf(dirent) !== 'val') throw kvsError(errno.EPROTO);
    const val = treeobj.canonicalCopy(dirent) as TreeObj;
    const entry = treeobj.typeOf(dir) === 'dir' ? treeobj.peekEntry(dir, name) : undefined;
    if (entry === undefined) {
      treeobj.insertEntry(dir, name, val);
      return;
    }
    switch (treeobj.typeOf(entry)) {
      case 'valref': {
        const ref = this.storeValData(val);
        const cpy = treeobj.deepCopy(entry);
        treeobj.appendBlobref(cpy, ref);
        treeobj.insertEntry(dir, name, cpy, { novalidate: true });
        return;
      }
      case 'val': {
        const ref1 = this.storeValData(entry);
        const ref2 = this.storeValData(val);
        treeobj.insertEntry(dir, name, valref(ref1, ref2));
        return;
      }
      case 'symlink':
        throw kvsError(errno.EOPNOTSUPP);
      case 'dir':
      case 'dirref':
        throw kvsError(errno.EISDIR);
      default:
        throw kvsError(ENOTRECOVERABLE);
    }
  }

  /**
   * kvstxn_unroll(): store inlined dirs as dirrefs and long vals as valrefs, depth first. Only
   * directories of the working tree can hold inline dirs or new long vals: a directory decoded
   * from the store was unrolled before it was stored (it may still hold a long val written by
   * another implementation; that one is converted, as flux-core's unroll would, when its
   * directory is on this commit's path).
   */
  unroll(dir: DirObj): void {
    const data = dir.data;
    for (const name of Object.keys(data)) {
      const entry = data[name];
      const type = entry.type;
      if (type === 'dir') {
        const sub = this.ownDir(dir, name, entry);
        this.unroll(sub);
        const ref = this.storeObj(sub);
        setEntry(dir, name, dirref(ref));
      } else if (type === 'val' && typeof entry.data === 'string' && entry.data.length > BLOBREF_MAX_STRING_SIZE) {
        const ref = this.storeValData(entry);
        setEntry(dir, name, valref(ref));
      }
    }
  }

  storeRoot(root: DirObj): string {
    return this.storeObj(root);
  }

  /** Store every dirty blob, a bounded batch at a time, and check the store agrees on the hash. */
  async flush(): Promise<void> {
    const entries = [...this.dirty];
    for (let i = 0; i < entries.length; i += STORE_BATCH) {
      const batch = entries.slice(i, i + STORE_BATCH);
      const items = batch.map(([ref, b]): StoreItem => ({ data: b.data, obj: b.obj, ref }));
      const refs = this.store.storeItems
        ? await this.store.storeItems(items)
        : await Promise.all(items.map((it) => this.store.store(it.data, it)));
      refs.forEach((ref, j) => {
        if (ref !== batch[j][0]) {
          throw kvsError(errno.EPROTO);
        }
      });
    }
    this.dirty.clear();
  }
}

/** A dirref / valref to blobrefs we computed, keys in stored order (see storeObj). */
function dirref(ref: string): TreeObj {
  return { data: [ref], type: 'dirref', ver: 1 };
}

function valref(...refs: string[]): TreeObj {
  return { data: refs, type: 'valref', ver: 1 };
}

/**
 * Put an entry known to be valid into a working-tree directory (treeobj.insertEntry without
 * the validation walk, for entries this module built or took from a validated object).
 */
function setEntry(dir: DirObj, name: string, entry: TreeObj): void {
  if (name === '__proto__') Object.defineProperty(dir.data, name, { value: entry, enumerable: true, writable: true, configurable: true });
  else dir.data[name] = entry;
}

/** keys_from_ops(): normalized, unique, in op order. */
export function keysFromOps(ops: readonly unknown[]): string[] {
  const seen = new Set<string>();
  for (const op of ops) seen.add(normalizeKey(decodeOp(op).key));
  return [...seen];
}

/**
 * Apply `ops` (as received in kvs.commit) to the tree at `rootref`; all or nothing. Returns the
 * new root's blobref (stored) and the keys the ops named. Errors are FluxErrors with flux-core's
 * errno; the store's own errors (e.g. ENOENT for a missing blob) pass through.
 */
export async function applyOps(store: ContentStore, rootref: string, ops: readonly unknown[], opts: ApplyOptions = {}): Promise<ApplyResult> {
  if (!Array.isArray(ops)) throw kvsError(errno.EPROTO);
  const decoded = ops.map((op) => decodeOp(op));
  const keys = [...new Set(decoded.map((op) => normalizeKey(op.key)))];
  if (decoded.length === 0) return { rootref, keys };
  const a = new Applier(store, opts);
  const root = await a.loadObj(rootref);
  if (root.type !== 'dir') throw kvsError(ENOTRECOVERABLE);
  for (const op of decoded) await a.link(root, op.key, op.dirent, op.flags);
  a.unroll(root);
  const newroot = a.storeRoot(root);
  await a.flush();
  return { rootref: newroot, keys };
}

/** The empty root directory and its blobref, for creating a namespace. */
export function emptyDir(hashName: HashName = 'sha1'): { obj: DirObj; blobref: string; data: Buffer } {
  const obj = treeobj.createDir();
  const data = treeobj.encodeBuffer(obj);
  return { obj, blobref: blobrefHash(hashName, data), data };
}
