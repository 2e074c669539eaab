/**
 * The module host as a peer of its broker: it has its own hop (uuid) so it can
 * make the few requests it needs and get the answers back through the broker's
 * ordinary routing (the broker hands a response for this hop to the host, as it
 * does for a module): `attr.get` (broker.module-nopanic is read when a module
 * fails, so `flux setattr` takes effect at once) and `log.append` (lines under a
 * module's or the broker's name, at any severity).
 */
import { randomUUID } from 'node:crypto';
import {
  FLAG_ROUTE,
  MSGTYPE_REQUEST,
  MSGTYPE_RESPONSE,
  ROLE_LOCAL,
  ROLE_OWNER,
  getJson,
  newMessage,
  setJson,
  type Message,
} from '../common/libflux/message';
import { logAppend } from '../module/log-append';

export class HostPeer {
  readonly uuid = randomUUID();
  private readonly waiting = new Map<number, (m: Message) => void>();
  private nextTag = 1;

  constructor(private readonly rank: number, private readonly send: (m: Message) => void) {}

  private owned(m: Message): Message {
    m.userid = process.getuid?.() ?? 0;
    m.rolemask = ROLE_OWNER | ROLE_LOCAL;
    return m;
  }

  /** A response routed to this hop. */
  deliver(m: Message): void {
    if (m.type === MSGTYPE_RESPONSE) this.waiting.get(m.aux2)?.(m);
  }

  log(severity: number, appname: string, text: string): void {
    this.send(this.owned(logAppend(this.rank, severity, appname, text)));
  }

  /** An attribute's value; undefined when it is not set. */
  attrGet(name: string): Promise<string | undefined> {
    const tag = this.nextTag++;
    const m = this.owned(newMessage(MSGTYPE_REQUEST, 'attr.get'));
    m.flags |= FLAG_ROUTE;
    m.aux2 = tag;
    m.routes = [this.uuid];
    setJson(m, { name });
    return new Promise((resolve) => {
      this.waiting.set(tag, (r) => {
        this.waiting.delete(tag);
        resolve(r.aux1 === 0 ? getJson<{ value?: string }>(r).value : undefined);
      });
      this.send(m);
    });
  }
}
