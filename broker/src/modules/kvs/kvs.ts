/**
 * kvs: the hash-tree key-value store (flux-core's modules/kvs), loaded on every rank by rc1.
 *
 * Rank 0 owns every namespace: it applies commits (libkvs CommitManager: adjacent transactions
 * merged, NO_MERGE, SYNC = content.flush + checkpoint), then publishes the private event
 * `kvs.namespace-<NS>-setroot` {"namespace","rootseq","rootref","names","keys","owner"} (or
 * `-error` {"namespace","names","errnum"} when a transaction failed). Other ranks learn a
 * namespace's root lazily (`kvs.getroot` to their parent, after subscribing to the namespace's
 * events, so no setroot can slip between the two), relay commits to rank 0 with
 * `kvs.relaycommit` {"ops","name","namespace","flags"} (no response, as flux-core), and answer
 * the committer when the setroot event naming its transaction arrives, after adopting the new
 * root: the committing rank reads its own write at once, other ranks once the event reaches
 * them (`kvs.wait-version`).
 *
 * RPCs (payloads as flux-core's):
 *   kvs.lookup {"key","flags","namespace"} or {"key","flags","rootdir":dirref} -> {"val"}
 *   kvs.commit {"ops","namespace","flags"} -> {"rootref","rootseq"}
 *   kvs.getroot {"namespace"} -> {"owner","rootseq","rootref","flags","namespace"}   (ENOTSUP unknown)
 *   kvs.wait-version {"rootseq","namespace"} -> {"rootseq","rootref"}
 *   kvs.namespace-create {"namespace","rootref","owner","flags"}, kvs.namespace-remove {"namespace"},
 *   kvs.namespace-list -> {"namespaces":[{"namespace","owner","flags"}]}   (rank 0; forwarded from others)
 *   kvs.checkpoint {} (ours) -> {"rootref","rootseq"}: flush and checkpoint the primary root now
 *   kvs.dropcache, kvs.stats-get, kvs.stats-clear, kvs.disconnect
 *
 * Persistence (rank 0): at load, the newest checkpoint from the backing store
 * (content.checkpoint-get) becomes the primary root ("restored KVS from checkpoint on DATE");
 * the primary root is checkpointed on unload, for every SYNC commit, and every
 * `checkpoint-period` (module option, FSD, default 30 s; 0 disables) when it changed.
 *
 * Access: the instance owner may do everything; other users only in namespaces they own
 * (EPERM otherwise), and they may commit only values and empty directories, as flux-core.
 */
import { errno, FluxError } from '../../common/libflux/errno';
import { Flux } from '../../common/libflux/handle';
import {
  FLAG_NORESPONSE,
  FLAG_PRIVATE,
  FLAG_ROUTE,
  MSGTYPE_EVENT,
  NODEID_UPSTREAM,
  ROLE_OWNER,
  ROLE_USER,
  getJson,
  newMessage,
  setJson,
  type Message,
} from '../../common/libflux/message';
import { isHashName, type HashName } from '../../common/libcontent/blobref';
import { parseCheckpoint } from '../../common/libkvs/checkpoint';
import { CommitManager, emptyDir, type CommitResult } from '../../common/libkvs/commit';
import { lookup } from '../../common/libkvs/lookup';
import * as treeobj from '../../common/libkvs/treeobj';
import { parseFsd } from '../../common/libutil/fsd';
import type { Responder } from '../../broker/service';
import type { ModuleContext, ModuleMain } from '../../module/runtime';
import { KvsCache } from './cache';

const PRIMARY = 'primary';
/** Cache entries unused this long are expired (flux-core's max_lastuse_age). */
const MAX_LASTUSE_AGE = 10;
const EXPIRE_PERIOD_MS = 10_000;
const DEFAULT_CHECKPOINT_PERIOD = 30;

interface VersionWaiter {
  seq: number;
  r: Responder;
}

interface Root {
  ns: string;
  owner: number;
  flags: number;
  ref: string;
  seq: number;
  removed: boolean;
  waiters: VersionWaiter[];
  /** Rank 0: the transaction queue. */
  mgr?: CommitManager;
  /** Followers: this rank's commits waiting for their setroot/error event, by name. */
  pending: Map<string, Responder>;
  /** Rank 0: highest rootseq whose setroot event went out (merged transactions share one). */
  published: number;
}

interface Options {
  merge: boolean;
  checkpointPeriod: number;
}

function parseArgs(args: string[]): Options {
  const o: Options = { merge: true, checkpointPeriod: DEFAULT_CHECKPOINT_PERIOD };
  for (const a of args) {
    if (a.startsWith('transaction-merge=')) {
      const v = a.slice(18);
      if (!/^[0-9]+$/.test(v)) throw new FluxError(errno.EINVAL);
      o.merge = Number(v) !== 0;
    } else if (a.startsWith('checkpoint-period=')) {
      try {
        o.checkpointPeriod = parseFsd(a.slice(18));
      } catch {
        throw new FluxError(errno.EINVAL, `invalid checkpoint-period: ${a.slice(18)}`);
      }
    } else {
      throw new FluxError(errno.EINVAL, `Unknown option \`${a}'`);
    }
  }
  return o;
}

function errnumOf(e: unknown): number {
  const n = (e as { errnum?: unknown } | null)?.errnum;
  return typeof n === 'number' && n > 0 ? n : errno.EIO;
}

/** The sender's identity: the oldest hop of the request's route. */
function sender(m: Message): string {
  return m.routes.length > 0 ? m.routes[m.routes.length - 1] : '';
}

function isObj(o: unknown): o is Record<string, unknown> {
  return typeof o === 'object' && o !== null && !Array.isArray(o);
}

class Kvs {
  private readonly roots = new Map<string, Root>();
  /** Followers: namespaces being fetched from the parent. */
  private readonly fetching = new Map<string, Promise<Root>>();
  private seq = 0;
  private lastCheckpointSeq = -1;
  private checkpointing: Promise<unknown> = Promise.resolve();
  /** Followers: the module's own handle, once it listens for setroot events. */
  private eventHandle: Promise<Flux> | undefined;

  constructor(
    private readonly ctx: ModuleContext,
    readonly cache: KvsCache,
    private readonly hashName: HashName,
    private readonly opts: Options,
    private readonly instanceOwner: number,
  ) {}

  private get rank(): number {
    return this.ctx.rank;
  }

  // ---- roots ---------------------------------------------------------------------------------

  private newRoot(ns: string, owner: number, flags: number, ref: string, seq: number): Root {
    const root: Root = { ns, owner, flags, ref, seq, removed: false, waiters: [], pending: new Map(), published: seq };
    if (this.rank === 0) {
      root.mgr = new CommitManager(this.cache, {
        rootref: ref,
        rootseq: seq,
        hashName: this.hashName,
        namespace: ns,
        merge: this.opts.merge,
        sync: (r, s) => this.checkpoint(r, s),
      });
    }
    this.roots.set(ns, root);
    return root;
  }

  private setroot(root: Root, ref: string, seq: number): void {
    if (seq !== 0 && seq <= root.seq) return;
    root.ref = ref;
    root.seq = seq;
    const ready = root.waiters.filter((w) => w.seq <= seq);
    root.waiters = root.waiters.filter((w) => w.seq > seq);
    for (const w of ready) w.r.respond({ rootseq: root.seq, rootref: root.ref });
  }

  private checkUser(root: Root, m: Message): void {
    if (m.rolemask & ROLE_OWNER) return;
    if ((m.rolemask & ROLE_USER) && m.userid === root.owner) return;
    throw new FluxError(errno.EPERM);
  }

  /** The namespace's root, fetched from the parent on first use (followers); ENOTSUP if unknown. */
  async getroot(ns: string, m: Message | undefined): Promise<Root> {
    let root = this.roots.get(ns);
    if (!root || root.removed) {
      if (this.rank === 0) throw new FluxError(errno.ENOTSUP);
      let p = this.fetching.get(ns);
      if (!p) {
        p = this.fetchRoot(ns).finally(() => this.fetching.delete(ns));
        this.fetching.set(ns, p);
      }
      root = await p;
    }
    if (m) this.checkUser(root, m);
    return root;
  }

  private events(): Promise<Flux> {
    if (!this.eventHandle) {
      this.ctx.h.onEvent((m) => this.onEvent(m));
      this.eventHandle = Promise.resolve(this.ctx.h);
    }
    return this.eventHandle;
  }

  /** Subscriptions end with the module (the broker forgets them); nothing else to close. */
  async closeEvents(): Promise<void> {}

  private async fetchRoot(ns: string): Promise<Root> {
    // Subscribe first: a setroot published after the parent answers cannot be missed.
    const topic = `kvs.namespace-${ns}`;
    const evh = await this.events();
    await evh.subscribe(topic);
    try {
      const r = await this.ctx.h.rpc('kvs.getroot', { namespace: ns }, { nodeid: NODEID_UPSTREAM })
        .get<{ owner: number; rootseq: number; rootref: string; flags: number }>();
      const existing = this.roots.get(ns);
      if (existing && !existing.removed) {
        this.setroot(existing, r.rootref, r.rootseq);
        return existing;
      }
      return this.newRoot(ns, r.owner, r.flags, r.rootref, r.rootseq);
    } catch (e) {
      await evh.unsubscribe(topic).catch(() => undefined);
      throw e;
    }
  }

  // ---- events (followers) --------------------------------------------------------------------

  onEvent(m: Message): void {
    const topic = m.topic ?? '';
    if (!topic.startsWith('kvs.namespace-')) return;
    let o: Record<string, unknown>;
    try {
      o = getJson(m);
    } catch {
      return;
    }
    const ns = o.namespace;
    if (typeof ns !== 'string' || !topic.startsWith(`kvs.namespace-${ns}-`)) return;
    const root = this.roots.get(ns);
    if (!root) return;
    const kind = topic.slice(`kvs.namespace-${ns}-`.length);
    const names = Array.isArray(o.names) ? o.names.filter((n): n is string => typeof n === 'string') : [];
    if (kind === 'setroot') {
      if (typeof o.rootref !== 'string' || !Number.isInteger(o.rootseq)) return;
      if (root.removed) {
        this.finalize(root, names, errno.ENOTSUP);
        return;
      }
      // Adopt the root before answering, so the committer's next lookup here sees its write.
      this.setroot(root, o.rootref, o.rootseq as number);
      this.finalize(root, names, 0);
    } else if (kind === 'error') {
      this.finalize(root, names, typeof o.errnum === 'number' ? o.errnum : errno.EIO);
    } else if (kind === 'removed') {
      this.startRemove(root);
    }
  }

  private finalize(root: Root, names: string[], errnum: number): void {
    for (const name of names) {
      const r = root.pending.get(name);
      if (!r) continue;
      root.pending.delete(name);
      if (errnum) r.respondError(errnum);
      else r.respond({ rootref: root.ref, rootseq: root.seq });
    }
  }

  private startRemove(root: Root): void {
    if (root.removed) return;
    root.removed = true;
    for (const w of root.waiters.splice(0)) w.r.respondError(errno.ENOTSUP);
    for (const r of root.pending.values()) r.respondError(errno.ENOTSUP);
    root.pending.clear();
    this.roots.delete(root.ns);
    if (this.rank !== 0 && this.eventHandle) {
      void this.eventHandle.then((h) => h.unsubscribe(`kvs.namespace-${root.ns}`)).catch(() => undefined);
    }
  }

  // ---- events (rank 0) -----------------------------------------------------------------------

  private publish(topic: string, payload: Record<string, unknown>): void {
    const ev = newMessage(MSGTYPE_EVENT, topic);
    ev.flags |= FLAG_ROUTE | FLAG_PRIVATE;
    setJson(ev, payload);
    this.ctx.h.send(ev);
  }

  private published(root: Root, res: CommitResult): void {
    if (res.rootseq > root.seq) this.setroot(root, res.rootref, res.rootseq);
    if (res.rootseq <= root.published) return;
    root.published = res.rootseq;
    if (res.names.length > 1) this.ctx.log('debug', `aggregated ${res.names.length} transactions`);
    this.publish(`kvs.namespace-${root.ns}-setroot`, {
      namespace: root.ns, rootseq: res.rootseq, rootref: res.rootref, names: res.names, keys: res.keys, owner: root.owner,
    });
  }

  /** Rank 0: queue a transaction; answers with the new root, publishes setroot or error. */
  private async submit(root: Root, name: string, ops: unknown[], flags: number): Promise<CommitResult> {
    if (!root.mgr) throw new FluxError(errno.EPROTO);
    try {
      const res = await root.mgr.submit({ name, ops, flags });
      this.published(root, res);
      return res;
    } catch (e) {
      this.publish(`kvs.namespace-${root.ns}-error`, { namespace: root.ns, names: [name], errnum: errnumOf(e) });
      throw e;
    }
  }

  // ---- requests ------------------------------------------------------------------------------

  async commit(r: Responder): Promise<void> {
    const req = r.json<{ ops?: unknown; namespace?: unknown; flags?: unknown }>();
    if (!Array.isArray(req.ops) || typeof req.namespace !== 'string' || !Number.isInteger(req.flags)) {
      throw new FluxError(errno.EPROTO);
    }
    if (!(r.msg.rolemask & ROLE_OWNER)) guestAuthorize(req.ops);
    const flags = req.flags as number;
    const root = await this.getroot(req.namespace, r.msg);
    const name = `transaction_req.${this.rank}.${this.seq++}`;
    if (this.rank === 0) {
      const res = await this.submit(root, name, req.ops, flags);
      r.respond({ rootref: res.rootref, rootseq: res.rootseq });
      return;
    }
    root.pending.set(name, r);
    const relay = this.ctx.h.rpc('kvs.relaycommit', { ops: req.ops, name, namespace: req.namespace, flags }, { nodeid: 0, flags: FLAG_NORESPONSE });
    void relay;
  }

  /** kvs.relaycommit (rank 0, no response): errors travel in the -error event. */
  relaycommit(r: Responder): void {
    const req = r.json<{ ops?: unknown; name?: unknown; namespace?: unknown; flags?: unknown }>();
    if (!Array.isArray(req.ops) || typeof req.name !== 'string' || typeof req.namespace !== 'string' || !Number.isInteger(req.flags)) {
      this.ctx.log('err', 'relaycommit: malformed request');
      return;
    }
    const root = this.roots.get(req.namespace);
    if (!root || root.removed || this.rank !== 0) {
      this.publish(`kvs.namespace-${req.namespace}-error`, { namespace: req.namespace, names: [req.name], errnum: errno.ENOTSUP });
      return;
    }
    this.submit(root, req.name, req.ops, req.flags as number).catch(() => undefined);
  }

  async lookup(r: Responder): Promise<void> {
    const req = r.json<{ key?: unknown; flags?: unknown; namespace?: unknown; rootdir?: unknown }>();
    if (typeof req.key !== 'string' || !Number.isInteger(req.flags)) throw new FluxError(errno.EPROTO);
    if (req.namespace !== undefined && typeof req.namespace !== 'string') throw new FluxError(errno.EPROTO);
    if (req.namespace === undefined && req.rootdir === undefined) throw new FluxError(errno.EPROTO);
    const flags = req.flags as number;
    let ns = (req.namespace as string | undefined) ?? PRIMARY;
    let rootref: string;
    if (req.rootdir !== undefined) {
      if (!treeobj.isTreeObj(req.rootdir) || req.rootdir.type !== 'dirref' || req.rootdir.data.length !== 1) throw new FluxError(errno.EINVAL);
      rootref = req.rootdir.data[0];
    } else {
      const root = await this.getroot(ns, r.msg);
      rootref = root.ref;
    }
    let key = req.key;
    let depth = 0;
    for (;;) {
      const res = await lookup(this.cache, rootref, key, { flags, namespace: ns, symlinkDepth: depth });
      if ('val' in res) {
        r.respond({ val: res.val });
        return;
      }
      // A symlink into another namespace: go on there, with that namespace's access check.
      const root = await this.getroot(res.redirect.namespace, r.msg);
      ns = root.ns;
      rootref = root.ref;
      key = res.redirect.key;
      depth = res.redirect.symlinkDepth;
    }
  }

  async getrootRequest(r: Responder): Promise<void> {
    const { namespace } = r.json<{ namespace?: unknown }>();
    if (typeof namespace !== 'string') throw new FluxError(errno.EPROTO);
    const root = await this.getroot(namespace, r.msg);
    r.respond({ owner: root.owner, rootseq: root.seq, rootref: root.ref, flags: root.flags, namespace: root.ns });
  }

  async waitVersion(r: Responder): Promise<void> {
    const req = r.json<{ rootseq?: unknown; namespace?: unknown }>();
    if (!Number.isInteger(req.rootseq) || typeof req.namespace !== 'string') throw new FluxError(errno.EPROTO);
    const root = await this.getroot(req.namespace, r.msg);
    if (root.seq < (req.rootseq as number)) {
      root.waiters.push({ seq: req.rootseq as number, r });
      return;
    }
    r.respond({ rootseq: root.seq, rootref: root.ref });
  }

  /** Namespace administration lives on rank 0; other ranks pass the request on. */
  private async forward(r: Responder): Promise<boolean> {
    if (this.rank === 0) return false;
    const res = await this.ctx.h.rpc(r.msg.topic ?? '', r.msg.payload ?? Buffer.alloc(0), { nodeid: 0 }).getRaw();
    r.respondRaw(res);
    return true;
  }

  async namespaceCreate(r: Responder): Promise<void> {
    if (!(r.msg.rolemask & ROLE_OWNER)) throw new FluxError(errno.EPERM);
    if (await this.forward(r)) return;
    const req = r.json<{ namespace?: unknown; rootref?: unknown; owner?: unknown; flags?: unknown }>();
    if (typeof req.namespace !== 'string' || typeof req.rootref !== 'string' || !Number.isInteger(req.owner) || !Number.isInteger(req.flags)) {
      throw new FluxError(errno.EPROTO);
    }
    if (this.roots.has(req.namespace)) throw new FluxError(errno.EEXIST);
    treeobj.createDirref(req.rootref); // EINVAL unless a blobref
    const owner = (req.owner as number) === -1 || (req.owner as number) === 0xffffffff ? this.instanceOwner : (req.owner as number);
    const root = this.newRoot(req.namespace, owner, req.flags as number, req.rootref, 0);
    this.publish(`kvs.namespace-${root.ns}-created`, { namespace: root.ns, rootseq: root.seq, rootref: root.ref, owner: root.owner });
    r.respond({});
  }

  async namespaceRemove(r: Responder): Promise<void> {
    if (!(r.msg.rolemask & ROLE_OWNER)) throw new FluxError(errno.EPERM);
    if (await this.forward(r)) return;
    const { namespace } = r.json<{ namespace?: unknown }>();
    if (typeof namespace !== 'string') throw new FluxError(errno.EPROTO);
    if (namespace.toLowerCase() === PRIMARY) throw new FluxError(errno.ENOTSUP);
    const root = this.roots.get(namespace);
    if (root && !root.removed) {
      this.publish(`kvs.namespace-${namespace}-removed`, { namespace });
      this.startRemove(root);
    }
    r.respond({});
  }

  async namespaceList(r: Responder): Promise<void> {
    if (!(r.msg.rolemask & ROLE_OWNER)) throw new FluxError(errno.EPERM);
    if (await this.forward(r)) return;
    const namespaces = [...this.roots.values()].filter((x) => !x.removed)
      .map((x) => ({ namespace: x.ns, owner: x.owner, flags: x.flags }));
    r.respond({ namespaces });
  }

  disconnect(r: Responder): void {
    const who = sender(r.msg);
    for (const root of this.roots.values()) root.waiters = root.waiters.filter((w) => sender(w.r.msg) !== who);
  }

  dropcache(r?: Responder): void {
    const size = this.cache.count;
    const n = this.cache.expire(0);
    this.ctx.log('alert', `dropped ${n} of ${size} cache entries`);
    r?.respond({});
  }

  expire(): void {
    for (const root of this.roots.values()) this.cache.touch(root.ref);
    this.cache.expire(MAX_LASTUSE_AGE);
  }

  stats(): Record<string, unknown> {
    const namespace: Record<string, unknown> = {};
    for (const root of this.roots.values()) {
      namespace[root.ns] = {
        '#versionwaiters': root.waiters.length,
        '#no-op stores': 0,
        '#transactions': root.pending.size,
        '#readytransactions': root.mgr?.readyCount ?? 0,
        'store revision': root.seq,
      };
    }
    let pending = 0;
    for (const root of this.roots.values()) pending += root.waiters.length + root.pending.size;
    return { cache: this.cache.stats(), namespace, pending_requests: pending };
  }

  // ---- checkpoints (rank 0) ------------------------------------------------------------------

  /** Make every blob durable, then record (rootref, rootseq) in the backing store. Serialized. */
  checkpoint(rootref: string, rootseq: number): Promise<void> {
    const run = async (): Promise<void> => {
      // A periodic checkpoint of an older root queued behind a SYNC one must not become the newest.
      if (rootseq < this.lastCheckpointSeq) return;
      await this.ctx.h.rpc('content.flush', {}).response();
      // Plain JSON on the wire (kvs_checkpoint_commit()'s object); content-sqlite keeps the timestamp a real.
      const value = { version: 1, rootref, sequence: rootseq, timestamp: Date.now() / 1000 };
      await this.ctx.h.rpc('content.checkpoint-put', { value }).response();
      this.lastCheckpointSeq = Math.max(this.lastCheckpointSeq, rootseq);
    };
    const p = this.checkpointing.then(run, run);
    this.checkpointing = p.catch(() => undefined);
    return p;
  }

  /** Checkpoint the primary root if it changed since the last checkpoint. */
  async checkpointPrimary(force = false): Promise<{ rootref: string; rootseq: number } | undefined> {
    const root = this.roots.get(PRIMARY);
    if (!root) return undefined;
    if (!force && root.seq === this.lastCheckpointSeq) return undefined;
    await this.checkpoint(root.ref, root.seq);
    return { rootref: root.ref, rootseq: root.seq };
  }

  /** Rank 0 at load: store the empty directory, restore the newest checkpoint if any. */
  async initPrimary(): Promise<void> {
    const empty = emptyDir(this.hashName);
    const stored = await this.cache.store(empty.data);
    if (stored !== empty.blobref) throw new FluxError(errno.EPROTO, `hash mismatch kvs=${empty.blobref} content=${stored}`);
    let ref = empty.blobref;
    let seq = 0;
    try {
      const { value } = await this.ctx.h.rpc('content.checkpoint-get', {}).get<{ value?: unknown }>();
      const cp = parseCheckpoint(value);
      // The root must be readable before it is adopted; a checkpoint naming a lost blob is refused loudly.
      const rootObj = treeobj.decode(await this.cache.load(cp.rootref));
      if (rootObj.type !== 'dir') throw new FluxError(errno.EINVAL, `checkpoint root ${cp.rootref} is not a directory`);
      ref = cp.rootref;
      seq = cp.sequence;
      this.lastCheckpointSeq = seq;
      const date = cp.timestamp > 0 ? new Date(cp.timestamp * 1000).toISOString().replace(/\.\d+Z$/, 'Z') : 'N/A';
      this.ctx.log('info', `restored KVS from checkpoint on ${date}`);
    } catch (e) {
      const n = errnumOf(e);
      // No backing store (ENOSYS) or no checkpoint yet (ENOENT): a fresh, empty KVS.
      if (n !== errno.ENOSYS && n !== errno.ENOENT) {
        this.ctx.log('err', `restoring KVS checkpoint: ${e instanceof Error ? e.message : String(e)}; starting with an empty KVS`);
      }
    }
    this.newRoot(PRIMARY, this.instanceOwner, 0, ref, seq);
  }

  /** Unload: fail what can no longer be answered. */
  failPending(): void {
    for (const root of this.roots.values()) {
      for (const w of root.waiters.splice(0)) {
        this.ctx.log('err', "failing pending 'kvs.wait-version' request");
        w.r.respondError(errno.ENOSYS);
      }
      for (const r of root.pending.values()) {
        this.ctx.log('err', "failing pending 'kvs.commit' request");
        r.respondError(errno.ENOSYS);
      }
      root.pending.clear();
    }
  }
}

/** Guests may commit only values, unlinks and empty directories (flux-core's guest_commit_authorize). */
function guestAuthorize(ops: unknown[]): void {
  for (const op of ops) {
    if (!isObj(op) || !('dirent' in op)) throw new FluxError(errno.EPROTO, 'could not decode commit operation');
    const d = op.dirent;
    if (d === null) continue;
    const type = treeobj.typeOf(d);
    if (type === 'val') continue;
    if (type === 'dir' && treeobj.getCount(d as treeobj.TreeObj) === 0) continue;
    const nonEmpty = type === 'dir' ? 'non-empty ' : '';
    throw new FluxError(errno.EPERM, `guests may not commit ${nonEmpty}${type ?? '???'} objects`);
  }
}

export const mod_main: ModuleMain = async (ctx, args) => {
  const opts = parseArgs(args);
  const hashName = await ctx.h.getattrOptional('content.hash');
  if (!hashName || !isHashName(hashName)) throw new FluxError(errno.EINVAL, 'getattr content.hash: content module not loaded?');
  const owner = Number((await ctx.h.getattrOptional('security.owner')) ?? process.getuid?.() ?? 0);
  const cache = new KvsCache(ctx.h, hashName);
  const kvs = new Kvs(ctx, cache, hashName, opts, owner);
  if (ctx.rank === 0) await kvs.initPrimary();

  ctx.serve('kvs.lookup', (r) => kvs.lookup(r));
  ctx.serve('kvs.commit', (r) => kvs.commit(r));
  ctx.serve('kvs.relaycommit', (r) => kvs.relaycommit(r));
  ctx.serve('kvs.getroot', (r) => kvs.getrootRequest(r));
  ctx.serve('kvs.wait-version', (r) => kvs.waitVersion(r));
  ctx.serve('kvs.namespace-create', (r) => kvs.namespaceCreate(r));
  ctx.serve('kvs.namespace-remove', (r) => kvs.namespaceRemove(r));
  ctx.serve('kvs.namespace-list', (r) => kvs.namespaceList(r));
  ctx.serve('kvs.disconnect', (r) => kvs.disconnect(r));
  ctx.serve('kvs.dropcache', (r) => kvs.dropcache(r));
  ctx.serve('kvs.stats-get', (r) => r.respond(kvs.stats()));
  ctx.serve('kvs.stats-clear', (r) => {
    cache.faults = 0;
    r.respond({});
  });
  ctx.serve('kvs.checkpoint', async (r) => {
    if (ctx.rank !== 0) throw new FluxError(errno.EINVAL, 'checkpoints are taken on rank 0');
    const cp = await kvs.checkpointPrimary(true);
    r.respond(cp ?? {});
  });

  const expireTimer = setInterval(() => kvs.expire(), EXPIRE_PERIOD_MS);
  expireTimer.unref();
  let cpTimer: NodeJS.Timeout | undefined;
  if (ctx.rank === 0 && opts.checkpointPeriod > 0) {
    cpTimer = setInterval(() => {
      kvs.checkpointPrimary().catch((e: unknown) => {
        if (errnumOf(e) !== errno.ENOSYS) ctx.log('err', `checkpoint: ${e instanceof Error ? e.message : String(e)}`);
      });
    }, opts.checkpointPeriod * 1000);
    cpTimer.unref();
  }
  ctx.onShutdown(async () => {
    clearInterval(expireTimer);
    if (cpTimer) clearInterval(cpTimer);
    kvs.failPending();
    await kvs.closeEvents();
    if (ctx.rank !== 0) return;
    try {
      await kvs.checkpointPrimary(true);
    } catch (e) {
      // No backing store loaded is not an error (flux-core: "service not loaded").
      if (errnumOf(e) !== errno.ENOSYS) ctx.log('err', `error saving primary KVS checkpoint: ${e instanceof Error ? e.message : String(e)}`);
    }
  });
};
