/**
 * The local connector: a Unix socket at `<rundir>/local-<rank>` speaking
 * flux-core's usock framing. Each client gets a uuid that is pushed on the
 * route stack of its requests, so responses find their way back.
 *
 * Who may connect: flux-core asks the kernel for the peer's uid (SO_PEERCRED) and
 * refuses everyone but the instance owner. Node.js cannot read SO_PEERCRED without a
 * native addon, so the kernel enforces it another way: the socket file is mode 0600,
 * owned by the owner, and it is never reachable with a wider mode (it is bound in a
 * private 0700 directory, chmod'ed, then renamed into place); connect(2) needs write
 * permission on it. The rundir must belong to the owner, as flux-core requires.
 *
 * What a client cannot do: crash or wedge the broker. Bytes that are not usock framing,
 * a message longer than the limit, or frames that do not add up end that client's
 * connection (flux-core does the same) and leave a line in the broker's log; messages
 * it sent whole before the bad bytes are still served.
 */
import { applySubscription, isSubscribed } from './subscriptions';
import * as net from 'node:net';
import * as fs from 'node:fs/promises';
import * as fsSync from 'node:fs';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { errno, FluxError } from '../common/libflux/errno';
import {
  FLAG_NORESPONSE,
  FLAG_PRIVATE,
  FLAG_ROUTE,
  FLAG_TOPIC,
  FLAG_UPSTREAM,
  MSGTYPE_CONTROL,
  MSGTYPE_EVENT,
  MSGTYPE_REQUEST,
  ROLE_LOCAL,
  ROLE_OWNER,
  USERID_UNKNOWN,
  deriveErrorResponse,
  typeName,
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
  /** The socket is owner-only (mode 0600), so every client is the instance owner. */
  readonly userid = process.getuid?.() ?? 0;
  constructor(readonly sock: net.Socket) {}
  send(m: Message): void {
    if (!this.sock.destroyed) this.sock.write(encodeUsock(m));
  }
  /** For log lines: the first 5 characters of the uuid and the uid, as flux-core's router logs a client. */
  get label(): string {
    return `client=${this.uuid.slice(0, 5)} userid=${this.userid}`;
  }
}

export class ConnectorLocal {
  private server: net.Server | undefined;
  /** Where the socket was moved to after binding (Node's own unlink on close knows only the bind path). */
  private socketPath: string | undefined;
  private readonly conns = new Map<string, Conn>();

  constructor(private readonly owner: number, private readonly h: ConnectorHandlers) {}

  /**
   * Listen on `sockPath`, mode 0600. The rundir holding it must be owned by the
   * instance owner (flux-core: "<dir> is not owned by instance owner", EPERM).
   */
  async listen(sockPath: string): Promise<void> {
    const dir = path.dirname(sockPath);
    const st = await fs.stat(dir);
    if (process.getuid && st.uid !== process.getuid()) {
      throw new FluxError(errno.EPERM, `${dir} is not owned by instance owner: Operation not permitted`);
    }
    await fs.rm(sockPath, { force: true });
    // Bind where nobody else can reach, tighten the mode, then move it into place: the socket
    // never exists under its public name with a wider mode, even for a moment. (Same
    // directory, so the path is no longer than `local-R` plus a couple of characters.)
    const privateDir = await fs.mkdtemp(`${dir}/.`); // not path.join: it would drop the '.'
    const tmpPath = path.join(privateDir, 's');
    const server = net.createServer((sock) => this.accept(sock));
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(tmpPath, () => {
          server.off('error', reject);
          resolve();
        });
      });
      await fs.chmod(tmpPath, 0o600);
      await fs.rename(tmpPath, sockPath);
    } catch (e) {
      server.close();
      throw e;
    } finally {
      await fs.rm(privateDir, { recursive: true, force: true });
    }
    server.on('error', (e) => this.h.log(`connector-local: ${sockPath}: ${e.message}`));
    this.server = server;
    this.socketPath = sockPath;
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
      const { msgs, error } = c.decoder.feed(chunk);
      // Whole messages ahead of bad bytes are served, as flux-core reads one message at a time.
      for (const m of msgs) {
        if (sock.destroyed) return;
        this.ingressSafely(c, m);
      }
      if (error) this.drop(c, `${error.message} (${error.strerror})`);
    });
    sock.on('end', () => {
      // EOF in the middle of a message: flux-core's read gets ECONNRESET and drops the client.
      if (c.decoder.pending > 0) this.drop(c, `disconnected in the middle of a message (${c.decoder.pending} bytes dropped)`);
      else sock.destroy();
    });
    // EPIPE/ECONNRESET: the client went away; flux-core does not log those either.
    sock.on('error', () => sock.destroy());
    sock.on('close', () => {
      this.conns.delete(c.uuid);
      this.sendDisconnects(c);
      this.h.disconnected(c);
    });
  }

  /** End a misbehaving client's connection and say why in the broker's log. */
  private drop(c: Conn, why: string): void {
    if (c.sock.destroyed) return;
    this.h.log(`connector-local: ${c.label}: ${why}: dropping connection`);
    c.sock.destroy();
  }

  /**
   * A message that decoded is still the client's input: if handling it throws, that is
   * logged and answered (a request gets the error), never left to take the broker down.
   */
  private ingressSafely(c: Conn, m: Message): void {
    try {
      this.ingress(c, m);
    } catch (e) {
      const fe = e instanceof FluxError ? e : new FluxError(errno.EPROTO, e instanceof Error ? e.message : String(e));
      this.h.log(`connector-local: ${c.label}: ${typeName(m.type)} ${m.topic ?? '(no topic)'}: ${fe.message}`);
      if (m.type === MSGTYPE_REQUEST && !(m.flags & FLAG_NORESPONSE)) this.respondError(c, m, fe.errnum, fe.hasText ? fe.message : undefined);
    }
  }

  /** An error response straight from the connector (credentials as its subscribe replies carry). */
  private respondError(c: Conn, req: Message, errnum: number, text?: string): void {
    // The route stack as the client sent it (our hop for it may already be pushed).
    const routes = req.routes[0] === c.uuid ? req.routes.slice(1) : req.routes;
    const r = deriveErrorResponse({ ...req, routes }, errnum, text);
    r.userid = USERID_UNKNOWN;
    r.rolemask = ROLE_OWNER;
    c.send(r);
  }

  private ingress(c: Conn, m: Message): void {
    // flux-core's router ignores a message without a topic (and control messages, which
    // only travel between brokers and their modules). A request can still be told why.
    if (m.type === MSGTYPE_CONTROL || m.topic === undefined) {
      const what = m.type === MSGTYPE_CONTROL ? 'control message' : `${typeName(m.type)} without a topic`;
      this.h.log(`connector-local: ${c.label}: ${what} ignored`);
      if (m.type === MSGTYPE_REQUEST && !(m.flags & FLAG_NORESPONSE)) this.respondError(c, m, errno.EPROTO);
      return;
    }
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
    const resp = applySubscription(c.subscriptions, req);
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
      if (!isSubscribed(c.subscriptions, topic)) continue;
      if (m.flags & FLAG_PRIVATE && m.userid !== this.owner && m.userid !== c.userid) continue;
      c.send({ ...m, flags: m.flags | FLAG_ROUTE, routes: [hop, ...m.routes] });
    }
  }

  close(): void {
    this.server?.close();
    for (const c of this.conns.values()) c.sock.destroy();
    // Bound under another name, so Node's own unlink on close misses it.
    if (this.socketPath) fsSync.rmSync(this.socketPath, { force: true });
    this.socketPath = undefined;
  }
}
