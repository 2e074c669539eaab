/**
 * A connection to a Flux broker: the TypeScript twin of flux-core's flux_t /
 * Python `flux.Flux`. RPCs with matchtags (single and streaming responses),
 * plain sends, and a hook for unsolicited messages (events).
 */
import { connectUri, type Transport } from './connector';
import { defaultUri } from './uri';
import { errno, FluxError } from './errno';
import {
  FLAG_NORESPONSE,
  FLAG_ROUTE,
  FLAG_STREAMING,
  FLAG_UPSTREAM,
  MSGTYPE_EVENT,
  MSGTYPE_REQUEST,
  MSGTYPE_RESPONSE,
  NODEID_ANY,
  NODEID_UPSTREAM,
  getJson,
  getString,
  newMessage,
  setJson,
  setRaw,
  type Message,
} from './message';
import { UsockDecoder, encodeUsock } from './usock';
import { MsgCounters } from './msg-counters';

export interface RpcOptions {
  /** Target rank, NODEID_ANY (default) or NODEID_UPSTREAM. */
  nodeid?: number;
  /** Extra message flags (FLAG_STREAMING, FLAG_NORESPONSE). */
  flags?: number;
}

export type Payload = Record<string, unknown> | Buffer | undefined;

/** Turn an error response into a FluxError carrying the server's text, if any. */
export function responseError(m: Message): FluxError {
  let text: string | undefined;
  try {
    text = getString(m);
  } catch {
    text = undefined;
  }
  return new FluxError(m.aux1, text);
}

type Waiter = { resolve: (m: Message) => void; reject: (e: Error) => void };

/** One outstanding RPC. Responses queue until read; the matchtag is freed at the end. */
export class Rpc {
  private queue: Message[] = [];
  private waiters: Waiter[] = [];
  private ended: Error | undefined;
  readonly streaming: boolean;

  constructor(private readonly h: Flux, readonly topic: string, readonly matchtag: number, streaming: boolean) {
    this.streaming = streaming;
  }

  /** Internal: a response arrived for this matchtag. Returns true when the RPC is complete. */
  deliver(m: Message): boolean {
    const last = !this.streaming || m.aux1 !== 0;
    const w = this.waiters.shift();
    if (w) w.resolve(m);
    else this.queue.push(m);
    return last;
  }

  /** Internal: the connection failed. */
  fail(e: Error): void {
    this.ended = e;
    for (const w of this.waiters.splice(0)) w.reject(e);
  }

  private next(): Promise<Message> {
    const m = this.queue.shift();
    if (m) return Promise.resolve(m);
    if (this.ended) return Promise.reject(this.ended);
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** The next response message; rejects with FluxError on an error response. */
  async response(): Promise<Message> {
    const m = await this.next();
    if (m.aux1 !== 0) throw responseError(m);
    return m;
  }

  /** The (first) response as a JSON object. */
  async get<T = Record<string, unknown>>(): Promise<T> {
    return getJson<T>(await this.response());
  }

  /** The (first) response payload, raw. */
  async getRaw(): Promise<Buffer | undefined> {
    const m = await this.response();
    return m.payload;
  }

  /** For streaming RPCs: every response, ending quietly at ENODATA. */
  async *[Symbol.asyncIterator](): AsyncGenerator<Message> {
    for (;;) {
      const m = await this.next();
      if (m.aux1 === errno.ENODATA) return;
      if (m.aux1 !== 0) throw responseError(m);
      yield m;
      if (!this.streaming) return;
    }
  }

  /** Stop caring about this RPC (its matchtag stays reserved until the stream ends). */
  cancelLocal(): void {
    this.h.forget(this);
  }
}

export type MessageHandler = (m: Message) => void;

export class Flux {
  private readonly decoder = new UsockDecoder();
  private readonly pending = new Map<number, Rpc>();
  private readonly abandoned = new Set<number>();
  private nextTag = 1;
  private freeTags: number[] = [];
  private pinned = false;
  /** Messages this handle sent and received, by type (a module's `stats-get`). */
  readonly counters = new MsgCounters();
  private closed: Error | undefined;
  private rank: number | undefined;
  private readonly handlers = new Set<MessageHandler>();
  private readonly closeHandlers = new Set<(err?: Error) => void>();

  private constructor(private readonly t: Transport, readonly uri: string) {
    t.onData((c) => this.onData(c));
    t.onClose((err) => this.onClose(err));
    t.unref();
  }

  /** A handle over an already-established transport (a module's port to its broker). */
  static attach(t: Transport, uri: string): Flux {
    return new Flux(t, uri);
  }

  /** Connect to `uri` (default $FLUX_URI), waiting for the broker's handshake. */
  static async open(uri: string = defaultUri()): Promise<Flux> {
    const { t, rest } = await connectUri(uri);
    const h = new Flux(t, uri);
    if (rest.length > 0) h.onData(rest);
    return h;
  }

  private onData(chunk: Buffer): void {
    let msgs: Message[];
    try {
      msgs = this.decoder.push(chunk);
    } catch (e) {
      this.onClose(e instanceof Error ? e : new FluxError(errno.EPROTO));
      this.t.close();
      return;
    }
    for (const m of msgs) {
      this.counters.received(m.type);
      this.dispatch(m);
    }
  }

  private dispatch(m: Message): void {
    if (m.type === MSGTYPE_RESPONSE) {
      const tag = m.aux2;
      const rpc = this.pending.get(tag);
      if (rpc) {
        if (rpc.deliver(m)) this.release(tag);
        return;
      }
      if (this.abandoned.has(tag)) {
        const last = !(m.flags & FLAG_STREAMING) || m.aux1 !== 0;
        if (last) {
          this.abandoned.delete(tag);
          this.freeTags.push(tag);
        }
        return;
      }
    }
    for (const h of this.handlers) h(m);
  }

  private onClose(err?: Error): void {
    if (this.closed) return;
    this.closed = err instanceof FluxError ? err : new FluxError(errno.ECONNRESET, err ? `connection to broker lost: ${err.message}` : 'connection to broker lost');
    for (const rpc of this.pending.values()) rpc.fail(this.closed);
    this.pending.clear();
    for (const cb of this.closeHandlers) cb(err);
  }

  private allocTag(): number {
    return this.freeTags.pop() ?? this.nextTag++;
  }

  private release(tag: number): void {
    this.pending.delete(tag);
    this.freeTags.push(tag);
    if (this.pending.size === 0 && !this.pinned) this.t.unref();
  }

  /**
   * Keep the process alive on this connection even with no RPC outstanding
   * (a program that waits for events). By default an idle handle lets Node exit.
   */
  ref(): void {
    this.pinned = true;
    this.t.ref();
  }

  /** Internal: drop an RPC's queue; late responses are swallowed until its stream ends. */
  forget(rpc: Rpc): void {
    if (this.pending.get(rpc.matchtag) !== rpc) return;
    this.pending.delete(rpc.matchtag);
    this.abandoned.add(rpc.matchtag);
    if (this.pending.size === 0 && !this.pinned) this.t.unref();
  }

  /** Send a request; returns the Rpc that collects its response(s). */
  rpc(topic: string, payload?: Payload, opts: RpcOptions = {}): Rpc {
    const flags = opts.flags ?? 0;
    const noresponse = (flags & FLAG_NORESPONSE) !== 0;
    const tag = noresponse ? 0 : this.allocTag();
    const rpc = new Rpc(this, topic, tag, (flags & FLAG_STREAMING) !== 0);
    if (this.closed) {
      rpc.fail(this.closed);
      return rpc;
    }
    const m = newMessage(MSGTYPE_REQUEST, topic);
    m.flags |= flags | FLAG_ROUTE;
    m.aux2 = tag;
    if (Buffer.isBuffer(payload)) setRaw(m, payload);
    else if (payload !== undefined) setJson(m, payload);
    const nodeid = opts.nodeid ?? NODEID_ANY;
    if (!noresponse) {
      this.pending.set(tag, rpc);
      this.t.ref();
    }
    if (nodeid === NODEID_UPSTREAM) {
      // Travels as FLAG_UPSTREAM with our own rank as nodeid, as flux-core does.
      m.flags |= FLAG_UPSTREAM;
      this.getRank().then((r) => {
        m.aux1 = r;
        this.send(m);
      }, (e: Error) => {
        if (this.pending.get(tag) === rpc) this.release(tag);
        rpc.fail(e);
      });
    } else {
      m.aux1 = nodeid;
      this.send(m);
    }
    return rpc;
  }

  /** Write a message as is (events, NORESPONSE requests). */
  send(m: Message): void {
    if (this.closed) throw this.closed;
    this.counters.sent(m.type);
    this.t.write(encodeUsock(m));
  }

  /** The rank of the broker this handle is connected to (cached). */
  async getRank(): Promise<number> {
    if (this.rank === undefined) this.rank = Number(await this.getattr('rank'));
    return this.rank;
  }

  async getattr(name: string): Promise<string> {
    const r = await this.rpc('attr.get', { name }).get<{ value: string }>();
    return r.value;
  }

  /** An attribute's value, or undefined when it is not set (or cannot be read). */
  async getattrOptional(name: string): Promise<string | undefined> {
    try {
      return await this.getattr(name);
    } catch {
      return undefined;
    }
  }

  /** Receive events whose topic starts with `topic` ('' = all); see onEvent(). */
  async subscribe(topic: string): Promise<void> {
    await this.rpc('event.subscribe', { topic }).response();
  }

  async unsubscribe(topic: string): Promise<void> {
    await this.rpc('event.unsubscribe', { topic }).response();
  }

  /** Events delivered to this handle (after subscribe()). */
  onEvent(cb: (m: Message) => void): () => void {
    return this.onMessage((m) => {
      if (m.type === MSGTYPE_EVENT) cb(m);
    });
  }

  /** Publish through rank 0 and wait for its sequence number (flux_event_publish). */
  async publish(topic: string, payload?: Buffer, flags = 0): Promise<number> {
    const req: Record<string, unknown> = { topic, flags };
    if (payload && payload.length > 0) req.payload = payload.toString('base64');
    const r = await this.rpc('event.publish', req, { nodeid: 0 }).get<{ seq: number }>();
    return r.seq;
  }

  onMessage(h: MessageHandler): () => void {
    this.handlers.add(h);
    return () => this.handlers.delete(h);
  }

  onDisconnect(cb: (err?: Error) => void): () => void {
    this.closeHandlers.add(cb);
    return () => this.closeHandlers.delete(cb);
  }

  get isClosed(): boolean {
    return this.closed !== undefined;
  }

  close(): void {
    if (!this.closed) this.onClose();
    this.t.close();
  }
}
