/**
 * Rank 0's write-back to the backing store (the flush side of flux-core's cache.c): the cache
 * answers a store at once and hands the dirty entry here; this writes it to the backing module
 * behind. The cache owns the entries, the dirty count and the flush waiters (content.flush is
 * served on every rank); this owns only what is on its way to the backing store, and tells the
 * cache through its hooks when an entry is written, or when a write failed.
 *
 * Why it is shaped this way:
 *  - At most `flush-batch-limit` (256) blobs are in flight, as in flux-core; `inflight` is the
 *    stats' "flush-batch-count".
 *  - With a backing module that takes content-backing.store-batch (ours, batch.ts), one batch at
 *    a time carries them; with one that answers it ENOSYS, one content-backing.store per blob,
 *    as flux-core's cache does, until the next registration.
 *  - A failed write leaves its entries dirty and queued: a later flush or registration, or the
 *    retry a second later (not when the backing store is gone or answered ENOSYS), writes them
 *    again. The last failure's errno is kept until a write succeeds, so that a flush with
 *    nothing in flight reports it at once.
 */
import { errno, FluxError } from '../../common/libflux/errno';
import type { ModuleContext } from '../../module/runtime';
import { STORE_BATCH_TOPIC, encodeBlobBatch } from './batch';
import { errnumOf } from './errors';

/** A write-back batch stops growing past this many bytes. */
const BATCH_BYTES = 8 * 1024 * 1024;

/** What the write-back needs of a cache entry (cache.ts's Entry has more). */
export interface Pending {
  digest: Buffer;
  data?: Buffer;
  dirty: boolean;
  /** A write of it is on its way (set and cleared here on rank 0). */
  storing: boolean;
}

/** How the write-back reaches back into the cache that owns it. */
export interface WriteBackHooks<E extends Pending> {
  /** A backing store is registered (the cache owns the registration). */
  backing(): boolean;
  /** `e` is in the backing store: clean it and answer whoever waits for it. */
  clean(e: E): void;
  /** Writes succeeded: the flush waiters may be done. */
  written(): void;
  /** Writes failed with `errnum`: the flush waiters hear it. */
  failed(errnum: number): void;
}

export class WriteBack<E extends Pending> {
  /** Dirty entries waiting for a slot to be written to the backing store. */
  private readonly queue = new Set<E>();
  private inflightCount = 0;
  private flushErrno = 0;
  /** The backing module takes content-backing.store-batch (until it says ENOSYS). */
  private batchOk = true;
  /** Batching: the one write-back request allowed out is out. */
  private batchBusy = false;
  private pumpScheduled = false;

  constructor(
    private readonly ctx: ModuleContext,
    private readonly hashSize: number,
    private readonly batchLimit: number,
    private readonly hooks: WriteBackHooks<E>,
  ) {}

  /** Blobs on their way to the backing store (stats' "flush-batch-count"). */
  get inflight(): number {
    return this.inflightCount;
  }

  /** The errno of the last failed write, 0 once a write has succeeded since. */
  get lastErrno(): number {
    return this.flushErrno;
  }

  /** `e` is dirty: write it back at the next pump. */
  add(e: E): void {
    this.queue.add(e);
  }

  /** A backing module registered: try batches with it again. */
  allowBatches(): void {
    this.batchOk = true;
  }

  /**
   * Write back what the stores of this tick left dirty, once they are all queued (the
   * directories of one KVS commit arrive together and leave in one batch).
   */
  schedule(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      if (this.hooks.backing()) this.pump();
    });
  }

  /**
   * Start backing-store writes. With a backing module that takes batches (ours), one
   * content-backing.store-batch at a time carries up to flush-batch-limit blobs; what becomes
   * dirty meanwhile waits for it and leaves in the next one, so the batches grow with the load
   * instead of the message count. Otherwise one content-backing.store per blob, up to the limit
   * in flight, as flux-core's cache does.
   */
  pump(): void {
    if (!this.batchOk) {
      for (const e of this.queue) {
        if (this.inflightCount >= this.batchLimit) break;
        this.queue.delete(e);
        if (!e.dirty || e.storing) continue;
        this.storeOne(e);
      }
      return;
    }
    if (this.batchBusy) return;
    const batch: E[] = [];
    let bytes = 0;
    for (const e of this.queue) {
      if (batch.length >= this.batchLimit || bytes >= BATCH_BYTES) break;
      this.queue.delete(e);
      if (!e.dirty || e.storing || !e.data) continue;
      batch.push(e);
      bytes += e.data.length;
    }
    if (batch.length === 1) this.storeOne(batch[0], true);
    else if (batch.length > 1) this.storeBatch(batch);
  }

  /** One blob written back; `batched`: it is the one request pump() allows out at a time. */
  private storeOne(e: E, batched = false): void {
    e.storing = true;
    this.inflightCount++;
    if (batched) this.batchBusy = true;
    this.ctx.h.rpc('content-backing.store', e.data, { nodeid: 0 }).getRaw().then((digest) => {
      if (!digest || !digest.equals(e.digest)) throw new FluxError(errno.EIO);
      e.storing = false;
      this.inflightCount--;
      if (batched) this.batchBusy = false;
      this.flushErrno = 0;
      this.hooks.clean(e);
      this.pump();
      this.hooks.written();
    }).catch((err: unknown) => {
      if (batched) this.batchBusy = false;
      this.failed([e], err);
    });
  }

  private storeBatch(batch: E[]): void {
    for (const e of batch) e.storing = true;
    this.inflightCount += batch.length;
    this.batchBusy = true;
    const payload = encodeBlobBatch(batch.map((e) => e.data as Buffer));
    this.ctx.h.rpc(STORE_BATCH_TOPIC, payload, { nodeid: 0 }).getRaw().then((digests) => {
      const n = this.hashSize;
      if (!digests || digests.length !== n * batch.length) throw new FluxError(errno.EIO);
      batch.forEach((e, i) => {
        if (!digests.subarray(i * n, (i + 1) * n).equals(e.digest)) throw new FluxError(errno.EIO);
      });
      this.batchBusy = false;
      this.inflightCount -= batch.length;
      this.flushErrno = 0;
      for (const e of batch) {
        e.storing = false;
        this.hooks.clean(e);
      }
      this.pump();
      this.hooks.written();
    }).catch((err: unknown) => {
      this.batchBusy = false;
      if (errnumOf(err) === errno.ENOSYS && this.hooks.backing()) {
        // A backing module without batches (or one going away): one blob per request from now
        // on (until the next registration); these go again at once.
        this.batchOk = false;
        this.inflightCount -= batch.length;
        for (const e of batch) {
          e.storing = false;
          this.queue.add(e);
        }
        this.pump();
        return;
      }
      this.failed(batch, err);
    });
  }

  /** Backing-store writes that failed: still dirty, queued again so that a later flush retries them. */
  private failed(entries: E[], err: unknown): void {
    const errnum = errnumOf(err);
    this.inflightCount -= entries.length;
    for (const e of entries) {
      e.storing = false;
      this.queue.add(e);
    }
    if (errnum === errno.ENOSYS) this.ctx.log('debug', 'content store: backing store service unavailable');
    else this.ctx.log('crit', `content store: ${new FluxError(errnum).strerror}`);
    this.flushErrno = errnum;
    this.hooks.failed(errnum);
    if (this.hooks.backing() && errnum !== errno.ENOSYS) setTimeout(() => this.pump(), 1000).unref();
  }
}
