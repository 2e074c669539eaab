/**
 * kvs-watch: streaming KVS lookups (flux-core's modules/kvs-watch), loaded on every rank by rc1
 * after kvs. The kvs module answers one lookup at one root; this module turns that into a stream
 * by following the namespace's setroot events and looking the key up again at each new root.
 *
 * RPCs (payloads as flux-core 0.88's):
 *   kvs-watch.lookup {"key","namespace","flags"} -> {"val":treeobj} ... ; flags:
 *     WATCH 4 (streaming: the value now, then at every root whose commit named the key),
 *     WAITCREATE 8 (a missing key is waited for instead of ENOENT), WATCH_FULL 64 (look again at
 *     every root, answer when the value differs: catches a parent directory being replaced),
 *     WATCH_UNIQ 128 (answer only when the value differs from the last one sent), WATCH_APPEND 256
 *     (answer only the appended part, one response per appended blob; EINVAL once the key is
 *     overwritten rather than appended to), STREAM 512 (without WATCH: the value in one response
 *     per blob, then ENODATA), plus kvs.lookup's READDIR 1, READLINK 2, TREEOBJ 16.
 *     WATCH and STREAM need a streaming request (EPROTO otherwise).
 *   kvs-watch.cancel {"matchtag"} (no response): the sender's watcher ends with ENODATA.
 *   kvs-watch.disconnect: the sender's watchers end silently (a client went away).
 *   kvs-watch.stats-get -> {"watchers","namespace-count","namespace":{NS:{"owner","rootseq","watchers"}}}
 *
 * Why it is built this way (flux-core's design, kept):
 *  - Per namespace, one subscription to `kvs.namespace-<NS>-` (setroot, created, removed) is made
 *    before asking the local kvs for the root (kvs.getroot), so no root can fall between the two.
 *  - Every lookup is `kvs.lookup` at an explicit root (`rootdir`), the root of the event (or of
 *    getroot) that triggered it: a watcher sees each version exactly once, in commit order, even
 *    when the local kvs module has already moved on or has not yet caught up.
 *  - Lookups run concurrently but their answers are sent in the order the roots came (a promise
 *    chain per watcher), as flux-core's list of futures does.
 *  - Lookups carry the watcher's credentials, so a symlink into another namespace is checked
 *    against the requester, not against this module (which runs as the instance owner).
 *  - A key that disappears ends its watch with ENOENT; a namespace removed ends every watch in it
 *    with ENOTSUP; a namespace that does not exist is ENOTSUP unless WAITCREATE, which waits for
 *    the namespace's `created` event and then for the key.
 */
import { errno, FluxError } from '../../common/libflux/errno';
import {
  FLAG_STREAMING,
  ROLE_OWNER,
  USERID_UNKNOWN,
  type Message,
} from '../../common/libflux/message';
import { blobrefToDigest } from '../../common/libcontent/blobref';
import { normalizeKey } from '../../common/libkvs/key';
import { FLUX_KVS_READDIR, FLUX_KVS_READLINK, FLUX_KVS_TREEOBJ } from '../../common/libkvs/lookup';
import * as treeobj from '../../common/libkvs/treeobj';
import type { TreeObj } from '../../common/libkvs/treeobj';
import type { Responder } from '../../broker/service';
import type { ModuleContext, ModuleMain } from '../../module/runtime';
import { namespaceEvent } from '../../common/libkvs/namespace-event';
import { CredRpc } from './cred-rpc';
import {
  FLUX_KVS_WATCH,
  FLUX_KVS_WAITCREATE,
  FLUX_KVS_WATCH_FULL,
  FLUX_KVS_WATCH_UNIQ,
  FLUX_KVS_WATCH_APPEND,
  FLUX_KVS_STREAM,
  LOOKUP_FLAGS,
  type Commit,
  type LookupAnswer,
  type Watcher,
  type Namespace,
} from './watcher';

function sender(m: Message): string {
  return m.routes.length > 0 ? m.routes[m.routes.length - 1] : '';
}

function errnumOf(e: unknown): number {
  const n = (e as { errnum?: unknown } | null)?.errnum;
  return typeof n === 'number' && n > 0 ? n : errno.EIO;
}

class KvsWatch {
  private readonly namespaces = new Map<string, Namespace>();
  private readonly cred: CredRpc;

  constructor(private readonly ctx: ModuleContext) {
    this.cred = new CredRpc(ctx.h);
    ctx.h.onEvent((m) => this.onEvent(m));
  }

  // ---- namespaces ----------------------------------------------------------------------------

  private monitor(name: string): Namespace {
    let ns = this.namespaces.get(name);
    if (ns) return ns;
    ns = { name, owner: USERID_UNKNOWN, errnum: 0, fatal: 0, watchers: new Set(), topic: `kvs.namespace-${name}-` };
    this.namespaces.set(name, ns);
    void this.start(ns);
    return ns;
  }

  /** Subscribe, then ask the local kvs for the current root (answers with what is there now). */
  private async start(ns: Namespace): Promise<void> {
    try {
      await this.ctx.h.subscribe(ns.topic);
    } catch (e) {
      if (this.namespaces.get(ns.name) !== ns) return;
      this.ctx.log('err', `subscribing to ${ns.topic}: ${e instanceof Error ? e.message : String(e)}`);
      ns.errnum = errnumOf(e);
      this.respondAll(ns);
      return;
    }
    if (this.namespaces.get(ns.name) !== ns) return;
    try {
      const r = await this.ctx.h.rpc('kvs.getroot', { namespace: ns.name })
        .get<{ rootref?: unknown; rootseq?: unknown; owner?: unknown }>();
      if (this.namespaces.get(ns.name) !== ns || ns.commit) return;
      if (typeof r.rootref !== 'string' || !Number.isInteger(r.rootseq)) throw new FluxError(errno.EPROTO);
      ns.commit = { rootref: r.rootref, rootseq: r.rootseq as number, keys: null };
      if (Number.isInteger(r.owner)) ns.owner = (r.owner as number) >>> 0;
    } catch (e) {
      // An event may have brought the root while getroot was failing (a namespace just created).
      if (this.namespaces.get(ns.name) !== ns || ns.commit) return;
      const n = errnumOf(e);
      if (n !== errno.ENOTSUP && n !== errno.EPERM) this.ctx.log('err', `kvs.getroot ${ns.name}: ${e instanceof Error ? e.message : String(e)}`);
      ns.errnum = n;
    }
    this.respondAll(ns);
  }

  private destroyIfIdle(ns: Namespace): void {
    if (ns.watchers.size > 0 || this.namespaces.get(ns.name) !== ns) return;
    this.namespaces.delete(ns.name);
    this.ctx.h.unsubscribe(ns.topic).catch(() => undefined);
  }

  private onEvent(m: Message): void {
    const ev = namespaceEvent(m);
    if (!ev) return;
    const ns = this.namespaces.get(ev.namespace);
    if (!ns) return;
    const { kind, body: o } = ev;
    const topic = m.topic ?? '';
    if (kind === 'setroot' || kind === 'created') {
      if (typeof o.rootref !== 'string' || !Number.isInteger(o.rootseq)) {
        this.ctx.log('err', `${topic}: malformed event`);
        return;
      }
      const rootseq = o.rootseq as number;
      // created only matters to a namespace we had no root for; setroot only when newer.
      if (ns.commit && (kind === 'created' || rootseq <= ns.commit.rootseq)) return;
      const keys = kind === 'setroot' && Array.isArray(o.keys) ? o.keys.filter((k): k is string => typeof k === 'string') : null;
      ns.commit = { rootref: o.rootref, rootseq, keys };
      ns.errnum = 0;
      if (ns.owner === USERID_UNKNOWN && Number.isInteger(o.owner)) ns.owner = (o.owner as number) >>> 0;
      this.respondAll(ns);
    } else if (kind === 'removed') {
      ns.fatal = errno.ENOTSUP;
      this.respondAll(ns);
    }
  }

  private respondAll(ns: Namespace): void {
    for (const w of [...ns.watchers]) this.respond(ns, w);
  }

  // ---- watchers ------------------------------------------------------------------------------

  private authorized(ns: Namespace, w: Watcher): boolean {
    if (w.rolemask & ROLE_OWNER) return true;
    return ns.owner !== USERID_UNKNOWN && w.userid === ns.owner;
  }

  /** watcher_respond(): issue a lookup at the namespace's current root if this watcher needs one. */
  private respond(ns: Namespace, w: Watcher): void {
    if (w.done) return;
    if (ns.fatal) return this.finish(w, ns.fatal);
    if (ns.errnum) {
      // A namespace not created yet is waited for by WAITCREATE watchers that got nothing yet.
      if (ns.errnum === errno.ENOTSUP && (w.flags & FLUX_KVS_WAITCREATE) && !w.responded) return;
      return this.finish(w, ns.errnum);
    }
    const c = ns.commit;
    if (!c || c.rootseq <= w.rootseq || w.issued) return;
    if (!this.authorized(ns, w)) return this.finish(w, errno.EPERM);
    if (w.rootseq === -1 || (w.flags & FLUX_KVS_WATCH_FULL) || (c.keys !== null && c.keys.includes(w.key))) {
      this.issue(w, c);
    }
  }

  private lookupFlags(w: Watcher): number {
    let f = w.flags & LOOKUP_FLAGS;
    // APPEND and STREAM work on the stored object: a valref's blobs are what gets sent.
    if (this.wantsBlobs(w) && !(f & (FLUX_KVS_READDIR | FLUX_KVS_READLINK))) f |= FLUX_KVS_TREEOBJ;
    return f;
  }

  private wantsBlobs(w: Watcher): boolean {
    if (w.flags & FLUX_KVS_TREEOBJ) return false;
    return (w.flags & FLUX_KVS_WATCH_APPEND) !== 0 || ((w.flags & FLUX_KVS_STREAM) !== 0 && !(w.flags & FLUX_KVS_WATCH));
  }

  private lookupAt(w: Watcher, rootref: string, flags: number): Promise<LookupAnswer> {
    const payload = { key: w.key, namespace: w.ns.name, flags, rootdir: treeobj.createDirref(rootref) };
    return this.cred.call('kvs.lookup', payload, w.userid, w.rolemask).then(
      (r) => (treeobj.isTreeObj(r.val) ? { val: r.val } : { errnum: errno.EPROTO }),
      (e: unknown) => ({ errnum: errnumOf(e) }),
    );
  }

  private issue(w: Watcher, c: Commit): void {
    w.rootseq = c.rootseq;
    if (!(w.flags & (FLUX_KVS_WATCH | FLUX_KVS_WAITCREATE))) w.issued = true;
    const answer = this.lookupAt(w, c.rootref, this.lookupFlags(w));
    w.tail = w.tail
      .then(async () => {
        const a = await answer;
        if (!w.done) await this.handle(w, a, c);
      })
      .catch((e: unknown) => {
        this.ctx.log('err', `${w.key}: ${e instanceof Error ? e.message : String(e)}`);
        this.finish(w, errnumOf(e));
      });
  }

  /** A lookup answered (in root order): send what the flags call for. */
  private async handle(w: Watcher, a: LookupAnswer, c: Commit): Promise<void> {
    if ('errnum' in a) {
      // Not there yet: WAITCREATE waits for a commit that names the key.
      if (a.errnum === errno.ENOENT && (w.flags & FLUX_KVS_WAITCREATE) && !w.responded) return;
      return this.finish(w, a.errnum);
    }
    const val = a.val;
    if (w.flags & FLUX_KVS_WATCH_APPEND && !(w.flags & FLUX_KVS_TREEOBJ)) return this.handleAppend(w, val);
    if (this.wantsBlobs(w)) {
      await this.sendValue(w, val, c);
      return this.finish(w, errno.ENODATA);
    }
    if (w.flags & (FLUX_KVS_WATCH_UNIQ | FLUX_KVS_WATCH_FULL)) {
      const enc = treeobj.encode(val);
      if (w.responded && enc === w.prev) return;
      w.prev = enc;
    }
    this.send(w, val);
    if (!(w.flags & FLUX_KVS_WATCH)) {
      // One answer only: a STREAM request still gets its ENODATA end, a plain request nothing more.
      if (w.flags & FLUX_KVS_STREAM) this.finish(w, errno.ENODATA);
      else this.finish(w, 0);
    }
  }

  private send(w: Watcher, val: TreeObj): void {
    if (w.done) return;
    w.r.respond({ val });
    w.responded = true;
  }

  /** STREAM: a value in pieces (one per blob of a valref); anything else whole, as kvs.lookup gives it. */
  private async sendValue(w: Watcher, val: TreeObj, c: Commit): Promise<void> {
    if (val.type === 'val') return this.send(w, val);
    if (val.type === 'valref') return this.sendBlobs(w, val, 0);
    // A directory, symlink or dirref fetched as TREEOBJ: ask again with the caller's own flags.
    const again = await this.lookupAt(w, c.rootref, w.flags & LOOKUP_FLAGS);
    if ('errnum' in again) this.finish(w, again.errnum);
    else this.send(w, again.val);
  }

  /** Blobs [from, count) of a valref, loaded in parallel, sent in order, one val each. */
  private async sendBlobs(w: Watcher, valref: TreeObj, from: number): Promise<void> {
    const n = treeobj.getCount(valref);
    const loads: Promise<Buffer>[] = [];
    for (let i = from; i < n; i++) {
      const ref = treeobj.getBlobref(valref, i);
      loads.push(this.ctx.h.rpc('content.load', blobrefToDigest(ref)).getRaw().then((b) => b ?? Buffer.alloc(0)));
    }
    // Every load is awaited (no rejection left unhandled) before the first send.
    const settled = await Promise.allSettled(loads);
    for (const s of settled) {
      if (s.status === 'rejected') throw s.reason;
      this.send(w, treeobj.createVal(s.value));
    }
  }

  /** WATCH_APPEND: the whole value first, then only what each append added. */
  private async handleAppend(w: Watcher, val: TreeObj): Promise<void> {
    if (!w.responded) {
      if (val.type === 'val') {
        this.send(w, val);
        w.appendOffset = 1;
      } else if (val.type === 'valref') {
        const n = treeobj.getCount(val);
        await this.sendBlobs(w, val, 0);
        w.appendOffset = n;
        w.responded = true;
      } else {
        this.finish(w, errno.EINVAL);
      }
      return;
    }
    // A plain val now, or fewer blobs: the key was overwritten, not appended to.
    if (val.type !== 'valref') return this.finish(w, errno.EINVAL);
    const n = treeobj.getCount(val);
    if (n < w.appendOffset) return this.finish(w, errno.EINVAL);
    if (n === w.appendOffset) return;
    const from = w.appendOffset;
    w.appendOffset = n;
    await this.sendBlobs(w, val, from);
  }

  /** End a watcher: an error response unless errnum is 0 (answered) or `mute` (client gone). */
  private finish(w: Watcher, errnum: number, mute = false): void {
    if (w.done) return;
    w.done = true;
    if (errnum !== 0 && !mute) w.r.respondError(errnum);
    w.ns.watchers.delete(w);
    this.destroyIfIdle(w.ns);
  }

  // ---- requests ------------------------------------------------------------------------------

  lookup(r: Responder): void {
    const req = r.json<{ key?: unknown; namespace?: unknown; flags?: unknown }>();
    if (typeof req.key !== 'string' || typeof req.namespace !== 'string' || !Number.isInteger(req.flags)) {
      throw new FluxError(errno.EPROTO);
    }
    const flags = req.flags as number;
    if (flags & (FLUX_KVS_WATCH | FLUX_KVS_STREAM) && !(r.msg.flags & FLAG_STREAMING)) throw new FluxError(errno.EPROTO);
    const ns = this.monitor(req.namespace);
    const w: Watcher = {
      r,
      sender: sender(r.msg),
      matchtag: r.msg.aux2,
      userid: r.msg.userid,
      rolemask: r.msg.rolemask,
      key: normalizeKey(req.key),
      flags,
      ns,
      rootseq: -1,
      responded: false,
      done: false,
      issued: false,
      appendOffset: 0,
      tail: Promise.resolve(),
    };
    ns.watchers.add(w);
    // Without a root yet, the getroot answer or the next event starts it.
    if (ns.commit || ns.errnum || ns.fatal) this.respond(ns, w);
  }

  /** kvs-watch.cancel {"matchtag"}: that request of the sender's ends with ENODATA. */
  cancel(r: Responder): void {
    const req = r.json<{ matchtag?: unknown }>();
    if (!Number.isInteger(req.matchtag)) {
      this.ctx.log('err', 'cancel: malformed request');
      return;
    }
    this.cancelMatching(sender(r.msg), req.matchtag as number, false);
  }

  /** kvs-watch.disconnect: everything the client had ends, with no response to send. */
  disconnect(r: Responder): void {
    this.cancelMatching(sender(r.msg), undefined, true);
  }

  private cancelMatching(who: string, matchtag: number | undefined, mute: boolean): void {
    for (const ns of [...this.namespaces.values()]) {
      for (const w of [...ns.watchers]) {
        if (w.sender !== who || (matchtag !== undefined && w.matchtag !== matchtag)) continue;
        this.finish(w, errno.ENODATA, mute);
      }
    }
  }

  stats(): Record<string, unknown> {
    const namespace: Record<string, unknown> = {};
    let watchers = 0;
    for (const ns of this.namespaces.values()) {
      watchers += ns.watchers.size;
      namespace[ns.name] = {
        // packed as a signed int, as flux-core does: an unknown owner shows as -1
        owner: ns.owner | 0,
        rootseq: ns.commit ? ns.commit.rootseq : -1,
        watchers: ns.watchers.size,
      };
    }
    return { watchers, 'namespace-count': this.namespaces.size, namespace };
  }

  /** Unload: nobody will answer these watchers any more. */
  shutdown(): void {
    for (const ns of [...this.namespaces.values()]) {
      for (const w of [...ns.watchers]) this.finish(w, errno.ENOSYS);
    }
    this.cred.failAll();
  }
}

export const mod_main: ModuleMain = (ctx, args) => {
  if (args.length > 0) throw new FluxError(errno.EINVAL, `Unknown option \`${args[0]}'`);
  const kw = new KvsWatch(ctx);
  ctx.serve('kvs-watch.lookup', (r) => kw.lookup(r));
  ctx.serve('kvs-watch.cancel', (r) => kw.cancel(r));
  ctx.serve('kvs-watch.disconnect', (r) => kw.disconnect(r));
  ctx.serve('kvs-watch.stats-get', (r) => r.respond(kw.stats()));
  ctx.onShutdown(() => kw.shutdown());
};
