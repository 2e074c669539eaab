/**
 * The broker's `log.*` service over its BrokerLog:
 *   log.append      raw RFC 5424 line; answered only when the matchtag is not 0
 *   log.dmesg       streaming only, {"follow":b,"nobacklog"?:b}: one reply per
 *                   entry (the line, NUL-terminated), then ENODATA, or, when
 *                   following, every new entry until cancelled or disconnected
 *   log.cancel      {"matchtag"}: ends that sender's log.dmesg with ENODATA
 *   log.disconnect  drops the sender's followers
 *   log.clear       empties the ring
 *   log.stats-get   {"ring-used","count"}
 */
import { errno, FluxError } from '../common/libflux/errno';
import {
  FLAG_NORESPONSE,
  FLAG_ROUTE,
  FLAG_STREAMING,
  FLAG_UPSTREAM,
  MSGTYPE_REQUEST,
  ROLE_LOCAL,
  ROLE_OWNER,
  newMessage,
  setRaw,
  type Message,
} from '../common/libflux/message';
import { decode, encode } from '../common/libutil/stdlog';
import type { BrokerLog } from './log';
import type { Responder, ServiceTable } from './service';

interface Follower {
  sender: string;
  matchtag: number;
  r: Responder;
  unsubscribe: () => void;
}

/** Who sent a request: the first hop pushed on its route stack (the client's uuid). */
function senderOf(m: Message): string {
  return m.routes[m.routes.length - 1] ?? '';
}

/** A line as a dmesg reply payload: text with a trailing NUL. */
function linePayload(line: string): Buffer {
  return Buffer.concat([Buffer.from(line, 'utf8'), Buffer.from([0])]);
}

/** Split a multi-line entry into one entry per line, keeping its header. */
export function splitLines(line: string): string[] {
  const e = decode(line);
  if (!e || !/[\r\n]/.test(e.msg)) return [line];
  return e.msg
    .replace(/[\r\n]+$/, '')
    .split(/\r?\n/)
    .map((msg) => encode(e, msg, e.sd));
}

/** The `log.append` a broker sends its parent to forward a line (no response wanted). */
export function upstreamAppend(rank: number, owner: number, line: string): Message {
  const m = newMessage(MSGTYPE_REQUEST, 'log.append');
  m.flags |= FLAG_ROUTE | FLAG_UPSTREAM | FLAG_NORESPONSE;
  m.aux1 = rank;
  m.aux2 = 0;
  m.userid = owner;
  m.rolemask = ROLE_OWNER | ROLE_LOCAL;
  setRaw(m, Buffer.from(line, 'utf8'));
  return m;
}

export class LogService {
  private readonly followers = new Map<string, Follower>();

  constructor(private readonly log: BrokerLog) {}

  register(services: ServiceTable): void {
    services.register('log.append', (r) => this.append(r));
    services.register('log.dmesg', (r) => this.dmesg(r));
    services.register('log.cancel', (r) => this.cancel(r));
    services.register('log.disconnect', (r) => this.disconnect(senderOf(r.msg)));
    services.register('log.clear', (r) => {
      this.log.clear();
      r.respondRaw();
    });
    services.register('log.stats-get', (r) => r.respond({ 'ring-used': this.log.ring.size, count: this.log.ring.count }));
  }

  /** How many log.dmesg --follow requests are being served. */
  get followerCount(): number {
    return this.followers.size;
  }

  /** A client went away: forget its followers (no one is left to answer). */
  disconnect(sender: string): void {
    for (const [key, f] of this.followers) {
      if (f.sender !== sender) continue;
      f.unsubscribe();
      this.followers.delete(key);
    }
  }

  private append(r: Responder): void {
    const answer = r.msg.aux2 !== 0;
    try {
      const raw = r.msg.payload;
      if (!raw || raw.length === 0) throw new FluxError(errno.EPROTO);
      let end = raw.length;
      while (end > 0 && raw[end - 1] === 0) end--;
      for (const line of splitLines(raw.toString('utf8', 0, end))) this.log.append(line);
    } catch (e) {
      if (answer) r.respondError(e instanceof FluxError ? e.errnum : errno.EINVAL);
      return;
    }
    if (answer) r.respondRaw();
  }

  private dmesg(r: Responder): void {
    const p = r.json<{ follow?: unknown; nobacklog?: unknown }>();
    if (typeof p.follow !== 'boolean' || (p.nobacklog !== undefined && typeof p.nobacklog !== 'boolean')) {
      throw new FluxError(errno.EPROTO);
    }
    if (!(r.msg.flags & FLAG_STREAMING)) throw new FluxError(errno.EPROTO);
    if (!p.nobacklog) for (const line of this.log.entries()) r.respondRaw(linePayload(line));
    if (!p.follow) {
      r.respondError(errno.ENODATA);
      return;
    }
    const sender = senderOf(r.msg);
    const matchtag = r.msg.aux2;
    const key = `${sender}:${matchtag}`;
    this.followers.get(key)?.unsubscribe();
    const unsubscribe = this.log.subscribe((line) => r.respondRaw(linePayload(line)));
    this.followers.set(key, { sender, matchtag, r, unsubscribe });
  }

  private cancel(r: Responder): void {
    const { matchtag } = r.json<{ matchtag?: unknown }>();
    if (typeof matchtag !== 'number') return; // no response either way, as flux-core
    const key = `${senderOf(r.msg)}:${matchtag}`;
    const f = this.followers.get(key);
    if (!f) return;
    f.unsubscribe();
    this.followers.delete(key);
    f.r.respondError(errno.ENODATA);
  }
}
