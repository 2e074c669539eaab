/**
 * The content cache of one rank (flux-core's modules/content/cache.c): entries by digest, loads
 * faulted from the TBON parent (rank 0: from the backing store, or from a mapped file, mmap.ts),
 * stores written through to the parent (ranks > 0) or back to the backing store (rank 0, through
 * writeback.ts), flushes, purges and the backing-store registration. content.ts wires it to its
 * services.
 *
 * Why it is shaped this way (each rule is flux-core's):
 *  - A miss faults the blob from the TBON parent (rank 0: from `content-backing.load`) with one
 *    request per entry however many clients wait for it, and the answer stays cached: a blob
 *    crosses each link once. `faults` in the stats (ours; flux-core has no such key) counts these.
 *  - Rank 0 looks in the mapped files (content.mmap-add) before the backing store; those blobs
 *    are read from their file for each load and never enter the cache or the backing store.
 *  - Ranks > 0 are write-through: a store is answered once the parent has it, so after a store
 *    returns, the blob can be loaded on any rank. Rank 0 is write-back: it answers at once and
 *    writes to the backing store behind (writeback.ts), at most `flush-batch-limit` (256) blobs in
 *    flight; with our content-sqlite they travel as one content-backing.store-batch at a time
 *    (batch.ts). The dirty count and content.flush stay here: a flush waits on every rank.
 *  - Dirty entries are never dropped; clean ones are purged when the cache holds more than
 *    `purge-target-size` bytes and they were unused for `purge-old-entry` seconds.
 */
import { errno, FluxError } from '../../common/libflux/errno';
import { FLAG_USER1, NODEID_UPSTREAM } from '../../common/libflux/message';
import { hashDigestSize, hashRaw, type HashName } from '../../common/libcontent/blobref';
import type { Responder } from '../../broker/service';
import { decodeBlobBatch } from './batch';
import { errnumOf, textOf } from './errors';
import type { ContentMmap } from './mmap';
import { WriteBack } from './writeback';
import type { ModuleContext } from '../../module/runtime';

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

export class ContentCache {
  private readonly entries = new Map<string, Entry>();
  private readonly hashSize: number;
  private backing = false;
  private backingName: string | undefined;
  /** Rank 0: writes the dirty entries back to the backing store (idle on the other ranks). */
  private readonly writeback: WriteBack<Entry>;
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
    this.writeback = new WriteBack<Entry>(ctx, this.hashSize, opts.flushBatchLimit, {
      backing: () => this.backing,
      clean: (e) => this.markClean(e),
      written: () => this.checkFlush(),
      failed: (errnum) => this.failFlush(errnum),
    });
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
      this.writeback.add(e);
      if (this.backing) this.writeback.schedule();
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
      if (e.dirty) this.writeback.add(e);
      return digest;
    });
    if (this.backing) this.writeback.schedule();
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

  // ---- flush ---------------------------------------------------------------------------------

  flush(r: Responder): void {
    if (this.rank === 0 && !this.backing) throw new FluxError(errno.ENOSYS);
    if (this.acctDirty === 0) {
      r.respond({});
      return;
    }
    if (this.rank === 0) {
      this.writeback.pump();
      // Nothing in flight to end the wait: the last write-back failure is the answer.
      if (this.writeback.inflight === 0 && this.writeback.lastErrno) throw new FluxError(this.writeback.lastErrno);
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
    this.writeback.allowBatches();
    this.ctx.log('debug', `content backing store: enabled ${name}`);
    r.respond({});
    this.writeback.pump();
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
      'flush-batch-count': this.writeback.inflight,
      mmap: this.mmap ? this.mmap.stats() : null,
      faults: this.faults,
    };
  }
}
