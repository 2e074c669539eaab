/**
 * The TBON links of one broker over ZeroMQ: a ROUTER bound for its children
 * (each child's routing id is its broker uuid) and a DEALER connected to its
 * parent. Messages travel as RFC 3 multipart frames. A ROUTER prepends the
 * sender's identity on receipt, which is exactly a route hop for requests.
 */
import * as zmq from 'zeromq';
import { errno, FluxError } from '../common/libflux/errno';
import { FLAG_ROUTE, MSGTYPE_REQUEST, decodeFrames, encodeFrames, type Message } from '../common/libflux/message';
import { OverlayTrace } from './overlay-trace';

/** zeromq.js allows one send in flight per socket: chain them. */
class SendQueue {
  /** Settles after every send queued so far. */
  tail: Promise<void> = Promise.resolve();
  constructor(private readonly sock: zmq.Router | zmq.Dealer) {}
  send(frames: Buffer[]): Promise<void> {
    const p = this.tail.then(() => this.sock.send(frames));
    this.tail = p.catch(() => {});
    return p;
  }
}

export interface OverlayHandlers {
  /** A message from the parent (routes as sent: for requests the parent's uuid is on top). */
  fromParent(m: Message): void;
  /** A message from the child with this uuid (for requests its uuid is pushed on the routes). */
  fromChild(uuid: string, m: Message): void;
  /** Undecodable input: logged, never fatal. */
  protocolError(where: string, err: unknown): void;
  /** Some child's connection dropped (ZeroMQ does not say whose: the broker probes). */
  childDisconnected?(): void;
  /** The connection to the parent dropped. */
  parentDisconnected?(): void;
}

export class Overlay {
  private router: zmq.Router | undefined;
  private dealer: zmq.Dealer | undefined;
  private routerQ: SendQueue | undefined;
  private dealerQ: SendQueue | undefined;
  private closing = false;
  /** Summaries of the messages crossing this broker's links, for `overlay.trace` (overlay-trace.ts). */
  readonly trace = new OverlayTrace();

  constructor(private readonly h: OverlayHandlers) {}

  /** Bind the children's socket (ipc:// or tcp://). Returns the endpoint actually bound. */
  async bindChildren(endpoint: string): Promise<string> {
    // sendTimeout 0: with no high-water mark a send can only fail to go out when the peer's
    // pipe is being torn down (it died); waiting for it would stall every child's sends.
    const r = new zmq.Router({ mandatory: true, linger: 0, sendHighWaterMark: 0, receiveHighWaterMark: 0, sendTimeout: 0 });
    await r.bind(endpoint);
    this.router = r;
    this.routerQ = new SendQueue(r);
    void this.receiveChildren(r);
    void this.watchDisconnects(r, () => this.h.childDisconnected?.());
    return r.lastEndpoint ?? endpoint;
  }

  connectParent(endpoint: string, uuid: string): void {
    const d = new zmq.Dealer({ routingId: uuid, linger: 2000, reconnectInterval: 20, sendHighWaterMark: 0, receiveHighWaterMark: 0 });
    d.connect(endpoint);
    this.dealer = d;
    this.dealerQ = new SendQueue(d);
    void this.receiveParent(d);
    void this.watchDisconnects(d, () => this.h.parentDisconnected?.());
  }

  /** Socket monitor: call `cb` on each 'disconnect' event until the socket closes. */
  private async watchDisconnects(sock: zmq.Router | zmq.Dealer, cb: () => void): Promise<void> {
    try {
      for await (const ev of sock.events) {
        if (ev.type === 'disconnect' && !this.closing) cb();
      }
    } catch (e) {
      if (!this.closing) this.h.protocolError('socket monitor', e);
    }
  }

  private async receiveChildren(r: zmq.Router): Promise<void> {
    try {
      for await (const frames of r) {
        const uuid = frames[0].toString('utf8');
        let m: Message;
        try {
          m = decodeFrames(frames.slice(1));
          if (!(m.flags & FLAG_ROUTE)) throw new FluxError(errno.EPROTO, 'overlay message without routes');
        } catch (e) {
          this.h.protocolError(`child ${uuid}`, e);
          continue;
        }
        if (m.type === MSGTYPE_REQUEST) m.routes.unshift(uuid);
        this.trace.record('rx', uuid, m);
        this.h.fromChild(uuid, m);
      }
    } catch (e) {
      if (!this.closing) this.h.protocolError('children socket', e);
    }
  }

  private async receiveParent(d: zmq.Dealer): Promise<void> {
    try {
      for await (const frames of d) {
        let m: Message;
        try {
          m = decodeFrames(frames);
        } catch (e) {
          this.h.protocolError('parent', e);
          continue;
        }
        this.trace.record('rx', undefined, m);
        this.h.fromParent(m);
      }
    } catch (e) {
      if (!this.closing) this.h.protocolError('parent socket', e);
    }
  }

  get hasParent(): boolean {
    return this.dealer !== undefined;
  }

  /** Send toward the parent. Routes must already be what the parent expects. */
  sendParent(m: Message): Promise<void> {
    if (!this.dealerQ) return Promise.reject(new FluxError(errno.EHOSTUNREACH));
    m.flags |= FLAG_ROUTE;
    const sent = this.dealerQ.send(encodeFrames(m));
    // Traced when queued: the send settles only after earlier ones, possibly after the reply came in.
    this.trace.record('tx', undefined, m);
    return sent;
  }

  /** Send to the child with routing id `uuid`; EHOSTUNREACH if it is not connected. */
  async sendChild(uuid: string, m: Message): Promise<void> {
    if (!this.routerQ) throw new FluxError(errno.EHOSTUNREACH);
    m.flags |= FLAG_ROUTE;
    try {
      const sent = this.routerQ.send([Buffer.from(uuid, 'utf8'), ...encodeFrames(m)]);
      // Traced when queued (see sendParent); a failed send shows up as the child's loss.
      this.trace.record('tx', uuid, m);
      await sent;
    } catch (e) {
      const code = (e as { code?: string }).code;
      throw code === 'EHOSTUNREACH' || code === 'EAGAIN' ? new FluxError(errno.EHOSTUNREACH) : FluxError.fromNode(e);
    }
  }

  /** Close after the messages already queued have been handed to ZeroMQ. */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.all([this.routerQ?.tail, this.dealerQ?.tail]);
    this.router?.close();
    this.dealer?.close();
  }
}
