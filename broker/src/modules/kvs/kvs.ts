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
import {
  FLAG_NORESPONSE,
  FLAG_PRIVATE,
  FLAG_ROUTE,
  MSGTYPE_EVENT,
  ROLE_OWNER,
  newMessage,
  setJson,
  type Message,
} from '../../common/libflux/message';
import { isHashName, type HashName } from '../../common/libcontent/blobref';
import { CommitManager, type CommitResult } from '../../common/libkvs/commit-manager';
import { lookup } from '../../common/libkvs/lookup';
import * as treeobj from '../../common/libkvs/treeobj';
import type { Responder } from '../../broker/service';
import type { ModuleContext, ModuleMain } from '../../module/runtime';
import { guestAuthorize } from './access';
import { KvsCache } from './cache';
import { Roots, type Root } from './roots';
import { Checkpoints, errnumOf } from './checkpoint';
import { parseArgs, type Options } from './options';

const PRIMARY = 'primary';
/** Cache entries unused this long are expired (flux-core's max_lastuse_age). */
const MAX_LASTUSE_AGE = 10;
const EXPIRE_PERIOD_MS = 10_000;

/** The sender's identity: the oldest hop of the request's route. */
function sender(m: Message): string {
  return m.routes.length > 0 ? m.routes[m.routes.length - 1] : '';
}

class Kvs {
  private readonly roots: Roots;
  private seq = 0;
  private readonly checkpoints: Checkpoints;

  constructor(
    private readonly ctx: ModuleContext,
    readonly cache: KvsCache,
    private readonly hashName: HashName,
    opts: Options,
    private readonly instanceOwner: number,
  ) {
    this.checkpoints = new Checkpoints(ctx);
    this.roots = new Roots(ctx, (ns, rootref, rootseq) => (ctx.rank === 0 ? new CommitManager(cache, {
      rootref, rootseq, hashName, namespace: ns, merge: opts.merge, sync: (r, s) => this.checkpoint(r, s),
    }) : undefined));
  }

  private get rank(): number {
    return this.ctx.rank;
  }

  // ---- events (rank 0) -----------------------------------------------------------------------

  private publish(topic: string, payload: Record<string, unknown>): void {
    const ev = newMessage(MSGTYPE_EVENT, topic);
    ev.flags |= FLAG_ROUTE | FLAG_PRIVATE;
    setJson(ev, payload);
    this.ctx.h.send(ev);
  }

  private published(root: Root, res: CommitResult): void {
    if (res.rootseq > root.seq) this.roots.setroot(root, res.rootref, res.rootseq);
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
    const root = await this.roots.get(req.namespace, r.msg);
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
    const root = this.roots.map.get(req.namespace);
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
      const root = await this.roots.get(ns, r.msg);
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
      const root = await this.roots.get(res.redirect.namespace, r.msg);
      ns = root.ns;
      rootref = root.ref;
      key = res.redirect.key;
      depth = res.redirect.symlinkDepth;
    }
  }

  async getrootRequest(r: Responder): Promise<void> {
    const { namespace } = r.json<{ namespace?: unknown }>();
    if (typeof namespace !== 'string') throw new FluxError(errno.EPROTO);
    const root = await this.roots.get(namespace, r.msg);
    r.respond({ owner: root.owner, rootseq: root.seq, rootref: root.ref, flags: root.flags, namespace: root.ns });
  }

  async waitVersion(r: Responder): Promise<void> {
    const req = r.json<{ rootseq?: unknown; namespace?: unknown }>();
    if (!Number.isInteger(req.rootseq) || typeof req.namespace !== 'string') throw new FluxError(errno.EPROTO);
    const root = await this.roots.get(req.namespace, r.msg);
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
    if (this.roots.map.has(req.namespace)) throw new FluxError(errno.EEXIST);
    treeobj.createDirref(req.rootref); // EINVAL unless a blobref
    const owner = (req.owner as number) === -1 || (req.owner as number) === 0xffffffff ? this.instanceOwner : (req.owner as number);
    const root = this.roots.create(req.namespace, owner, req.flags as number, req.rootref, 0);
    this.publish(`kvs.namespace-${root.ns}-created`, { namespace: root.ns, rootseq: root.seq, rootref: root.ref, owner: root.owner });
    r.respond({});
  }

  async namespaceRemove(r: Responder): Promise<void> {
    if (!(r.msg.rolemask & ROLE_OWNER)) throw new FluxError(errno.EPERM);
    if (await this.forward(r)) return;
    const { namespace } = r.json<{ namespace?: unknown }>();
    if (typeof namespace !== 'string') throw new FluxError(errno.EPROTO);
    if (namespace.toLowerCase() === PRIMARY) throw new FluxError(errno.ENOTSUP);
    const root = this.roots.map.get(namespace);
    if (root && !root.removed) {
      this.publish(`kvs.namespace-${namespace}-removed`, { namespace });
      this.roots.remove(root);
    }
    r.respond({});
  }

  async namespaceList(r: Responder): Promise<void> {
    if (!(r.msg.rolemask & ROLE_OWNER)) throw new FluxError(errno.EPERM);
    if (await this.forward(r)) return;
    const namespaces = [...this.roots.map.values()].filter((x) => !x.removed)
      .map((x) => ({ namespace: x.ns, owner: x.owner, flags: x.flags }));
    r.respond({ namespaces });
  }

  disconnect(r: Responder): void {
    const who = sender(r.msg);
    for (const root of this.roots.map.values()) root.waiters = root.waiters.filter((w) => sender(w.r.msg) !== who);
  }

  dropcache(r?: Responder): void {
    const size = this.cache.count;
    const n = this.cache.expire(0);
    this.ctx.log('alert', `dropped ${n} of ${size} cache entries`);
    r?.respond({});
  }

  expire(): void {
    for (const root of this.roots.map.values()) this.cache.touch(root.ref);
    this.cache.expire(MAX_LASTUSE_AGE);
  }

  stats(): Record<string, unknown> {
    const namespace: Record<string, unknown> = {};
    for (const root of this.roots.map.values()) {
      namespace[root.ns] = {
        '#versionwaiters': root.waiters.length,
        '#no-op stores': 0,
        '#transactions': root.pending.size,
        '#readytransactions': root.mgr?.readyCount ?? 0,
        'store revision': root.seq,
      };
    }
    let pending = 0;
    for (const root of this.roots.map.values()) pending += root.waiters.length + root.pending.size;
    return { cache: this.cache.stats(), namespace, pending_requests: pending };
  }

  // ---- checkpoints (rank 0) ------------------------------------------------------------------

  /** Record (rootref, rootseq) as the newest checkpoint (after making every blob durable). */
  checkpoint(rootref: string, rootseq: number): Promise<void> {
    return this.checkpoints.take(rootref, rootseq);
  }

  /** Checkpoint the primary root if it changed since the last checkpoint. */
  async checkpointPrimary(force = false): Promise<{ rootref: string; rootseq: number } | undefined> {
    const root = this.roots.map.get(PRIMARY);
    if (!root) return undefined;
    if (!force && root.seq === this.checkpoints.lastSeq) return undefined;
    await this.checkpoint(root.ref, root.seq);
    return { rootref: root.ref, rootseq: root.seq };
  }

  /** Rank 0 at load: the primary namespace, at its last checkpoint if there is one. */
  async initPrimary(): Promise<void> {
    const { ref, seq } = await this.checkpoints.restore(this.cache, this.hashName);
    this.roots.create(PRIMARY, this.instanceOwner, 0, ref, seq);
  }

  /** Unload: fail what can no longer be answered. */
  failPending(): void {
    for (const root of this.roots.map.values()) {
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
    if (ctx.rank !== 0) return;
    try {
      await kvs.checkpointPrimary(true);
    } catch (e) {
      // No backing store loaded is not an error (flux-core: "service not loaded").
      if (errnumOf(e) !== errno.ENOSYS) ctx.log('err', `error saving primary KVS checkpoint: ${e instanceof Error ? e.message : String(e)}`);
    }
  });
};
