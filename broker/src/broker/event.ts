/**
 * Events (RFC 3 event messages): only rank 0 numbers them (1, 2, ...); every
 * other broker forwards unnumbered events upstream and passes numbered ones
 * from its parent down to its children and to local subscribers, in order.
 * `event.publish {"topic","flags","payload"?}` (rank 0) publishes on a client's
 * behalf and answers `{"seq"}` once the event is numbered.
 */
import { errno, FluxError } from '../common/libflux/errno';
import {
  FLAG_PRIVATE,
  FLAG_ROUTE,
  MSGTYPE_EVENT,
  ROLE_LOCAL,
  ROLE_OWNER,
  newMessage,
  setRaw,
  type Message,
} from '../common/libflux/message';
import type { ServiceTable } from './service';

export interface EventLinks {
  rank: number;
  owner: number;
  /** Send an unnumbered event toward rank 0. */
  toParent(m: Message): void;
  /** Send a numbered event to every child that is up. */
  toChildren(m: Message): void;
  /** Hand a numbered event to this broker's subscribers (clients, modules). */
  deliverLocal(m: Message): void;
}

export class EventDistributor {
  private seq = 0;

  constructor(private readonly links: EventLinks) {}

  /** The last sequence number seen (rank 0: published). */
  get lastSeq(): number {
    return this.seq;
  }

  /** An event entering here unnumbered: from a client, a child, or this broker. Returns its seq on rank 0. */
  publish(m: Message): number | undefined {
    if (this.links.rank !== 0) {
      m.flags |= FLAG_ROUTE;
      this.links.toParent(m);
      return undefined;
    }
    m.aux1 = ++this.seq;
    m.aux2 = 0;
    m.userid = this.links.owner;
    m.rolemask = ROLE_OWNER | ROLE_LOCAL;
    this.distribute(m);
    return m.aux1;
  }

  /** A numbered event from the parent. Duplicates and stale events are dropped. */
  fromParent(m: Message): void {
    if (m.aux1 <= this.seq) return;
    m.rolemask &= ~ROLE_LOCAL;
    this.seq = m.aux1;
    this.distribute(m);
  }

  private distribute(m: Message): void {
    m.flags |= FLAG_ROUTE;
    this.links.toChildren(m);
    this.links.deliverLocal(m);
  }

  /** Publish from the broker itself (e.g. heartbeat.pulse). */
  publishOwn(topic: string, payload?: Buffer): number | undefined {
    const m = newMessage(MSGTYPE_EVENT, topic);
    m.flags |= FLAG_ROUTE;
    setRaw(m, payload);
    return this.publish(m);
  }

  registerService(services: ServiceTable): void {
    if (this.links.rank !== 0) return; // ANY-routed event.publish climbs to rank 0
    services.register('event.publish', (r) => {
      const p = r.json<{ topic?: unknown; flags?: unknown; payload?: unknown }>();
      if (typeof p.topic !== 'string' || (p.flags !== undefined && typeof p.flags !== 'number')) throw new FluxError(errno.EPROTO);
      const flags = (p.flags as number | undefined) ?? 0;
      if (flags & ~FLAG_PRIVATE) throw new FluxError(errno.EPROTO, 'invalid event flags');
      if (p.payload !== undefined && typeof p.payload !== 'string') throw new FluxError(errno.EPROTO);
      const m = newMessage(MSGTYPE_EVENT, p.topic);
      m.flags |= flags;
      if (typeof p.payload === 'string') setRaw(m, Buffer.from(p.payload, 'base64'));
      // The publisher's own hop, as flux-core's events carry it.
      m.routes = [];
      const seq = this.publish(m);
      r.respond({ seq: seq ?? 0 });
    });
  }
}
