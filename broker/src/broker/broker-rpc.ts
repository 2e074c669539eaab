/**
 * RPCs the broker itself makes (hello to its parent, shutdown of its children):
 * requests with an empty route stack, so their responses come back to the broker,
 * matched here by matchtag.
 */
import { FluxError } from '../common/libflux/errno';
import {
  FLAG_ROUTE,
  MSGTYPE_REQUEST,
  ROLE_LOCAL,
  ROLE_OWNER,
  newMessage,
  setJson,
  type Message,
} from '../common/libflux/message';

export class BrokerRpc {
  private readonly pending = new Map<number, (m: Message) => void>();
  private nextTag = 1;

  constructor(private readonly owner: number, private readonly route: (m: Message) => void) {}

  call(topic: string, payload: Record<string, unknown>, nodeid: number): Promise<Message> {
    const tag = this.nextTag++;
    const m = newMessage(MSGTYPE_REQUEST, topic);
    m.flags |= FLAG_ROUTE;
    m.aux1 = nodeid;
    m.aux2 = tag;
    m.userid = this.owner;
    m.rolemask = ROLE_OWNER | ROLE_LOCAL;
    setJson(m, payload);
    return new Promise((resolve, reject) => {
      this.pending.set(tag, (resp) => {
        this.pending.delete(tag);
        if (resp.aux1 !== 0) reject(new FluxError(resp.aux1));
        else resolve(resp);
      });
      this.route(m);
    });
  }

  /** A response whose route stack ran out here: one of ours. */
  deliver(m: Message): void {
    this.pending.get(m.aux2)?.(m);
  }
}
