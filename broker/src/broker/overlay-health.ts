/**
 * Overlay health of one broker's subtree, as flux-core's `overlay.health`
 * reports it: each child link is `offline` (not joined yet, or left cleanly),
 * `lost` (vanished), or the status that child last reported for its own
 * subtree (`full`, `partial`, `degraded`). This broker's status sums those up.
 *
 * Also the book of requests forwarded into each child's subtree and not yet
 * answered, so that losing a child fails them at once with EHOSTUNREACH.
 *
 * No sockets here: the broker feeds events in and sends what comes out.
 */
import { FLAG_NORESPONSE, FLAG_STREAMING, type Message } from '../common/libflux/message';

export type SubtreeStatus = 'full' | 'partial' | 'degraded' | 'lost' | 'offline';

export const STATUSES: readonly SubtreeStatus[] = ['full', 'partial', 'degraded', 'lost', 'offline'];

export function isStatus(s: unknown): s is SubtreeStatus {
  return typeof s === 'string' && (STATUSES as readonly string[]).includes(s);
}

/** True for a child that is connected and serving (whatever its subtree looks like). */
export function isOnline(s: SubtreeStatus): boolean {
  return s === 'full' || s === 'partial' || s === 'degraded';
}

/**
 * A broker's own status from its children's: `degraded` if any child subtree is
 * degraded or lost, else `partial` if any is partial or offline, else `full`.
 */
export function aggregate(children: Iterable<SubtreeStatus>): SubtreeStatus {
  let s: SubtreeStatus = 'full';
  for (const c of children) {
    if (c === 'degraded' || c === 'lost') return 'degraded';
    if (c === 'partial' || c === 'offline') s = 'partial';
  }
  return s;
}

export interface HealthChild {
  rank: number;
  status: SubtreeStatus;
  duration: number;
  /** Why a lost/offline child left (`lost connection`, `administrative disconnect`, ...). */
  error?: string;
}

/** The `overlay.health` response payload. */
export interface HealthReport extends HealthChild {
  children: HealthChild[];
}

interface ChildLink {
  rank: number;
  status: SubtreeStatus;
  since: number;
  /** Last time anything arrived from it (ms). */
  heard: number;
  uuid?: string;
  /** Reason given with the last status change ('' if none). */
  error: string;
}

interface Pending {
  req: Message;
  streaming: boolean;
}

function pendingKey(matchtag: number, routes: readonly string[]): string {
  return `${matchtag}:${routes.join('/')}`;
}

export class OverlayHealth {
  private readonly links = new Map<number, ChildLink>();
  private readonly pending = new Map<number, Map<string, Pending>>();
  private ownStatus: SubtreeStatus;
  private ownSince: number;

  /** `now` returns milliseconds (injectable for tests). */
  constructor(
    readonly rank: number,
    children: number[],
    private readonly now: () => number = () => Date.now(),
  ) {
    const t = now();
    for (const c of children) this.links.set(c, { rank: c, status: 'offline', since: t, heard: t, error: '' });
    this.ownStatus = aggregate([...this.links.values()].map((l) => l.status));
    this.ownSince = t;
  }

  get status(): SubtreeStatus {
    return this.ownStatus;
  }

  childStatus(rank: number): SubtreeStatus | undefined {
    return this.links.get(rank)?.status;
  }

  /** Ranks of children that are connected now, with their uuids. */
  onlineChildren(): { rank: number; uuid: string }[] {
    const out: { rank: number; uuid: string }[] = [];
    for (const l of this.links.values()) if (isOnline(l.status) && l.uuid) out.push({ rank: l.rank, uuid: l.uuid });
    return out;
  }

  rankOf(uuid: string): number | undefined {
    for (const l of this.links.values()) if (l.uuid === uuid) return l.rank;
    return undefined;
  }

  /**
   * Set a child's status, with the reason for it (kept, like flux-core, only
   * until the next update). Returns true when this broker's own status changed
   * (then the parent should hear about it).
   */
  setChild(rank: number, status: SubtreeStatus, uuid?: string, reason = ''): boolean {
    const l = this.links.get(rank);
    if (!l) return false;
    const t = this.now();
    if (uuid !== undefined) l.uuid = uuid;
    l.error = reason;
    l.heard = t;
    if (l.status !== status) {
      l.status = status;
      l.since = t;
    }
    const own = aggregate([...this.links.values()].map((x) => x.status));
    if (own === this.ownStatus) return false;
    this.ownStatus = own;
    this.ownSince = t;
    return true;
  }

  /** Something arrived from this child. */
  heard(rank: number): void {
    const l = this.links.get(rank);
    if (l) l.heard = this.now();
  }

  /** Online children silent for longer than `ms`. */
  silent(ms: number): number[] {
    const t = this.now();
    return [...this.links.values()].filter((l) => isOnline(l.status) && t - l.heard > ms).map((l) => l.rank);
  }

  report(): HealthReport {
    const t = this.now();
    return {
      rank: this.rank,
      status: this.ownStatus,
      duration: (t - this.ownSince) / 1000,
      children: [...this.links.values()].map((l) => {
        const c: HealthChild = { rank: l.rank, status: l.status, duration: (t - l.since) / 1000 };
        if (!isOnline(l.status) && l.error !== '') c.error = l.error;
        return c;
      }),
    };
  }

  // --- requests in flight through each child --------------------------------

  /** A request is about to go to child `rank`; `req.routes` as it stands before this broker's hop is pushed. */
  track(rank: number, req: Message): void {
    if (req.flags & FLAG_NORESPONSE) return;
    let m = this.pending.get(rank);
    if (!m) this.pending.set(rank, (m = new Map()));
    const copy: Message = { ...req, routes: req.routes.slice() };
    m.set(pendingKey(req.aux2, req.routes), { req: copy, streaming: (req.flags & FLAG_STREAMING) !== 0 });
  }

  /** A response came back from child `rank` (routes as they arrived, this broker's hop already off). */
  answered(rank: number, resp: Message): void {
    const m = this.pending.get(rank);
    if (!m) return;
    const key = pendingKey(resp.aux2, resp.routes);
    const p = m.get(key);
    if (p && (!p.streaming || resp.aux1 !== 0)) m.delete(key);
  }

  /** Forget the requests in flight through `rank` and hand them back (to be failed). */
  takePending(rank: number): Message[] {
    const m = this.pending.get(rank);
    this.pending.delete(rank);
    return m ? [...m.values()].map((p) => p.req) : [];
  }

  pendingCount(rank: number): number {
    return this.pending.get(rank)?.size ?? 0;
  }
}
