/**
 * kvs.lookup requests sent with a watcher's credentials rather than the module's own (a module
 * running as the instance owner may do that), so that a symlink into another namespace is
 * checked against the requester. One request, one response, outside the handle's own RPCs.
 */
import { errno, FluxError } from '../../common/libflux/errno';
import type { Flux } from '../../common/libflux/handle';
import { FLAG_ROUTE, MSGTYPE_REQUEST, MSGTYPE_RESPONSE, NODEID_ANY, getJson, newMessage, setJson, type Message } from '../../common/libflux/message';

/**
 * Matchtags for lookups sent with a watcher's credentials. The handle's own RPCs count up from 1
 * and reuse freed tags, so they never reach this range; responses to these tags fall through the
 * handle to our onMessage listener.
 */
const CRED_TAG_FIRST = 0x40000000;
const CRED_TAG_LAST = 0x7fffffff;

export class CredRpc {
  private next = CRED_TAG_FIRST;
  private readonly pending = new Map<number, (m: Message) => void>();

  constructor(private readonly h: Flux) {
    h.onMessage((m) => {
      if (m.type !== MSGTYPE_RESPONSE) return;
      const cb = this.pending.get(m.aux2);
      if (!cb) return;
      this.pending.delete(m.aux2);
      cb(m);
    });
  }

  private tag(): number {
    for (;;) {
      const t = this.next;
      this.next = t >= CRED_TAG_LAST ? CRED_TAG_FIRST : t + 1;
      if (!this.pending.has(t)) return t;
    }
  }

  /** One request, one response: the payload, or a FluxError carrying the errno. */
  call(topic: string, payload: Record<string, unknown>, userid: number, rolemask: number): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const m = newMessage(MSGTYPE_REQUEST, topic);
      m.flags |= FLAG_ROUTE;
      m.aux1 = NODEID_ANY;
      m.aux2 = this.tag();
      m.userid = userid;
      m.rolemask = rolemask;
      setJson(m, payload);
      this.pending.set(m.aux2, (resp) => {
        if (resp.aux1 !== 0) {
          reject(new FluxError(resp.aux1));
          return;
        }
        try {
          resolve(getJson(resp));
        } catch (e) {
          reject(e instanceof Error ? e : new FluxError(errno.EPROTO));
        }
      });
      try {
        this.h.send(m);
      } catch (e) {
        this.pending.delete(m.aux2);
        reject(e instanceof Error ? e : new FluxError(errno.ECONNRESET));
      }
    });
  }

  /** Unload: nothing more will answer. */
  failAll(): void {
    for (const cb of this.pending.values()) {
      const m = newMessage(MSGTYPE_RESPONSE);
      m.aux1 = errno.ENOSYS;
      cb(m);
    }
    this.pending.clear();
  }
}

