/**
 * RPCs the broker itself makes (hello to its parent, watching its parent's state):
 * requests with an empty route stack, so their responses come back to the broker,
 * matched here by matchtag.
 */
import { FluxError } from '../common/libflux/errno';
import {
  FLAG_NORESPONSE,
  FLAG_ROUTE,
  FLAG_STREAMING,
  MSGTYPE_REQUEST,
  ROLE_LOCAL,
  ROLE_OWNER,
  newMessage,
  setJson,
  type Message,
} from '../common/libflux/message';

/** A request the broker itself sends to `nodeid`, with the owner's credentials. */
export function brokerRequest(owner: number, topic: string, payload: Record<string, unknown>, nodeid: number): Message {
  const m = newMessage(MSGTYPE_REQUEST, topic);
  m.flags |= FLAG_ROUTE;
  m.aux1 = nodeid;
  m.userid = owner;
  m.rolemask = ROLE_OWNER | ROLE_LOCAL;
  setJson(m, payload);
  return m;
}

export class BrokerRpc {
  private readonly pending = new Map<number, (m: Message) => void>();
  private nextTag = 1;

  constructor(private readonly owner: number, private readonly route: (m: Message) => void) {}

  private request(topic: string, payload: Record<string, unknown>, nodeid: number, tag: number): Message {
    const m = brokerRequest(this.owner, topic, payload, nodeid);
    m.aux2 = tag;
    return m;
  }

  call(topic: string, payload: Record<string, unknown>, nodeid: number): Promise<Message> {
    const tag = this.nextTag++;
    const m = this.request(topic, payload, nodeid, tag);
    return new Promise((resolve, reject) => {
      this.pending.set(tag, (resp) => {
        this.pending.delete(tag);
        if (resp.aux1 !== 0) reject(new FluxError(resp.aux1));
        else resolve(resp);
      });
      this.route(m);
    });
  }

  /** A request nobody answers (a report to another broker). */
  send(topic: string, payload: Record<string, unknown>, nodeid: number): void {
    const m = this.request(topic, payload, nodeid, 0);
    m.flags |= FLAG_NORESPONSE;
    this.route(m);
  }

  /**
   * A streaming RPC: `each` sees every response until an error ends the
   * stream (ENODATA is the normal end); then `end` gets the errnum.
   */
  stream(topic: string, payload: Record<string, unknown>, nodeid: number, each: (m: Message) => void, end: (errnum: number) => void): void {
    const tag = this.nextTag++;
    const m = this.request(topic, payload, nodeid, tag);
    m.flags |= FLAG_STREAMING;
    this.pending.set(tag, (resp) => {
      if (resp.aux1 === 0) {
        each(resp);
        return;
      }
      this.pending.delete(tag);
      end(resp.aux1);
    });
    this.route(m);
  }

  /** A response whose route stack ran out here: one of ours. */
  deliver(m: Message): void {
    this.pending.get(m.aux2)?.(m);
  }
}
