/**
 * The broker's table of local request handlers, keyed by topic, grouped by
 * service name (the text before the first dot). Each service gets the
 * default `<service>.ping` method flux-core gives every service.
 */
import { errno, FluxError } from '../common/libflux/errno';
import {
  FLAG_NORESPONSE,
  FLAG_STREAMING,
  deriveErrorResponse,
  deriveResponse,
  getJson,
  setJson,
  setRaw,
  type Message,
} from '../common/libflux/message';
import { serviceOf } from './route';

/** What a handler uses to answer the request it was given. */
export interface Responder {
  readonly msg: Message;
  /** The request payload as a JSON object; throws FluxError(EPROTO) when it is not one. */
  json<T = Record<string, unknown>>(): T;
  respond(obj: Record<string, unknown>): void;
  /** `flags`: message flags to add to the response (e.g. FLAG_USER1, content's "ephemeral"). */
  respondRaw(data?: Buffer, flags?: number): void;
  respondError(errnum: number, text?: string): void;
}

export type RequestHandler = (r: Responder) => void | Promise<void>;

export class ServiceTable {
  private readonly methods = new Map<string, RequestHandler>();
  private readonly services = new Set<string>();

  constructor(private readonly send: (response: Message) => void, private readonly log: (msg: string) => void) {}

  /** Register `topic`; its service becomes routable here. */
  register(topic: string, handler: RequestHandler): void {
    this.methods.set(topic, handler);
    this.services.add(serviceOf(topic));
  }

  has(topic: string): boolean {
    return this.services.has(serviceOf(topic));
  }

  serviceNames(): string[] {
    return [...this.services];
  }

  /** Run the handler for a request routed here. */
  dispatch(req: Message, ping: RequestHandler): void {
    const topic = req.topic ?? '';
    let handler = this.methods.get(topic);
    if (!handler && topic === `${serviceOf(topic)}.ping`) handler = ping;
    const r = this.responder(req);
    if (!handler) {
      r.respondError(errno.ENOSYS);
      return;
    }
    try {
      const p = handler(r);
      if (p) p.catch((e: unknown) => this.fail(r, e));
    } catch (e) {
      this.fail(r, e);
    }
  }

  private fail(r: Responder, e: unknown): void {
    // Duck-typed: a module bundle carries its own copy of the FluxError class.
    const fe = e as { errnum?: unknown; hasText?: unknown; message?: unknown } | null;
    if (e instanceof FluxError || (e instanceof Error && typeof fe?.errnum === 'number' && fe.errnum > 0)) {
      const errnum = fe?.errnum as number;
      r.respondError(errnum, fe?.hasText === false ? undefined : String(fe?.message ?? ''));
    } else {
      this.log(`${r.msg.topic}: handler failed: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
      r.respondError(errno.EIO, e instanceof Error ? e.message : undefined);
    }
  }

  private responder(req: Message): Responder {
    const quiet = (req.flags & FLAG_NORESPONSE) !== 0;
    // A streaming request may get many responses, and so may one sent without a matchtag (RFC 27's
    // sched.alloc: annotations, then the outcome; nothing matches them to an RPC that could be
    // reused); others get exactly one, so a late second answer cannot reach a reused matchtag.
    const many = (req.flags & FLAG_STREAMING) !== 0 || req.aux2 === 0;
    let answered = false;
    const out = (m: Message): void => {
      if (quiet || (answered && !many)) return;
      answered = true;
      this.send(m);
    };
    return {
      msg: req,
      json: <T>() => getJson<T>(req),
      respond: (obj) => {
        const m = deriveResponse(req);
        setJson(m, obj);
        out(m);
      },
      respondRaw: (data, flags) => {
        const m = deriveResponse(req);
        setRaw(m, data);
        if (flags) m.flags |= flags;
        out(m);
      },
      respondError: (errnum, text) => out(deriveErrorResponse(req, errnum, text)),
    };
  }
}
