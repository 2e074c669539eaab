/**
 * reslog: the resource module's event log (flux-core's reslog.c). Every
 * event goes to an in-memory journal and to the subsystems that follow it
 * (acquire); those that must survive a restart (`resource-define`, `drain`,
 * `undrain`) are first appended to `resource.eventlog` in the KVS, the others
 * (`online`, `offline`: they describe this run only) are not. Events are
 * delivered in the order they were posted: a commit in flight holds back the
 * events posted after it, as flux-core queues them behind the commit.
 *
 * `resource.journal` (streaming, owner): the events of earlier runs (from
 * resource.eventlog, less their resource-define) and of this one, one
 * `{events: [EVENT]}` answer each (a resource-define carries R too), an empty
 * `{events: []}` when caught up, then each new event as it happens.
 */
import { errno, FluxError } from '../../common/libflux/errno';
import { FLAG_STREAMING, ROLE_OWNER } from '../../common/libflux/message';
import { KvsTxn } from '../../common/libkvs/txn';
import type { Flux } from '../../common/libflux/handle';
import type { Responder } from '../../broker/service';

export const RESLOG_KEY = 'resource.eventlog';

export interface ResEvent {
  timestamp: number;
  name: string;
  context: Record<string, unknown>;
}

export type ResEventListener = (ev: ResEvent) => void;

export interface PostOptions {
  /** Append to resource.eventlog (and wait for the commit) before delivering. */
  commit: boolean;
  /** Seconds since the epoch; now when absent. */
  timestamp?: number;
  /** More KVS puts in the same commit (resource-define writes resource.R with it). */
  puts?: [key: string, value: string][];
}

export function nowSeconds(): number {
  return (performance.timeOrigin + performance.now()) / 1000;
}

/** One eventlog line as flux-core writes it: timestamp, name, context. */
export function encodeEvent(ev: ResEvent): string {
  return `${JSON.stringify({ timestamp: ev.timestamp, name: ev.name, context: ev.context })}\n`;
}

/** Parse resource.eventlog text; lines that are not events are an error (flux-core refuses to load). */
export function decodeEventlog(text: string): ResEvent[] {
  const out: ResEvent[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      throw new Error(`line ${i + 1}: event parse error`);
    }
    const e = v as Partial<ResEvent> | null;
    if (!e || typeof e !== 'object' || typeof e.name !== 'string' || typeof e.timestamp !== 'number') throw new Error(`line ${i + 1}: event parse error`);
    out.push({ timestamp: e.timestamp, name: e.name, context: e.context && typeof e.context === 'object' ? e.context : {} });
  });
  return out;
}

export class Reslog {
  readonly journal: ResEvent[] = [];
  private readonly listeners: ResEventListener[] = [];
  /** The tail of the delivery chain: each post waits for the one before it. */
  private tail: Promise<void> = Promise.resolve();

  private readonly consumers = new Set<Responder>();

  constructor(private readonly h: Flux, private readonly onError: (msg: string) => void, private readonly getR: () => unknown = () => undefined) {}

  /** Events of earlier runs, for the journal's backlog (resource-define ones say nothing now). */
  preload(history: ResEvent[]): void {
    this.journal.push(...history.filter((e) => e.name !== 'resource-define'));
  }

  private journalAnswer(r: Responder, ev: ResEvent): void {
    const entry = { timestamp: ev.timestamp, name: ev.name, context: ev.context };
    r.respond(ev.name === 'resource-define' ? { events: [entry], R: this.getR() } : { events: [entry] });
  }

  handleJournal(r: Responder): void {
    if (!(r.msg.rolemask & ROLE_OWNER)) throw new FluxError(errno.EPERM);
    if (!(r.msg.flags & FLAG_STREAMING)) throw new FluxError(errno.EPROTO, 'journal requires streaming RPC flag');
    for (const ev of this.journal) this.journalAnswer(r, ev);
    r.respond({ events: [] });
    this.consumers.add(r);
  }

  /** A journal consumer went away (journal-cancel or disconnect from `sender`). */
  dropConsumers(sender: string, cancel: boolean): void {
    for (const r of this.consumers) {
      if (r.msg.routes[r.msg.routes.length - 1] !== sender) continue;
      this.consumers.delete(r);
      if (cancel) r.respondError(errno.ENODATA);
    }
  }

  close(): void {
    for (const r of this.consumers) r.respondError(errno.ENODATA);
    this.consumers.clear();
  }

  listen(cb: ResEventListener): void {
    this.listeners.push(cb);
  }

  /** Post an event; resolves once it is committed (if asked) and delivered. Rejects if the commit fails. */
  post(name: string, context: Record<string, unknown>, opts: PostOptions): Promise<void> {
    const ev: ResEvent = { timestamp: opts.timestamp ?? nowSeconds(), name, context };
    const committed = opts.commit ? this.commit(ev, opts.puts ?? []) : Promise.resolve();
    const done = this.tail.then(() => committed).then(() => this.deliver(ev));
    // a failed commit must not stop later events
    this.tail = done.catch(() => undefined);
    return done;
  }

  private async commit(ev: ResEvent, puts: [string, string][]): Promise<void> {
    const txn = new KvsTxn();
    for (const [k, v] of puts) txn.put(k, v);
    txn.append(RESLOG_KEY, encodeEvent(ev));
    await this.h.rpc('kvs.commit', { namespace: 'primary', flags: 0, ops: txn.toOps() }).get();
  }

  private deliver(ev: ResEvent): void {
    this.journal.push(ev);
    for (const r of this.consumers) this.journalAnswer(r, ev);
    for (const cb of this.listeners) {
      try {
        cb(ev);
      } catch (e) {
        this.onError(`${ev.name}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }
}
