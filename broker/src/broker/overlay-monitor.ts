/**
 * Watching the TBON links of one broker and acting on failures, the way
 * flux-core's overlay does:
 *
 * - each child reports its subtree status to its parent (`overlay.status`,
 *   no response) when it changes and every few seconds as a keepalive;
 * - a child is `lost` when ZeroMQ says a connection dropped and a probe to it
 *   fails (the ROUTER refuses to route to a peer that is gone), when a send to
 *   it fails, or when it has been silent too long; requests in flight through
 *   it and new ones into its subtree then fail with EHOSTUNREACH;
 * - a child that confirmed `overlay.shutdown` is `offline`, not lost;
 * - a broker whose parent connection drops while running has lost its parent
 *   and must exit (it cannot rejoin); so must a child declared lost that
 *   speaks again (e.g. it was stopped for longer than the timeout).
 *
 * `overlay.health` answers `{rank, status, duration, children: [...]}`; a
 * streaming request gets that at once and again whenever a status changes.
 */
import { brokerRequest } from './broker-rpc';
import { errno, FluxError } from '../common/libflux/errno';
import {
  FLAG_NORESPONSE,
  FLAG_STREAMING,
  type Message,
} from '../common/libflux/message';
import { parseFsd } from '../common/libutil/fsd';
import { OverlayHealth, isOnline, isStatus, type SubtreeStatus } from './overlay-health';
import type { OverlayTrace } from './overlay-trace';
import type { Responder, ServiceTable } from './service';
import { descendants, type Topology } from './topology';

/** Reasons recorded for children that left, as flux-core words them (shown by `flux overlay errors`). */
const LOST_CONNECTION = 'lost connection';
const ADMIN_DISCONNECT = 'administrative disconnect';
const ADMIN_SHUTDOWN = 'administrative shutdown';

export interface MonitorHost {
  readonly rank: number;
  readonly parent: number | undefined;
  readonly children: number[];
  readonly uuid: string;
  readonly owner: number;
  /** Broker state: losses during shutdown are departures, not failures. */
  shuttingDown(): boolean;
  /** Route a request this broker originates. */
  routeRequest(m: Message): void;
  /** Send straight to a child's socket (rejects with EHOSTUNREACH when it is gone). */
  sendChild(uuid: string, m: Message): Promise<void>;
  /** Answer a request with an error (on its route stack). */
  failRequest(m: Message, errnum: number): void;
  /** The child left for good: stop routing to it. */
  forgetChild(rank: number, uuid: string): void;
  /** The parent is gone: the broker must exit. */
  lostParent(): void;
  /** Is this the parent broker's uuid? */
  isParent(uuid: string): boolean;
  /** Whoever sent this request can no longer get a response (client disconnected, link gone). */
  requesterGone(m: Message): boolean;
  logErr(msg: string): void;
  logDebug(msg: string): void;
}

export interface MonitorOptions {
  /** How often a child reports to its parent. */
  keepaliveMs?: number;
  /** A child silent this long is lost. */
  lostMs?: number;
  /** After a ZeroMQ disconnect, probe the children at these delays (ms). */
  probeDelays?: number[];
}

/**
 * Options from broker attributes: `tbon.torpid_max` (FSD, default 30s) is how long a
 * silent child may go before it is lost (flux-core only calls it torpid then).
 */
export function monitorOptions(attrs: Record<string, string>): MonitorOptions {
  const v = attrs['tbon.torpid_max'];
  if (v === undefined) return {};
  try {
    const sec = parseFsd(v);
    return sec > 0 ? { lostMs: Number.isFinite(sec) ? sec * 1000 : 2 ** 31 - 1 } : {};
  } catch {
    return {};
  }
}

export class OverlayMonitor {
  readonly health: OverlayHealth;
  private readonly keepaliveMs: number;
  private readonly lostMs: number;
  private readonly probeDelays: number[];
  private timers: NodeJS.Timeout[] = [];
  private running = false;
  private parentGone = false;
  private watchers: Responder[] = [];
  /** Children declared lost, by uuid: if one speaks again it is told to go (it cannot rejoin). */
  private readonly dropped = new Map<string, number>();
  private trace: OverlayTrace | undefined;
  private topo: Topology | undefined;
  private hostnames: () => string[] = () => [];

  constructor(private readonly host: MonitorHost, opts: MonitorOptions = {}) {
    this.health = new OverlayHealth(host.rank, host.children);
    this.lostMs = opts.lostMs ?? 30_000;
    // Several keepalives per timeout, so one late timer does not lose a child.
    this.keepaliveMs = opts.keepaliveMs ?? Math.max(10, Math.min(2000, this.lostMs / 5));
    this.probeDelays = opts.probeDelays ?? [0, 50, 250, 1000, 3000];
  }

  /**
   * Wiring from the broker: the overlay's trace hub (served as `overlay.trace`),
   * the topology (for subtree sizes in log messages) and the instance hostlist.
   */
  wire(trace: OverlayTrace, topo: Topology, hostnames: () => string[] = () => []): void {
    this.trace = trace;
    this.topo = topo;
    this.hostnames = hostnames;
    trace.parentRank = this.host.parent;
    trace.rankOf = (uuid) => this.health.rankOf(uuid);
  }

  register(services: ServiceTable): void {
    services.register('overlay.trace', (r) => {
      if (!this.trace) throw new FluxError(errno.ENOSYS);
      this.trace.prune((m) => this.host.requesterGone(m));
      this.trace.request(r);
    });
    services.register('overlay.disconnect-subtree', (r) => this.disconnectSubtree(r));
    services.register('overlay.health', (r) => this.healthRequest(r));
    services.register('overlay.status', (r) => this.statusReport(r));
    services.register('overlay.keepalive', () => {});
    services.register('overlay.goodbye', (r) => this.goodbyeReceived(r));
    services.register('overlay.lost', (r) => {
      if (r.msg.routes[0] === undefined || !this.host.isParent(r.msg.routes[0])) return;
      // flux-core's words for its CONTROL_DISCONNECT (logged at LOG_CRIT there).
      const parent = this.host.parent ?? 0;
      this.host.logErr(`${this.hostOf(parent)} (rank ${parent}) sent disconnect control message`);
      this.parentGone = true;
      this.host.lostParent();
    });
    // A client went away (connector-local sends this): drop its health streams.
    services.register('overlay.disconnect', (r) => {
      const who = r.msg.routes.join('/');
      this.watchers = this.watchers.filter((w) => w.msg.routes.join('/') !== who);
      this.trace?.disconnect(who);
    });
  }

  /** Start keepalives and the silence check (once this broker is up). */
  start(): void {
    if (this.running) return;
    this.running = true;
    if (this.host.parent !== undefined) {
      // The hello carried the status of that moment; children may have joined since.
      this.reportParent();
      const t = setInterval(() => this.reportParent(), this.keepaliveMs);
      t.unref();
      this.timers.push(t);
    }
    if (this.host.children.length > 0) {
      const t = setInterval(() => {
        for (const rank of this.health.silent(this.lostMs)) this.childLost(rank, 'no keepalive');
      }, Math.min(1000, this.lostMs));
      t.unref();
      this.timers.push(t);
    }
  }

  stop(): void {
    this.running = false;
    this.watchers = [];
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
  }

  // --- events from the broker ---------------------------------------------

  /** A child said hello with its subtree status. */
  childJoined(rank: number, uuid: string, status: unknown): void {
    this.setChild(rank, isStatus(status) && isOnline(status) ? status : 'full', uuid);
  }

  private hostOf(rank: number): string {
    return this.hostnames()[rank] ?? String(rank);
  }

  /** flux-core's log line for a child cut off: `HOST (rank R) WHY[ and severed contact with N other nodes]`. */
  private logLost(rank: number, why: string): void {
    const n = this.topo ? descendants(this.topo, rank) : 0;
    this.host.logErr(`${this.hostOf(rank)} (rank ${rank}) ${why}${n > 0 ? ` and severed contact with ${n} other nodes` : ''}`);
  }

  /** Anything from a child: it is alive; a response settles a request in flight. */
  fromChild(rank: number, m: Message, isResponse: boolean): void {
    this.health.heard(rank);
    if (isResponse) this.health.answered(rank, m);
  }

  /** A request is about to be forwarded to child `rank` (routes not yet pushed). */
  forwarding(rank: number, m: Message): void {
    this.health.track(rank, m);
  }

  /** Forwarding `m` to child `rank` failed. */
  sendFailed(rank: number, m: Message, e: unknown): void {
    if (e instanceof FluxError && e.errnum === errno.EHOSTUNREACH) {
      this.childLost(rank, 'unreachable');
      return;
    }
    // Some other failure: only this request fails.
    this.health.answered(rank, m);
    this.host.failRequest(m, e instanceof FluxError ? e.errnum : errno.EIO);
  }

  /** The child confirmed a shutdown request. */
  childShutdown(rank: number): void {
    this.childGone(rank, 'offline', ADMIN_SHUTDOWN);
  }

  /** ZeroMQ dropped some child's connection: find out whose. */
  childDisconnected(): void {
    this.host.logDebug('overlay: a child connection dropped: probing');
    for (const d of this.probeDelays) {
      const t = setTimeout(() => this.probeChildren(), d);
      t.unref();
      this.timers.push(t);
    }
  }

  parentDisconnected(): void {
    this.parentGone = true;
    if (this.host.shuttingDown()) return;
    this.host.logErr('lost connection to parent');
    this.host.lostParent();
  }

  /** A message from a child uuid this broker does not route for (any more). */
  fromStranger(uuid: string): void {
    const rank = this.dropped.get(uuid);
    if (rank === undefined) return;
    this.dropped.delete(uuid);
    this.host.logErr(`overlay: rank ${rank} was lost and is back: telling it to exit`);
    const m = this.control('overlay.lost', rank, {});
    m.routes.push(this.host.uuid); // as if routed from here: the child checks it came from its parent
    this.host.sendChild(uuid, m).catch(() => {});
  }

  /** Leaving on purpose (not asked by the parent): tell it, so it marks us offline, not lost. */
  goodbye(): void {
    const parent = this.host.parent;
    if (parent === undefined || this.parentGone) return;
    this.host.routeRequest(this.control('overlay.goodbye', parent, { rank: this.host.rank }));
  }

  // --- internals ----------------------------------------------------------

  private probeChildren(): void {
    for (const { rank, uuid } of this.health.onlineChildren()) {
      const m = this.control('overlay.keepalive', rank, {});
      this.host.sendChild(uuid, m).then(
        () => this.host.logDebug(`overlay: probe of rank ${rank} sent`),
        (e: unknown) => {
          if (e instanceof FluxError && e.errnum === errno.EHOSTUNREACH) this.childLost(rank, 'disconnected');
        },
      );
    }
  }

  private childLost(rank: number, why: string): void {
    const s = this.health.childStatus(rank);
    if (s === undefined || !isOnline(s)) return;
    if (this.host.shuttingDown()) {
      this.childGone(rank, 'offline', ADMIN_SHUTDOWN);
      return;
    }
    this.logLost(rank, why === 'no keepalive' ? 'has been unresponsive too long' : 'failed');
    this.childGone(rank, 'lost', LOST_CONNECTION);
  }

  private childGone(rank: number, status: 'lost' | 'offline', reason: string): void {
    const uuid = this.health.onlineChildren().find((c) => c.rank === rank)?.uuid;
    this.setChild(rank, status, uuid, reason);
    if (uuid) this.host.forgetChild(rank, uuid);
    if (uuid && status === 'lost') this.dropped.set(uuid, rank);
    for (const req of this.health.takePending(rank)) this.host.failRequest(req, errno.EHOSTUNREACH);
  }

  private setChild(rank: number, status: SubtreeStatus, uuid?: string, reason?: string): void {
    const before = this.health.childStatus(rank);
    if (this.health.setChild(rank, status, uuid, reason)) {
      this.host.logDebug(`overlay: subtree status is now ${this.health.status}`);
      this.reportParent();
    }
    if (before !== status) this.notifyWatchers();
  }

  /** Streaming `overlay.health` requests get a fresh report on every change. */
  private notifyWatchers(): void {
    this.watchers = this.watchers.filter((w) => !this.host.requesterGone(w.msg));
    for (const w of this.watchers) w.respond({ ...this.health.report() });
  }

  /** Tell the parent this subtree's status (also the keepalive). */
  private reportParent(): void {
    const parent = this.host.parent;
    if (parent === undefined || !this.running || this.host.shuttingDown()) return;
    this.host.routeRequest(this.control('overlay.status', parent, { rank: this.host.rank, status: this.health.status }));
  }

  private control(topic: string, nodeid: number, payload: Record<string, unknown>): Message {
    const m = brokerRequest(this.host.owner, topic, payload, nodeid);
    m.flags |= FLAG_NORESPONSE;
    return m;
  }

  private statusReport(r: Responder): void {
    const from = r.msg.routes[0];
    const p = r.json<{ rank?: unknown; status?: unknown }>();
    if (typeof p.rank !== 'number' || !isStatus(p.status)) return;
    const known = this.health.onlineChildren().find((c) => c.rank === p.rank);
    if (!known || known.uuid !== from || !isOnline(p.status)) return;
    this.setChild(p.rank, p.status);
  }

  private goodbyeReceived(r: Responder): void {
    const p = r.json<{ rank?: unknown }>();
    const known = this.health.onlineChildren().find((c) => c.rank === p.rank);
    if (!known || known.uuid !== r.msg.routes[0]) return;
    this.host.logDebug(`overlay: rank ${known.rank} said goodbye`);
    this.childGone(known.rank, 'offline', ADMIN_SHUTDOWN);
  }

  /**
   * `overlay.disconnect-subtree {rank}` (flux overlay disconnect): tell a direct
   * child its parent dropped it (it exits, and its subtree with it), and mark it
   * lost at once so requests into that subtree fail with EHOSTUNREACH.
   */
  private disconnectSubtree(r: Responder): void {
    const p = r.json<{ rank?: unknown }>();
    if (typeof p.rank !== 'number' || !Number.isInteger(p.rank)) throw new FluxError(errno.EPROTO);
    const rank = p.rank;
    const status = this.health.childStatus(rank);
    if (status === undefined) throw new FluxError(errno.ENOENT, "requested rank is not this broker's direct child");
    const link = this.health.onlineChildren().find((c) => c.rank === rank);
    if (!isOnline(status) || !link) throw new FluxError(errno.EINVAL, `rank ${rank} is already ${status}`);
    const m = this.control('overlay.lost', rank, {});
    m.routes.push(this.host.uuid); // as if routed from here: the child checks it came from its parent
    this.host.sendChild(link.uuid, m).catch(() => {});
    this.logLost(rank, 'disconnected by request');
    this.childGone(rank, 'lost', ADMIN_DISCONNECT);
    // It was told to go: whatever it still sends on its way out is no news.
    this.dropped.delete(link.uuid);
    r.respond({});
  }

  private healthRequest(r: Responder): void {
    r.respond({ ...this.health.report() });
    if (r.msg.flags & FLAG_STREAMING && !(r.msg.flags & FLAG_NORESPONSE)) {
      this.watchers = this.watchers.filter((w) => !this.host.requesterGone(w.msg));
      this.watchers.push(r);
    }
  }
}
