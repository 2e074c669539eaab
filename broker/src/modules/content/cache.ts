/**
 * The content cache of one rank (flux-core's modules/content/cache.c): entries by digest, loads
 * faulted from the TBON parent (rank 0: from the backing store, or from a mapped file, mmap.ts),
 * stores written through to the parent (ranks > 0) or back to the backing store (rank 0),
 * flushes, purges and the backing-store registration. content.ts wires it to its services.
 *
 * Why it is shaped this way (each rule is flux-core's):
 *  - A miss faults the blob from the TBON parent (rank 0: from `content-backing.load`) with one
 *    request per entry however many clients wait for it, and the answer stays cached: a blob
 *    crosses each link once. `faults` in the stats (ours; flux-core has no such key) counts these.
 *  - Rank 0 looks in the mapped files (content.mmap-add) before the backing store; those blobs
 *    are read from their file for each load and never enter the cache or the backing store.
 *  - Ranks > 0 are write-through: a store is answered once the parent has it, so after a store
 *    returns, the blob can be loaded on any rank. Rank 0 is write-back: it answers at once and
 *    writes to the backing store behind, at most `flush-batch-limit` (256) blobs in flight; with
 *    our content-sqlite they travel as one content-backing.store-batch at a time (batch.ts).
 *  - Dirty entries are never dropped; clean ones are purged when the cache holds more than
 *    `purge-target-size` bytes and they were unused for `purge-old-entry` seconds.
 */
import { errno, FluxError } from '../../common/libflux/errno';
import { FLAG_USER1, NODEID_UPSTREAM } from '../../common/libflux/message';
import { hashDigestSize, hashRaw, type HashName } from '../../common/libcontent/blobref';
import type { Responder } from '../../broker/service';
import { STORE_BATCH_TOPIC, decodeBlobBatch, encodeBlobBatch } from './batch';
import type { ContentMmap } from './mmap';
import type { ModuleContext } from '../../module/runtime';

/** Rank 0: a write-back batch stops growing past this many bytes. */
const BATCH_BYTES = 8 * 1024 * 1024;

interface Entry {
  key: string;
  digest: Buffer;
  data?: Buffer;
  dirty: boolean;
  /** A load is on its way (from the parent or the backing store). */
  loading: boolean;
  /** A store is on its way (to the parent or the backing store). */
  storing: boolean;
  loadWaiters: Responder[];
  storeWaiters: Responder[];
  lastUsed: number;
  /**
   * Clean but not in the backing store: it came (through the tree) from a file mapped on rank 0,
   * whose loads carry FLAG_USER1 (flux-core's "ephemeral" flag). A store of the same blob must
   * not be answered from it: it is replaced and written through like a new blob.
   */
  ephemeral: boolean;
}

export interface Options {
  blobSizeLimit: number;
  flushBatchLimit: number;
  purgeTargetSize: number;
  purgeOldEntry: number;
}

function rawPayload(r: Responder): Buffer {
  return r.msg.payload ?? Buffer.alloc(0);
}

function errnumOf(e: unknown): number {
  const n = (e as { errnum?: unknown } | null)?.errnum;
  return typeof n === 'number' && n > 0 ? n : errno.EIO;
}

function textOf(e: unknown): string | undefined {
  if (!(e instanceof Error)) return undefined;
  const fe = e as Error & { hasText?: boolean };
  return fe.hasText === false ? undefined : e.message;
}

export class ContentCache {
  private readonly entries = new Map<string, Entry>();
  private readonly hashSize: number;
  private backing = false;
  private backingName: string | undefined;
  /** Rank 0: dirty entries waiting for a slot to be written to the backing store. */
  private readonly flushQueue = new Set<Entry>();
  private inflight = 0;
  private flushErrno = 0;
  /** Rank 0: the backing module takes content-backing.store-batch (until it says ENOSYS). */
  private batchOk = true;
  /** Rank 0, batching: the one write-back request allowed out is out. */
  private batchBusy = false;
  private pumpScheduled = false;
  private flushWaiters: Responder[] = [];
  private acctSize = 0;
  private acctValid = 0;
  private acctDirty = 0;
  private faults = 0;

  constructor(
    private readonly ctx: ModuleContext,
    private readonly hashName: HashName,
    private readonly opts: Options,
    private readonly mmap?: ContentMmap,
  ) {
    this.hashSize = hashDigestSize(hashName);
  }

  private get rank(): number {
    return this.ctx.rank;
  }

  private lookup(digest: Buffer): Entry | undefined {
    const e = this.entries.get(digest.toString('hex'));
    if (e) e.lastUsed = Date.now();
    return e;
  }

  private insert(digest: Buffer): Entry {
    const e: Entry = { key: digest.toString('hex'), digest, dirty: false, loading: false, storing: false, loadWaiters: [], storeWaiters: [], lastUsed: Date.now(), ephemeral: false };
    this.entries.set(e.key, e);
    return e;
  }

  private remove(e: Entry): void {
    if (e.data) {
      this.acctSize -= e.data.length;
      this.acctValid--;
    }
    this.entries.delete(e.key);
  }

  private fill(e: Entry, data: Buffer, ephemeral = false): void {
    e.data = data;
    e.ephemeral = ephemeral;
    this.acctValid++;
    this.acctSize += data.length;
    for (const r of e.loadWaiters.splice(0)) r.respondRaw(data, ephemeral ? FLAG_USER1 : 0);
  }

  // ---- load ----------------------------------------------------------------------------------

  load(r: Responder): Promise<void> | void {
    const digest = rawPayload(r);
    if (digest.length !== this.hashSize) throw new FluxError(errno.EPROTO);
    let e = this.lookup(digest);
    if (!e) {
      const mapped = this.mmap?.lookup(digest);
      if (mapped) {
        // Served from the mapped file, checked against the digest; not cached.
        return this.mmap?.read(digest, mapped).then((data) => r.respondRaw(data, FLAG_USER1));
      }
      if (this.rank === 0 && !this.backing) throw new FluxError(errno.ENOENT);
      e = this.insert(Buffer.from(digest));
    }
    if (e.data) {
      r.respondRaw(e.data, e.ephemeral ? FLAG_USER1 : 0);
      return;
    }
    e.loadWaiters.push(r);
    if (!e.loading) this.fault(e);
  }

  /** One request per missing entry: to the parent, or on rank 0 to the backing store. */
  private fault(e: Entry): void {
    e.loading = true;
    this.faults++;
    const rpc = this.rank === 0
      ? this.ctx.h.rpc('content-backing.load', e.digest, { nodeid: 0 })
      : this.ctx.h.rpc('content.load', e.digest, { nodeid: NODEID_UPSTREAM });
    rpc.response().then((m) => {
      e.loading = false;
      // A store may have filled the entry while we waited: its waiters are answered already.
      if (!e.data) this.fill(e, m.payload ?? Buffer.alloc(0), (m.flags & FLAG_USER1) !== 0);
    }, (err: unknown) => {
      e.loading = false;
      let errnum = errnumOf(err);
      if (errnum === errno.ENOSYS && this.rank === 0) errnum = errno.ENOENT;
      if (errnum !== errno.ENOENT) this.ctx.log('err', `content load: ${new FluxError(errnum).strerror}`);
      if (e.data) return;
      for (const w of e.loadWaiters.splice(0)) w.respondError(errnum, errnum === errno.ENOENT ? undefined : textOf(err));
      if (!e.dirty && e.storeWaiters.length === 0) this.remove(e);
    });
  }

  // ---- store ---------------------------------------------------------------------------------

  store(r: Responder): void {
    const data = rawPayload(r);
    if (data.length > this.opts.blobSizeLimit) throw new FluxError(errno.EFBIG);
    const digest = hashRaw(this.hashName, data);
    const e = this.lookup(digest) ?? this.insert(digest);
    if (!e.data) {
      e.dirty = true;
      this.acctDirty++;
      this.fill(e, Buffer.from(data));
    } else if (e.ephemeral) {
      // Known only from a mapped file: now it must reach rank 0's backing store.
      e.ephemeral = false;
      e.dirty = true;
      this.acctDirty++;
    }
    if (e.dirty) {
      if (this.rank > 0) {
        // Write-through: answered when the parent has it.
        e.storeWaiters.push(r);
        if (!e.storing) this.storeUpstream(e);
        return;
      }
      this.flushQueue.add(e);
      if (this.backing) this.schedulePump();
    }
    r.respondRaw(digest);
  }

  /**
   * `content.store-batch` (ours, rank 0): the blobs of a raw [u32 len][blob]... payload (batch.ts),
   * each stored as content.store would, answered with their digests in order. The kvs module
   * sends a commit's directories in one of these instead of one message each (every message
   * costs a MessagePort round trip through the broker, even for modules in its thread). All
   * sizes are checked first, so a refused batch stored nothing; the kvs then falls back to one
   * content.store per blob and gets each blob's own answer. Ranks > 0 are write-through and
   * answer per blob; there, EINVAL (the KVS only stores on rank 0).
   */
  storeBatch(r: Responder): void {
    if (this.rank !== 0) throw new FluxError(errno.EINVAL, 'content.store-batch is served on rank 0 only');
    const blobs = decodeBlobBatch(rawPayload(r));
    for (const data of blobs) if (data.length > this.opts.blobSizeLimit) throw new FluxError(errno.EFBIG);
    const digests = blobs.map((data) => {
      const digest = hashRaw(this.hashName, data);
      const e = this.lookup(digest) ?? this.insert(digest);
      if (!e.data) {
        e.dirty = true;
        this.acctDirty++;
        this.fill(e, Buffer.from(data));
      }
      if (e.dirty) this.flushQueue.add(e);
      return digest;
    });
    if (this.backing) this.schedulePump();
    r.respondRaw(Buffer.concat(digests));
  }

  private markClean(e: Entry): void {
    if (!e.dirty) return;
    e.dirty = false;
    this.acctDirty--;
    for (const w of e.storeWaiters.splice(0)) w.respondRaw(e.digest);
  }

  private storeUpstream(e: Entry): void {
    e.storing = true;
    this.ctx.h.rpc('content.store', e.data, { nodeid: NODEID_UPSTREAM }).getRaw().then((digest) => {
      e.storing = false;
      if (!digest || !digest.equals(e.digest)) throw new FluxError(errno.EIO);
      this.markClean(e);
      this.checkFlush();
    }).catch((err: unknown) => {
      e.storing = false;
      const errnum = errnumOf(err);
      this.ctx.log('crit', `content store: ${new FluxError(errnum).strerror}`);
      for (const w of e.storeWaiters.splice(0)) w.respondError(errnum);
      // The blob was never accepted upstream: forget it, a later store starts over.
      if (e.dirty) {
        e.dirty = false;
        this.acctDirty--;
      }
      if (e.loadWaiters.length === 0) this.remove(e);
      this.failFlush(errnum);
    });
  }

  /**
   * Rank 0: write back what the stores of this tick left dirty, once they are all queued (the
   * directories of one KVS commit arrive together and leave in one batch).
   */
  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      if (this.backing) this.pump();
    });
  }

  /**
   * Rank 0: start backing-store writes. With a backing module that takes batches (ours), one
   * content-backing.store-batch at a time carries up to flush-batch-limit blobs; what becomes
   * dirty meanwhile waits for it and leaves in the next one, so the batches grow with the load
   * instead of the message count. Otherwise one content-backing.store per blob, up to the limit
   * in flight, as flux-core's cache does.
   */
  private pump(): void {
    if (!this.batchOk) {
      for (const e of this.flushQueue) {
        if (this.inflight >= this.opts.flushBatchLimit) break;
        this.flushQueue.delete(e);
        if (!e.dirty || e.storing) continue;
        this.storeBacking(e);
      }
      return;
    }
    if (this.batchBusy) return;
    const batch: Entry[] = [];
    let bytes = 0;
    for (const e of this.flushQueue) {
      if (batch.length >= this.opts.flushBatchLimit || bytes >= BATCH_BYTES) break;
      this.flushQueue.delete(e);
      if (!e.dirty || e.storing || !e.data) continue;
      batch.push(e);
      bytes += e.data.length;
    }
    if (batch.length === 1) this.storeBacking(batch[0], true);
    else if (batch.length > 1) this.writeBatch(batch);
  }

  /** One blob written back; `batched`: it is the one request pump() allows out at a time. */
  private storeBacking(e: Entry, batched = false): void {
    e.storing = true;
    this.inflight++;
    if (batched) this.batchBusy = true;
    this.ctx.h.rpc('content-backing.store', e.data, { nodeid: 0 }).getRaw().then((digest) => {
      if (!digest || !digest.equals(e.digest)) throw new FluxError(errno.EIO);
      e.storing = false;
      this.inflight--;
      if (batched) this.batchBusy = false;
      this.flushErrno = 0;
      this.markClean(e);
      this.pump();
      this.checkFlush();
    }).catch((err: unknown) => {
      if (batched) this.batchBusy = false;
      this.backingFailed([e], err);
    });
  }

  private writeBatch(batch: Entry[]): void {
    for (const e of batch) e.storing = true;
    this.inflight += batch.length;
    this.batchBusy = true;
    const payload = encodeBlobBatch(batch.map((e) => e.data as Buffer));
    this.ctx.h.rpc(STORE_BATCH_TOPIC, payload, { nodeid: 0 }).getRaw().then((digests) => {
      const n = this.hashSize;
      if (!digests || digests.length !== n * batch.length) throw new FluxError(errno.EIO);
      batch.forEach((e, i) => {
        if (!digests.subarray(i * n, (i + 1) * n).equals(e.digest)) throw new FluxError(errno.EIO);
      });
      this.batchBusy = false;
      this.inflight -= batch.length;
      this.flushErrno = 0;
      for (const e of batch) {
        e.storing = false;
        this.markClean(e);
      }
      this.pump();
      this.checkFlush();
    }).catch((err: unknown) => {
      this.batchBusy = false;
      if (errnumOf(err) === errno.ENOSYS && this.backing) {
        // A backing module without batches (or one going away): one blob per request from now
        // on (until the next registration); these go again at once.
        this.batchOk = false;
        this.inflight -= batch.length;
        for (const e of batch) {
          e.storing = false;
          this.flushQueue.add(e);
        }
        this.pump();
        return;
      }
      this.backingFailed(batch, err);
    });
  }

  /** Backing-store writes that failed: still dirty, queued again so that a later flush retries them. */
  private backingFailed(entries: Entry[], err: unknown): void {
    const errnum = errnumOf(err);
    this.inflight -= entries.length;
    for (const e of entries) {
      e.storing = false;
      this.flushQueue.add(e);
    }
    if (errnum === errno.ENOSYS) this.ctx.log('debug', 'content store: backing store service unavailable');
    else this.ctx.log('crit', `content store: ${new FluxError(errnum).strerror}`);
    this.flushErrno = errnum;
    this.failFlush(errnum);
    if (this.backing && errnum !== errno.ENOSYS) setTimeout(() => this.pump(), 1000).unref();
  }

  // ---- flush ---------------------------------------------------------------------------------

  flush(r: Responder): void {
    if (this.rank === 0 && !this.backing) throw new FluxError(errno.ENOSYS);
    if (this.acctDirty === 0) {
      r.respond({});
      return;
    }
    if (this.rank === 0) {
      this.pump();
      if (this.inflight === 0 && this.flushErrno) throw new FluxError(this.flushErrno);
    }
    this.flushWaiters.push(r);
  }

  private checkFlush(): void {
    if (this.acctDirty === 0) for (const w of this.flushWaiters.splice(0)) w.respond({});
  }

  private failFlush(errnum: number): void {
    for (const w of this.flushWaiters.splice(0)) w.respondError(errnum);
  }

  // ---- backing registration ------------------------------------------------------------------

  registerBacking(r: Responder): Promise<void> | void {
    const { name } = r.json<{ name?: unknown }>();
    if (typeof name !== 'string') throw new FluxError(errno.EPROTO);
    if (this.rank !== 0) throw new FluxError(errno.EINVAL, 'content backing store can only be registered on rank 0');
    if (this.backing) throw new FluxError(errno.EBUSY, 'content backing store is already active');
    if (this.backingName !== undefined && this.backingName !== name) {
      throw new FluxError(errno.EINVAL, 'content backing store cannot be changed on the fly');
    }
    const first = this.backingName === undefined;
    this.backingName = name;
    this.backing = true;
    this.batchOk = true;
    this.ctx.log('debug', `content backing store: enabled ${name}`);
    r.respond({});
    this.pump();
    if (first) return this.ctx.h.rpc('attr.set', { name: 'content.backing-module', value: name }).response().then(() => undefined, () => undefined);
  }

  unregisterBacking(r: Responder): void {
    if (!this.backing) throw new FluxError(errno.EINVAL, 'content backing store is not active');
    this.backing = false;
    this.ctx.log('debug', 'content backing store: disabled');
    r.respond({});
    if (this.acctDirty > 0) this.ctx.log('err', `${this.acctDirty} unflushables`);
    this.failFlush(errno.ENOSYS);
  }

  /** The backing module name given at start (`-S content.backing-module=NAME`), if any. */
  setBackingName(name: string | undefined): void {
    this.backingName = name;
  }

  // ---- checkpoints ---------------------------------------------------------------------------

  async checkpoint(r: Responder, op: 'get' | 'put'): Promise<void> {
    if (this.rank === 0 && !this.backing) {
      throw new FluxError(errno.ENOSYS, `checkpoint ${op} unavailable, no backing store`);
    }
    if (op === 'put') {
      const req = r.json<{ value?: unknown }>();
      if (typeof req.value !== 'object' || req.value === null) throw new FluxError(errno.EPROTO);
    }
    const topic = this.rank === 0 ? `content-backing.checkpoint-${op}` : `content.checkpoint-${op}`;
    const rpc = this.ctx.h.rpc(topic, r.msg.payload ?? Buffer.alloc(0), { nodeid: this.rank === 0 ? 0 : NODEID_UPSTREAM });
    r.respondRaw(await rpc.getRaw());
  }

  // ---- housekeeping --------------------------------------------------------------------------

  dropcache(r: Responder): void {
    const before = this.entries.size;
    for (const e of [...this.entries.values()]) {
      if (e.data && !e.dirty && !e.loading && !e.storing && e.loadWaiters.length === 0) this.remove(e);
    }
    this.ctx.log('debug', `content dropcache ${before - this.entries.size}/${before}`);
    r.respond({});
  }

  purge(): void {
    if (this.acctSize <= this.opts.purgeTargetSize) return;
    const old = Date.now() - this.opts.purgeOldEntry * 1000;
    const clean = [...this.entries.values()].filter((e) => e.data && !e.dirty && !e.storing && e.lastUsed < old);
    clean.sort((a, b) => a.lastUsed - b.lastUsed);
    for (const e of clean) {
      if (this.acctSize <= this.opts.purgeTargetSize) break;
      this.remove(e);
    }
  }

  stats(): Record<string, unknown> {
    return {
      count: this.entries.size,
      valid: this.acctValid,
      dirty: this.acctDirty,
      size: this.acctSize,
      'flush-batch-count': this.inflight,
      mmap: this.mmap ? this.mmap.stats() : null,
      faults: this.faults,
    };
  }
}
