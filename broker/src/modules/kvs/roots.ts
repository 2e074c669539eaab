/**
 * The namespaces a kvs module knows and the root of each. Rank 0 holds them all (created at
 * load or by kvs.namespace-create). Another rank learns a namespace's root lazily: it
 * subscribes to the namespace's events first, then asks its parent (`kvs.getroot`), so no
 * setroot can slip between the two; from then on the setroot events move the root forward,
 * answer the commits this rank relayed (after adopting the root: the committer reads its own
 * write here at once) and the `kvs.wait-version` waiters it reached.
 */
import { errno, FluxError } from '../../common/libflux/errno';
import { NODEID_UPSTREAM, type Message } from '../../common/libflux/message';
import { namespaceEvent } from '../../common/libkvs/namespace-event';
import type { CommitManager } from '../../common/libkvs/commit-manager';
import type { Responder } from '../../broker/service';
import type { ModuleContext } from '../../module/runtime';
import { checkUser } from './access';

export interface VersionWaiter {
  seq: number;
  r: Responder;
}

export interface Root {
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

/** Rank 0's transaction queue for a new root (undefined elsewhere). */
export type ManagerFactory = (ns: string, ref: string, seq: number) => CommitManager | undefined;

export class Roots {
  readonly map = new Map<string, Root>();
  /** Followers: namespaces being fetched from the parent. */
  private readonly fetching = new Map<string, Promise<Root>>();
  /** Followers: listening for setroot events. */
  private listening = false;

  constructor(private readonly ctx: ModuleContext, private readonly manager: ManagerFactory) {}

  create(ns: string, owner: number, flags: number, ref: string, seq: number): Root {
    const root: Root = { ns, owner, flags, ref, seq, removed: false, waiters: [], pending: new Map(), published: seq };
    root.mgr = this.manager(ns, ref, seq);
    this.map.set(ns, root);
    return root;
  }

  /** Move the root forward (never back) and answer the wait-version waiters it satisfies. */
  setroot(root: Root, ref: string, seq: number): void {
    if (seq !== 0 && seq <= root.seq) return;
    root.ref = ref;
    root.seq = seq;
    const ready = root.waiters.filter((w) => w.seq <= seq);
    root.waiters = root.waiters.filter((w) => w.seq > seq);
    for (const w of ready) w.r.respond({ rootseq: root.seq, rootref: root.ref });
  }

  /** The namespace's root, fetched from the parent on first use (followers); ENOTSUP if unknown; EPERM if not the sender's. */
  async get(ns: string, m: Message | undefined): Promise<Root> {
    let root = this.map.get(ns);
    if (!root || root.removed) {
      if (this.ctx.rank === 0) throw new FluxError(errno.ENOTSUP);
      let p = this.fetching.get(ns);
      if (!p) {
        p = this.fetch(ns).finally(() => this.fetching.delete(ns));
        this.fetching.set(ns, p);
      }
      root = await p;
    }
    if (m) checkUser(root.owner, m);
    return root;
  }

  private async fetch(ns: string): Promise<Root> {
    // Subscribe first: a setroot published after the parent answers cannot be missed.
    const topic = `kvs.namespace-${ns}`;
    if (!this.listening) {
      this.listening = true;
      this.ctx.h.onEvent((m) => this.onEvent(m));
    }
    await this.ctx.h.subscribe(topic);
    try {
      const r = await this.ctx.h.rpc('kvs.getroot', { namespace: ns }, { nodeid: NODEID_UPSTREAM })
        .get<{ owner: number; rootseq: number; rootref: string; flags: number }>();
      const existing = this.map.get(ns);
      if (existing && !existing.removed) {
        this.setroot(existing, r.rootref, r.rootseq);
        return existing;
      }
      return this.create(ns, r.owner, r.flags, r.rootref, r.rootseq);
    } catch (e) {
      await this.ctx.h.unsubscribe(topic).catch(() => undefined);
      throw e;
    }
  }

  /** Followers: kvs.namespace-NS-setroot / -error / -removed. */
  private onEvent(m: Message): void {
    const ev = namespaceEvent(m);
    if (!ev) return;
    const root = this.map.get(ev.namespace);
    if (!root) return;
    const { kind, body: o } = ev;
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
      this.remove(root);
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

  /** The namespace is gone: its waiters and relayed commits fail with ENOTSUP. */
  remove(root: Root): void {
    if (root.removed) return;
    root.removed = true;
    for (const w of root.waiters.splice(0)) w.r.respondError(errno.ENOTSUP);
    for (const r of root.pending.values()) r.respondError(errno.ENOTSUP);
    root.pending.clear();
    this.map.delete(root.ns);
    if (this.ctx.rank !== 0 && this.listening) void this.ctx.h.unsubscribe(`kvs.namespace-${root.ns}`).catch(() => undefined);
  }
}
