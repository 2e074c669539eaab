/**
 * KVS lookup: resolve a key from a root blobref over the content store, after flux-core's
 * modules/kvs/lookup.c and the kvs.lookup handler in kvs.c.
 *
 * Why it behaves as it does (each rule is flux-core's, including the surprising ones):
 *  - A key that does not resolve is ENOENT, and that includes a path THROUGH a value
 *    (a=1, lookup a.b): the walk gives up without an error and kvs.c answers ENOENT. ENOTDIR is
 *    only for FLUX_KVS_READDIR on a value. (The reference notes say ENOTDIR for the former; the
 *    code says ENOENT, and the code is what peers see.)
 *  - A directory without READDIR is EISDIR; READLINK on anything but a symlink is EINVAL, checked
 *    before READDIR; TREEOBJ returns the entry as stored (valref and dirref not dereferenced, a
 *    final symlink not followed); the root "." with TREEOBJ is a dirref to the root.
 *  - Symlinks are absolute keys, followed in the middle of a path always and at the end unless
 *    READLINK or TREEOBJ is set. Nesting is bounded (SYMLINK_CYCLE_LIMIT = 10 levels): deeper is
 *    ELOOP, which also ends cycles.
 *  - A symlink into another namespace cannot be resolved here (its root belongs to another
 *    namespace, with its own owner check). The lookup returns a redirect — the namespace and the
 *    key to look up there — and the caller continues in that namespace with the same flags,
 *    passing `symlinkDepth` so the cycle bound still holds across namespaces.
 *  - A corrupt root given by the caller (lookupat with a dirref to a non-directory) is EINVAL, a
 *    corrupt object found inside the tree is ENOTRECOVERABLE.
 * valrefs are read with their blobs fetched in parallel and concatenated into one val.
 */
import { ELOOP, ENOTRECOVERABLE, errno, kvsError } from './errors';
import { normalizeKey } from './key';
import { loadTreeObj, type ContentStore } from './commit';
import * as treeobj from './treeobj';
import type { TreeObj } from './treeobj';

export const FLUX_KVS_READDIR = 1;
export const FLUX_KVS_READLINK = 2;
export const FLUX_KVS_TREEOBJ = 16;
/** flux/kvs.h's streaming-lookup flags, served by kvs-watch (not by kvs.lookup itself). */
export const FLUX_KVS_WATCH = 4;
export const FLUX_KVS_WAITCREATE = 8;
export const FLUX_KVS_WATCH_FULL = 64;
export const FLUX_KVS_WATCH_UNIQ = 128;
export const FLUX_KVS_WATCH_APPEND = 256;
export const FLUX_KVS_STREAM = 512;

/** Symlink nesting allowed (lookup.c's SYMLINK_CYCLE_LIMIT). */
export const SYMLINK_CYCLE_LIMIT = 10;

export interface LookupOptions {
  flags?: number;
  /** Namespace `rootref` belongs to; symlinks naming another one produce a redirect. */
  namespace?: string;
  /** Symlink levels already followed (when continuing a redirect). */
  symlinkDepth?: number;
}

export interface LookupRedirect {
  namespace: string;
  key: string;
  symlinkDepth: number;
}

export type LookupResult = { val: TreeObj } | { redirect: LookupRedirect };

const NOTFOUND = Symbol('notfound');
type WalkResult = TreeObj | typeof NOTFOUND | { redirect: LookupRedirect };

function isRedirect(r: WalkResult): r is { redirect: LookupRedirect } {
  return typeof r === 'object' && r !== null && 'redirect' in r;
}

function appendRest(key: string, rest: string): string {
  return rest.length > 0 ? `${key}.${rest}` : key;
}

class Lookup {
  private readonly loaded = new Map<string, TreeObj>();

  constructor(
    private readonly store: ContentStore,
    private readonly rootref: string,
    private readonly flags: number,
    private readonly namespace: string | undefined,
  ) {}

  private async load(ref: string): Promise<TreeObj | undefined> {
    let o = this.loaded.get(ref);
    if (!o) {
      o = await loadTreeObj(this.store, ref);
      if (!o) return undefined;
      this.loaded.set(ref, o);
    }
    return o;
  }

  /** Directory a dirref points to; `isRoot` picks EINVAL (caller's root) over ENOTRECOVERABLE. */
  private async loadDir(dirref: TreeObj, isRoot: boolean): Promise<TreeObj> {
    if (treeobj.getCount(dirref) !== 1) throw kvsError(ENOTRECOVERABLE);
    const dir = await this.load(treeobj.getBlobref(dirref, 0));
    if (!dir || dir.type !== 'dir') throw kvsError(isRoot ? errno.EINVAL : ENOTRECOVERABLE);
    return dir;
  }

  /** lookup.c walk(): the dirent at `parts` from the root, NOTFOUND, or a redirect. */
  async walk(parts: string[], depth: number): Promise<WalkResult> {
    const rootDirent = treeobj.createDirref(this.rootref);
    let dirent: TreeObj = rootDirent;
    for (let i = 0; i < parts.length; i++) {
      const type = treeobj.typeOf(dirent);
      let dir: TreeObj;
      if (type === 'dirref') {
        dir = await this.loadDir(dirent, depth === 0 && dirent === rootDirent);
      } else if (type === 'val' || type === 'valref') {
        return NOTFOUND;
      } else {
        throw kvsError(ENOTRECOVERABLE);
      }
      const entry = treeobj.peekEntry(dir, parts[i]);
      if (entry === undefined) return NOTFOUND;
      const last = i === parts.length - 1;
      if (treeobj.typeOf(entry) === 'symlink'
          && (!last || !(this.flags & (FLUX_KVS_READLINK | FLUX_KVS_TREEOBJ)))) {
        if (depth >= SYMLINK_CYCLE_LIMIT) throw kvsError(ELOOP);
        const link = treeobj.getSymlink(entry);
        const rest = parts.slice(i + 1).join('.');
        if (link.namespace !== undefined && link.namespace !== this.namespace) {
          return { redirect: { namespace: link.namespace, key: appendRest(link.target, rest), symlinkDepth: depth + 1 } };
        }
        const r = await this.walk(link.target.split('.'), depth + 1);
        if (r === NOTFOUND) return NOTFOUND;
        if (isRedirect(r)) return { redirect: { ...r.redirect, key: appendRest(r.redirect.key, rest) } };
        dirent = r;
        continue;
      }
      dirent = entry;
    }
    return dirent;
  }

  private async valrefValue(valref: TreeObj): Promise<TreeObj> {
    const n = treeobj.getCount(valref);
    if (n === 0) throw kvsError(ENOTRECOVERABLE);
    const refs = Array.from({ length: n }, (_, i) => treeobj.getBlobref(valref, i));
    const parts: Buffer[] = [];
    // Bounded parallelism: a long append log can have thousands of blobs.
    for (let i = 0; i < refs.length; i += 64) {
      parts.push(...await Promise.all(refs.slice(i, i + 64).map((r) => this.store.load(r))));
    }
    return treeobj.createVal(Buffer.concat(parts));
  }

  /** The LOOKUP_STATE_VALUE step: turn the walked dirent into the reply's value. */
  async value(dirent: TreeObj): Promise<TreeObj> {
    const f = this.flags;
    if (f & FLUX_KVS_TREEOBJ) return treeobj.deepCopy(dirent);
    switch (treeobj.typeOf(dirent)) {
      case 'dirref': {
        if (f & FLUX_KVS_READLINK) throw kvsError(errno.EINVAL);
        if (!(f & FLUX_KVS_READDIR)) throw kvsError(errno.EISDIR);
        return treeobj.deepCopy(await this.loadDir(dirent, false));
      }
      case 'valref':
        if (f & FLUX_KVS_READLINK) throw kvsError(errno.EINVAL);
        if (f & FLUX_KVS_READDIR) throw kvsError(errno.ENOTDIR);
        return this.valrefValue(dirent);
      case 'dir':
        if (f & FLUX_KVS_READLINK) throw kvsError(errno.EINVAL);
        if (!(f & FLUX_KVS_READDIR)) throw kvsError(errno.EISDIR);
        return treeobj.deepCopy(dirent);
      case 'val':
        if (f & FLUX_KVS_READLINK) throw kvsError(errno.EINVAL);
        if (f & FLUX_KVS_READDIR) throw kvsError(errno.ENOTDIR);
        return treeobj.deepCopy(dirent);
      case 'symlink':
        if (!(f & FLUX_KVS_READLINK)) throw kvsError(errno.EPROTO);
        if (f & FLUX_KVS_READDIR) throw kvsError(errno.ENOTDIR);
        return treeobj.deepCopy(dirent);
      default:
        throw kvsError(ENOTRECOVERABLE);
    }
  }

  /** The root "." special case. */
  async root(): Promise<TreeObj> {
    if (this.flags & FLUX_KVS_TREEOBJ) return treeobj.createDirref(this.rootref);
    if (!(this.flags & FLUX_KVS_READDIR)) throw kvsError(errno.EISDIR);
    const dir = await this.load(this.rootref);
    if (!dir) throw kvsError(errno.EINVAL);
    if (dir.type !== 'dir') throw kvsError(ENOTRECOVERABLE);
    return treeobj.deepCopy(dir);
  }
}

/**
 * Look up `key` in the tree rooted at `rootref`. Resolves to the value (an RFC 11 object, as the
 * kvs.lookup reply's "val") or to a redirect into another namespace; rejects with a FluxError
 * (ENOENT, EISDIR, ENOTDIR, EINVAL, EPROTO, ELOOP, ENOTRECOVERABLE, or the store's error).
 */
export async function lookup(store: ContentStore, rootref: string, key: string, opts: LookupOptions = {}): Promise<LookupResult> {
  const flags = opts.flags ?? 0;
  const lh = new Lookup(store, rootref, flags, opts.namespace);
  const path = normalizeKey(key);
  if (path === '.') return { val: await lh.root() };
  const r = await lh.walk(path.split('.'), opts.symlinkDepth ?? 0);
  if (r === NOTFOUND) throw kvsError(errno.ENOENT);
  if (isRedirect(r)) return r;
  return { val: await lh.value(r) };
}
