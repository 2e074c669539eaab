/**
 * The local connector: a Unix socket at `<rundir>/local-<rank>` speaking
 * flux-core's usock framing. Each client gets a uuid that is pushed on the
 * route stack of its requests, so responses find their way back.
 */
import * as net from 'node:net';
import * as fs from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { errno } from '../common/libflux/errno';
import {
  FLAG_NORESPONSE,
  FLAG_PRIVATE,
  FLAG_ROUTE,
  FLAG_TOPIC,
  FLAG_UPSTREAM,
  MSGTYPE_EVENT,
  MSGTYPE_REQUEST,
  ROLE_LOCAL,
  ROLE_OWNER,
  USERID_UNKNOWN,
  deriveErrorResponse,
  deriveResponse,
  getJson,
  type Message,
} from '../common/libflux/message';
import { UsockDecoder, encodeUsock } from '../common/libflux/usock';

export interface ClientConn {
  readonly uuid: string;
  send(m: Message): void;
}

export interface ConnectorHandlers {
  /** A request from a client, its uuid already pushed on the routes. */
  request(m: Message, conn: ClientConn): void;
  /** Any other message type from a client (events, responses). */
  other(m: Message, conn: ClientConn): void;
  disconnected(conn: ClientConn): void;
  log(msg: string): void;
}

class Conn implements ClientConn {
  readonly uuid = randomUUID();
  readonly decoder = new UsockDecoder();
  /**
   * Every (service, nodeid, upstream) this client sent requests to: when it goes
   * away each gets a `<service>.disconnect`, so services drop its state (flux-core's
   * router does the same).
   */
  readonly used = new Map<string, { service: string; nodeid: number; upstream: boolean }>();
  /** Event topic prefixes this client subscribed to (a multiset: subscribe twice, unsubscribe twice). */
  readonly subscriptions: string[] = [];
  /** The socket is owner-only (0700 rundir), so every client is the instance owner. */
  readonly userid = process.getuid?.() ?? 0;
  constructor(readonly sock: net.Socket) {}
  send(m: Message): void {
    if (!this.sock.destroyed) this.sock.write(encodeUsock(m));
  }
}

export class ConnectorLocal {
  private server: net.Server | undefined;
  private readonly conns = new Map<string, Conn>();

  constructor(private readonly owner: number, private readonly h: ConnectorHandlers) {}

  async listen(path: string): Promise<void> {
    await fs.rm(path, { force: true });
    const server = net.createServer((sock) => this.accept(sock));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    // The rundir is 0700; the socket itself is owner-only as well.
    await fs.chmod(path, 0o700);
    this.server = server;
  }

  get(uuid: string): ClientConn | undefined {
    return this.conns.get(uuid);
  }

  private accept(sock: net.Socket): void {
    const c = new Conn(sock);
    this.conns.set(c.uuid, c);
    sock.setNoDelay?.(true);
    sock.write(Buffer.from([0])); // handshake: accepted
    sock.on('data', (chunk: Buffer) => {
      let msgs: Message[];
      try {
        msgs = c.decoder.push(chunk);
      } catch (e) {
        this.h.log(`connector-local: client ${c.uuid.slice(0, 8)}: ${e instanceof Error ? e.message : String(e)}: dropping connection`);
        sock.destroy();
        return;
      }
      for (const m of msgs) this.ingress(c, m);
    });
    sock.on('error', () => sock.destroy());
    sock.on('close', () => {
      this.conns.delete(c.uuid);
      this.sendDisconnects(c);
      this.h.disconnected(c);
    });
  }

  private ingress(c: Conn, m: Message): void {
    // The instance owner's connection: fill credentials the client left unknown.
    if (m.userid === USERID_UNKNOWN) m.userid = this.owner;
    if (m.rolemask === 0) m.rolemask = ROLE_OWNER | ROLE_LOCAL;
    if (m.type === MSGTYPE_REQUEST) {
      if (m.topic === 'event.subscribe' || m.topic === 'event.unsubscribe') {
        this.subscription(c, m);
        return;
      }
      this.track(c, m);
      m.flags |= FLAG_ROUTE;
      m.routes.unshift(c.uuid);
      this.h.request(m, c);
    } else {
      // Events a client sends carry its hop too (flux-core's do).
      if (m.type === MSGTYPE_EVENT) {
        m.flags |= FLAG_ROUTE;
        m.routes.unshift(c.uuid);
      }
      this.h.other(m, c);
    }
  }

  /**
   * event.subscribe / event.unsubscribe {"topic"}: answered here, as flux-core's
   * connector does (its replies carry userid unknown and the owner role).
   */
  private subscription(c: Conn, req: Message): void {
    let topic: unknown;
    try {
      topic = getJson<{ topic?: unknown }>(req).topic;
    } catch {
      topic = undefined;
    }
    let resp: Message;
    if (typeof topic !== 'string') {
      resp = deriveErrorResponse(req, errno.EPROTO);
    } else {
      if (req.topic === 'event.subscribe') {
        c.subscriptions.push(topic);
        resp = deriveResponse(req);
      } else {
        const i = c.subscriptions.indexOf(topic);
        if (i >= 0) c.subscriptions.splice(i, 1);
        resp = i >= 0 ? deriveResponse(req) : deriveErrorResponse(req, errno.ENOENT);
      }
    }
    resp.userid = USERID_UNKNOWN;
    resp.rolemask = ROLE_OWNER;
    if (!(req.flags & FLAG_NORESPONSE)) c.send(resp);
  }

  private track(c: Conn, m: Message): void {
    const topic = m.topic ?? '';
    const dot = topic.indexOf('.');
    if (dot <= 0 || topic.endsWith('.disconnect')) return;
    const service = topic.slice(0, dot);
    const upstream = (m.flags & FLAG_UPSTREAM) !== 0;
    const key = `${service}\0${m.aux1}\0${upstream}`;
    if (!c.used.has(key)) c.used.set(key, { service, nodeid: m.aux1, upstream });
  }

  /** NORESPONSE `<service>.disconnect` to wherever the client's requests went, from the client. */
  private sendDisconnects(c: Conn): void {
    for (const u of c.used.values()) {
      const m: Message = {
        type: MSGTYPE_REQUEST,
        flags: FLAG_TOPIC | FLAG_NORESPONSE | FLAG_ROUTE | (u.upstream ? FLAG_UPSTREAM : 0),
        userid: this.owner,
        rolemask: ROLE_OWNER | ROLE_LOCAL,
        aux1: u.nodeid,
        aux2: 0,
        routes: [c.uuid],
        topic: `${u.service}.disconnect`,
      };
      this.h.request(m, c);
    }
  }

  /** Give a numbered event to every client subscribed to a prefix of its topic. */
  deliverEvent(m: Message, hop: string): void {
    const topic = m.topic ?? '';
    for (const c of this.conns.values()) {
      if (!c.subscriptions.some((p) => topic.startsWith(p))) continue;
      if (m.flags & FLAG_PRIVATE && m.userid !== this.owner && m.userid !== c.userid) continue;
      c.send({ ...m, flags: m.flags | FLAG_ROUTE, routes: [hop, ...m.routes] });
    }
  }

  close(): void {
    this.server?.close();
    for (const c of this.conns.values()) c.sock.destroy();
  }
}
