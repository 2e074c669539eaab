/**
 * The KVS client API: the TypeScript counterpart of flux-core's flux_kvs_* functions (libkvs) and
 * of Python's flux.kvs, speaking flux-core's RPCs so it works against our kvs module and a real
 * flux-core broker alike.
 *
 * Why it is shaped like this:
 *  - Every call takes the handle and an options object instead of flux-core's positional
 *    (h, ns, flags, key) lists; the wire payloads are exactly libkvs's: `kvs.lookup
 *    {key,namespace,flags}` (or `{key,flags,rootdir}` at a snapshot), `kvs.commit
 *    {namespace,flags,ops}`, `kvs.getroot {namespace}`, `kvs.wait-version {rootseq,namespace}`,
 *    `kvs.namespace-create/remove` to rank 0, `kvs.namespace-list`, `kvs-watch.lookup` for
 *    WATCH/WAITCREATE/STREAM and `kvs-watch.cancel {matchtag}` (no response) to stop a stream.
 *  - Flag checks happen before anything is sent, with flux-core's errno (EINVAL), so a bad call
 *    fails the same way here as in C.
 *  - copy/move are client-side compositions, as flux_kvs_copy/move are: lookup TREEOBJ, then
 *    commit put_treeobj in the destination namespace, then (move) an unlink commit in the source.
 *    They are not atomic across the two commits, exactly like flux-core.
 *  - The default namespace is $FLUX_KVS_NAMESPACE, else "primary", read at each call (libkvs
 *    reads the environment each time too).
 */
import { FluxError, errno } from '../libflux/errno';
import type { Flux, Rpc } from '../libflux/handle';
import { FLAG_NORESPONSE, FLAG_STREAMING, USERID_UNKNOWN, getJson } from '../libflux/message';
import type { HashName } from '../libcontent/blobref';
import {
  FLUX_KVS_READDIR, FLUX_KVS_READLINK, FLUX_KVS_TREEOBJ,
  FLUX_KVS_WATCH, FLUX_KVS_WAITCREATE, FLUX_KVS_WATCH_FULL, FLUX_KVS_WATCH_UNIQ, FLUX_KVS_WATCH_APPEND, FLUX_KVS_STREAM,
} from './lookup';
import * as treeobj from './treeobj';
import type { TreeObj } from './treeobj';
import { KvsTxn } from './txn';
import { KVSDir } from './client-dir';

export {
  FLUX_KVS_READDIR, FLUX_KVS_READLINK, FLUX_KVS_TREEOBJ,
  FLUX_KVS_WATCH, FLUX_KVS_WAITCREATE, FLUX_KVS_WATCH_FULL, FLUX_KVS_WATCH_UNIQ, FLUX_KVS_WATCH_APPEND, FLUX_KVS_STREAM,
} from './lookup';
export { KVSDir, keyAt, type WalkEntry } from './client-dir';
export { FLUX_KVS_NO_MERGE, FLUX_KVS_TXN_COMPACT, FLUX_KVS_SYNC, FLUX_KVS_APPEND, KvsTxn } from './txn';

export const KVS_PRIMARY_NAMESPACE = 'primary';

const WATCH_MODIFIERS = FLUX_KVS_WATCH_FULL | FLUX_KVS_WATCH_UNIQ | FLUX_KVS_WATCH_APPEND;

/** $FLUX_KVS_NAMESPACE, else "primary" (kvs_get_namespace()). */
export function defaultNamespace(): string {
  const ns = process.env.FLUX_KVS_NAMESPACE;
  return ns !== undefined && ns.length > 0 ? ns : KVS_PRIMARY_NAMESPACE;
}

/**
 * validate_lookup_flags(): WATCH and its modifiers, WAITCREATE and STREAM only where the
 * kvs-watch path is allowed, modifiers only with WATCH, and the rest one of the five
 * combinations the kvs module accepts.
 */
export function validateLookupFlags(flags: number, watchOk: boolean): boolean {
  if (!Number.isInteger(flags) || flags < 0) return false;
  if ((flags & FLUX_KVS_WATCH) && !watchOk) return false;
  if ((flags & WATCH_MODIFIERS) && !(flags & FLUX_KVS_WATCH)) return false;
  if ((flags & (FLUX_KVS_WAITCREATE | FLUX_KVS_STREAM)) && !watchOk) return false;
  const rest = flags & ~(FLUX_KVS_WATCH | WATCH_MODIFIERS | FLUX_KVS_WAITCREATE | FLUX_KVS_STREAM);
  return rest === 0 || rest === FLUX_KVS_TREEOBJ || rest === FLUX_KVS_READDIR
    || rest === (FLUX_KVS_READDIR | FLUX_KVS_TREEOBJ) || rest === FLUX_KVS_READLINK;
}

/** The dirref text flux_kvs_commit_get_treeobj()/getroot_get_treeobj() print for a root. */
export function rootTreeobj(rootref: string): string {
  return treeobj.encode(treeobj.createDirref(rootref));
}

export interface LookupOptions {
  namespace?: string;
  flags?: number;
  /** Look up relative to this RFC 11 snapshot (a dirref), as flux_kvs_lookupat(). */
  atRoot?: TreeObj | string;
}

/** A lookup's answer with flux_kvs_lookup_get_*()'s getters. */
export class KvsLookupResult {
  constructor(
    readonly h: Flux,
    /** The key as it was asked for (flux_kvs_lookup_get_key()). */
    readonly key: string,
    readonly treeobj: TreeObj,
    readonly namespace: string,
    /** The snapshot the lookup was relative to, if any. */
    readonly atRoot?: string,
  ) {}

  /** flux_kvs_lookup_get_treeobj(): the object's encoded text. */
  treeobjText(): string {
    return treeobj.encode(this.treeobj);
  }

  /** flux_kvs_lookup_get_raw(): EINVAL unless the answer is a value. */
  raw(): Buffer {
    return treeobj.decodeVal(this.treeobj);
  }

  /** flux_kvs_lookup_get(): the value as UTF-8 text. */
  string(): string {
    return this.raw().toString('utf8');
  }

  /** flux_kvs_lookup_get_unpack(): the value parsed as JSON (any JSON value); EINVAL if it is not. */
  json<T = unknown>(): T {
    try {
      return JSON.parse(this.string()) as T;
    } catch {
      throw new FluxError(errno.EINVAL);
    }
  }

  /** flux_kvs_lookup_get_dir(): EINVAL unless the answer is a (READDIR) directory. */
  dir(): KVSDir {
    if (this.treeobj.type !== 'dir') throw new FluxError(errno.EINVAL);
    return new KVSDir(this.h, this.key, this.treeobj, { namespace: this.namespace, atRoot: this.atRoot });
  }

  /** flux_kvs_lookup_get_symlink(): EINVAL unless the answer is a (READLINK) symlink. */
  symlink(): { namespace?: string; target: string } {
    return treeobj.getSymlink(this.treeobj);
  }
}

function decodeVal(payload: Record<string, unknown>): TreeObj {
  // decode_treeobj(): a reply whose "val" is not a tree object is a protocol error.
  if (!treeobj.isTreeObj(payload.val)) throw new FluxError(errno.EPROTO);
  return payload.val;
}

function atRootText(at: TreeObj | string): { text: string; obj: unknown } {
  if (typeof at !== 'string') return { text: treeobj.encode(at), obj: at };
  try {
    return { text: at, obj: JSON.parse(at) as unknown };
  } catch {
    throw new FluxError(errno.EINVAL);
  }
}

/**
 * flux_kvs_lookup() / flux_kvs_lookupat(): one answer. WAITCREATE (without WATCH) goes to the
 * kvs-watch module and answers once the key exists; WATCH and STREAM answer many times, so they
 * belong to watch() and are EINVAL here.
 */
export async function lookup(h: Flux, key: string, opts: LookupOptions = {}): Promise<KvsLookupResult> {
  const flags = opts.flags ?? 0;
  if (typeof key !== 'string' || key.length === 0) throw new FluxError(errno.EINVAL);
  if (flags & (FLUX_KVS_WATCH | FLUX_KVS_STREAM)) throw new FluxError(errno.EINVAL);
  const ns = opts.namespace ?? defaultNamespace();
  if (opts.atRoot !== undefined) {
    if (!validateLookupFlags(flags, false)) throw new FluxError(errno.EINVAL);
    const at = atRootText(opts.atRoot);
    const r = await h.rpc('kvs.lookup', { key, flags, rootdir: at.obj as Record<string, unknown> }).get();
    return new KvsLookupResult(h, key, decodeVal(r), ns, at.text);
  }
  if (!validateLookupFlags(flags, true)) throw new FluxError(errno.EINVAL);
  const topic = flags & FLUX_KVS_WAITCREATE ? 'kvs-watch.lookup' : 'kvs.lookup';
  let r: Record<string, unknown>;
  try {
    r = await h.rpc(topic, { key, namespace: ns, flags }).get();
  } catch (e) {
    throw topic === 'kvs.lookup' ? e : watchError(e);
  }
  return new KvsLookupResult(h, key, decodeVal(r), ns);
}

/**
 * Watching is the kvs-watch module's job, loaded separately from kvs: say so when it is missing
 * rather than leaving a bare "Function not implemented" (the errno stays ENOSYS).
 */
function watchError(e: unknown): unknown {
  if (e instanceof FluxError && e.errnum === errno.ENOSYS && !/kvs-watch/.test(e.hasText ? e.message : '')) {
    return new FluxError(errno.ENOSYS, 'kvs-watch module is not loaded');
  }
  return e;
}

/**
 * A stream of lookup answers over kvs-watch.lookup (flux_kvs_lookup() with WATCH, STREAM, or
 * WAITCREATE), as an async iterator. cancel() sends kvs-watch.cancel; the stream then ends
 * quietly at the module's ENODATA, as flux_kvs_lookup_cancel() arranges. Leaving a for-await
 * loop early cancels too.
 */
export class KvsWatch implements AsyncIterable<KvsLookupResult> {
  private readonly rpc: Rpc;
  private done = false;
  private canceled = false;

  constructor(private readonly h: Flux, readonly key: string, readonly namespace: string, readonly flags: number) {
    const streaming = (flags & (FLUX_KVS_WATCH | FLUX_KVS_STREAM)) !== 0;
    this.rpc = h.rpc('kvs-watch.lookup', { key, namespace, flags }, { flags: streaming ? FLAG_STREAMING : 0 });
  }

  get matchtag(): number {
    return this.rpc.matchtag;
  }

  /** flux_kvs_lookup_cancel(): ask the module to end the stream (no response of its own). */
  cancel(): void {
    if (this.done || this.canceled) return;
    this.canceled = true;
    this.h.rpc('kvs-watch.cancel', { matchtag: this.rpc.matchtag }, { flags: FLAG_NORESPONSE });
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<KvsLookupResult> {
    try {
      for await (const m of this.rpc) {
        yield new KvsLookupResult(this.h, this.key, decodeVal(getJson(m)), this.namespace);
      }
      this.done = true;
    } catch (e) {
      this.done = true;
      throw watchError(e);
    } finally {
      if (!this.done) {
        // Left early (break/throw): stop the server side and drop what is still in flight.
        try {
          this.cancel();
        } catch {
          // the connection is gone: nothing left to cancel
        }
        this.rpc.cancelLocal();
        this.done = true;
      }
    }
  }
}

export interface WatchOptions {
  namespace?: string;
  /** Lookup flags; WATCH is added unless STREAM or WAITCREATE alone was asked for. */
  flags?: number;
}

/** flux_kvs_lookup() with FLUX_KVS_WATCH (and WAITCREATE/UNIQ/APPEND/FULL as given). */
export function watch(h: Flux, key: string, opts: WatchOptions = {}): KvsWatch {
  let flags = opts.flags ?? 0;
  if (!(flags & (FLUX_KVS_STREAM | FLUX_KVS_WAITCREATE))) flags |= FLUX_KVS_WATCH;
  if (typeof key !== 'string' || key.length === 0 || !validateLookupFlags(flags, true)) throw new FluxError(errno.EINVAL);
  return new KvsWatch(h, key, opts.namespace ?? defaultNamespace(), flags);
}

export interface CommitOptions {
  namespace?: string;
  flags?: number;
}

export interface CommitResult {
  rootref: string;
  rootseq: number;
}

/** flux_kvs_commit(): send the transaction's ops; resolves to the new root. */
export async function commit(h: Flux, txn: KvsTxn, opts: CommitOptions = {}): Promise<CommitResult> {
  const r = await h.rpc('kvs.commit', {
    namespace: opts.namespace ?? defaultNamespace(),
    flags: opts.flags ?? 0,
    ops: txn.toOps() as unknown as Record<string, unknown>[],
  }).get();
  if (typeof r.rootref !== 'string' || !Number.isInteger(r.rootseq)) throw new FluxError(errno.EPROTO);
  return { rootref: r.rootref, rootseq: r.rootseq as number };
}

export interface RootInfo {
  namespace: string;
  owner: number;
  rootseq: number;
  rootref: string;
  flags: number;
}

/** flux_kvs_getroot(): the namespace's current root. */
export async function getroot(h: Flux, opts: { namespace?: string } = {}): Promise<RootInfo> {
  const ns = opts.namespace ?? defaultNamespace();
  const r = await h.rpc('kvs.getroot', { namespace: ns }).get();
  if (typeof r.rootref !== 'string' || !Number.isInteger(r.rootseq) || !Number.isInteger(r.owner)) {
    throw new FluxError(errno.EPROTO);
  }
  return {
    namespace: typeof r.namespace === 'string' ? r.namespace : ns,
    owner: r.owner as number,
    rootseq: r.rootseq as number,
    rootref: r.rootref,
    flags: Number.isInteger(r.flags) ? (r.flags as number) : 0,
  };
}

/** flux_kvs_get_version(): the root sequence number. */
export async function getVersion(h: Flux, opts: { namespace?: string } = {}): Promise<number> {
  return (await getroot(h, opts)).rootseq;
}

/** flux_kvs_wait_version(): resolves once the local KVS has reached `version`. */
export async function waitVersion(h: Flux, version: number, opts: { namespace?: string } = {}): Promise<void> {
  await h.rpc('kvs.wait-version', { rootseq: version, namespace: opts.namespace ?? defaultNamespace() }).response();
}

export interface NamespaceCreateOptions {
  /** Owner userid; default the instance owner (FLUX_USERID_UNKNOWN on the wire). */
  owner?: number;
  /** Initial root blobref (flux_kvs_namespace_create_with()); default an empty directory. */
  rootref?: string;
  flags?: number;
}

/**
 * flux_kvs_namespace_create[_with](). The empty-directory root is hashed here with the
 * instance's content.hash, as libkvs does; the kvs module stored that blob when it started.
 */
export async function namespaceCreate(h: Flux, namespace: string, opts: NamespaceCreateOptions = {}): Promise<void> {
  const flags = opts.flags ?? 0;
  if (typeof namespace !== 'string' || flags !== 0) throw new FluxError(errno.EINVAL);
  let rootref = opts.rootref;
  if (rootref === undefined) {
    let hashName: HashName = 'sha1';
    try {
      const a = await h.getattr('content.hash');
      if (a === 'sha1' || a === 'sha256') hashName = a;
    } catch (e) {
      if (!(e instanceof FluxError && e.errnum === errno.ENOENT)) throw e;
    }
    rootref = treeobj.hash(hashName, treeobj.createDir());
  }
  // libkvs packs the owner with "s:i": FLUX_USERID_UNKNOWN travels as -1.
  const owner = opts.owner === undefined || opts.owner === USERID_UNKNOWN ? -1 : opts.owner | 0;
  await h.rpc('kvs.namespace-create', { namespace, rootref, owner, flags }, { nodeid: 0 }).response();
}

/** flux_kvs_namespace_remove(): removal completes in the background. */
export async function namespaceRemove(h: Flux, namespace: string): Promise<void> {
  if (typeof namespace !== 'string') throw new FluxError(errno.EINVAL);
  await h.rpc('kvs.namespace-remove', { namespace }, { nodeid: 0 }).response();
}

export interface NamespaceInfo {
  namespace: string;
  owner: number;
  flags: number;
}

/** kvs.namespace-list: the namespaces this rank knows. */
export async function namespaceList(h: Flux): Promise<NamespaceInfo[]> {
  const r = await h.rpc('kvs.namespace-list').get();
  if (!Array.isArray(r.namespaces)) throw new FluxError(errno.EPROTO);
  return (r.namespaces as unknown[]).map((o) => {
    const e = o as Record<string, unknown>;
    if (typeof e?.namespace !== 'string' || !Number.isInteger(e.owner) || !Number.isInteger(e.flags)) {
      throw new FluxError(errno.EPROTO);
    }
    return { namespace: e.namespace, owner: (e.owner as number) >>> 0, flags: e.flags as number };
  });
}

export interface CopyOptions {
  srcNamespace?: string;
  dstNamespace?: string;
  /** Commit flags for the put (and the unlink of a move). */
  flags?: number;
}

/** flux_kvs_copy(): the destination gets the source's tree object (a snapshot of a directory). */
export async function copy(h: Flux, srckey: string, dstkey: string, opts: CopyOptions = {}): Promise<CommitResult> {
  const src = await lookup(h, srckey, { namespace: opts.srcNamespace, flags: FLUX_KVS_TREEOBJ });
  const txn = new KvsTxn().putTreeobj(dstkey, src.treeobj);
  return commit(h, txn, { namespace: opts.dstNamespace, flags: opts.flags });
}

/** flux_kvs_move(): copy, then unlink the source in a second commit (not atomic, as in flux-core). */
export async function move(h: Flux, srckey: string, dstkey: string, opts: CopyOptions = {}): Promise<CommitResult> {
  await copy(h, srckey, dstkey, opts);
  return commit(h, new KvsTxn().unlink(srckey), { namespace: opts.srcNamespace, flags: opts.flags });
}
