/**
 * The `groups` built-in: named sets of broker ranks (flux-core's broker
 * groups). A broker joins or leaves a group for itself (`groups.join` /
 * `groups.leave {"name"}`, local requests only); each broker keeps the union
 * of its own memberships and those its children report for their subtrees,
 * and reports that union to its parent whenever it changes. Rank 0 therefore
 * knows every group's full membership and answers `groups.get {"name"}` with
 * `{"members": IDSET}`, once or, for a streaming request, again on each change.
 *
 * The broker itself uses the `broker.online` group for its quorum: a rank
 * joins it when its rc1 is done, and leaves it (with its whole subtree) when
 * it says goodbye or is lost.
 */
import { errno, FluxError } from '../common/libflux/errno';
import { FLAG_STREAMING } from '../common/libflux/message';
import { decodeIdset, encodeIdset } from '../common/libidset/idset';
import type { Responder, ServiceTable } from './service';

export interface GroupsHost {
  rank: number;
  /** Ranks of this broker's children. */
  children: readonly number[];
  /** Send `groups.update` to the parent (NORESPONSE; nothing on rank 0). */
  reportParent(payload: Record<string, unknown>): void;
}

type Members = Map<string, Set<number>>;

export class Groups {
  private readonly own = new Set<string>();
  /** What each child last reported for its subtree. */
  private readonly fromChild = new Map<number, Map<string, number[]>>();
  private last = new Map<string, string>();
  private reportQueued = false;
  private readonly watchers = new Map<string, Set<Responder>>();
  private readonly changeListeners = new Set<(name: string, members: Set<number>) => void>();

  constructor(private readonly host: GroupsHost) {}

  register(services: ServiceTable): void {
    services.register('groups.join', (r) => {
      this.join(this.nameOf(r));
      r.respond({});
    });
    services.register('groups.leave', (r) => {
      const name = this.nameOf(r);
      if (!this.own.has(name)) throw new FluxError(errno.ENOENT, `${name} is not a member of this group`);
      this.leave(name);
      r.respond({});
    });
    services.register('groups.get', (r) => {
      if (this.host.rank !== 0) throw new FluxError(errno.EPROTO, 'groups.get is only available on rank 0');
      const name = this.nameOf(r);
      r.respond({ members: encodeIdset(this.members(name)) });
      if (r.msg.flags & FLAG_STREAMING) {
        let set = this.watchers.get(name);
        if (!set) this.watchers.set(name, (set = new Set()));
        set.add(r);
      }
    });
    services.register('groups.update', (r) => this.update(r));
  }

  /** This broker joins group `name` (idempotent). */
  join(name: string): void {
    this.own.add(name);
    this.changed();
  }

  leave(name: string): void {
    this.own.delete(name);
    this.changed();
  }

  /** A child's subtree left every group (it said goodbye or was lost). */
  childGone(rank: number): void {
    if (this.fromChild.delete(rank)) this.changed();
  }

  /** Current membership of `name` as seen from this broker's subtree. */
  members(name: string): Set<number> {
    return this.union().get(name) ?? new Set();
  }

  onChange(fn: (name: string, members: Set<number>) => void): void {
    this.changeListeners.add(fn);
  }

  /** A streaming `groups.get` whose requester went away. */
  disconnect(uuid: string): void {
    for (const set of this.watchers.values()) for (const r of set) if (r.msg.routes[0] === uuid) set.delete(r);
  }

  private nameOf(r: Responder): string {
    const { name } = r.json<{ name?: unknown }>();
    if (typeof name !== 'string' || name === '') throw new FluxError(errno.EPROTO);
    return name;
  }

  private update(r: Responder): void {
    const p = r.json<{ rank?: unknown; groups?: unknown }>();
    if (typeof p.rank !== 'number' || !this.host.children.includes(p.rank) || typeof p.groups !== 'object' || p.groups === null) {
      throw new FluxError(errno.EPROTO);
    }
    const groups = new Map<string, number[]>();
    for (const [name, ids] of Object.entries(p.groups as Record<string, unknown>)) {
      if (typeof ids === 'string') groups.set(name, decodeIdset(ids));
    }
    this.fromChild.set(p.rank, groups);
    this.changed();
  }

  private union(): Members {
    const out: Members = new Map();
    const add = (name: string, ids: Iterable<number>): void => {
      let s = out.get(name);
      if (!s) out.set(name, (s = new Set()));
      for (const id of ids) s.add(id);
    };
    for (const name of this.own) add(name, [this.host.rank]);
    for (const groups of this.fromChild.values()) for (const [name, ids] of groups) add(name, ids);
    return out;
  }

  /** Coalesce changes made in one turn of the event loop into one report. */
  private changed(): void {
    if (this.reportQueued) return;
    this.reportQueued = true;
    queueMicrotask(() => {
      this.reportQueued = false;
      this.flush();
    });
  }

  private flush(): void {
    const now = new Map<string, string>();
    for (const [name, s] of this.union()) now.set(name, encodeIdset(s));
    const names = new Set([...now.keys(), ...this.last.keys()]);
    const diff = [...names].filter((n) => (now.get(n) ?? '') !== (this.last.get(n) ?? ''));
    this.last = now;
    if (diff.length === 0) return;
    if (this.host.rank !== 0) {
      this.host.reportParent({ rank: this.host.rank, groups: Object.fromEntries([...now].filter(([, v]) => v !== '')) });
      return;
    }
    for (const name of diff) {
      const members = this.members(name);
      for (const fn of this.changeListeners) fn(name, members);
      for (const r of this.watchers.get(name) ?? []) r.respond({ members: encodeIdset(members) });
    }
  }
}
