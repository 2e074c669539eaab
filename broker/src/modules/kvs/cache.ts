/**
 * The kvs module's blob cache (flux-core's modules/kvs/cache.c), in front of the content
 * service: tree objects and values the KVS has read or written, by blobref.
 *
 * Why a cache of its own: every lookup walks from the root, and every commit re-reads the
 * directories on its path; asking the content module each time would cost a message round trip
 * through the broker per directory level. Loads of the same blobref share one content.load;
 * stores are written through to content.store at once (the commit waits for them, so a new root
 * is only published once all its blobs are in the content store) and the content module's answer
 * is checked against our own hash. Entries unused for `maxAge` seconds are expired periodically
 * (flux-core: 10 s); entries with a store in flight are never expired.
 */
import { blobrefHash, blobrefToDigest, digestToBlobref, hashDigestSize, type HashName } from '../../common/libcontent/blobref';
import { errno, FluxError } from '../../common/libflux/errno';
import type { Flux } from '../../common/libflux/handle';
import type { ContentStore, StoreHint, StoreItem } from '../../common/libkvs/commit';
import { encodeBlobBatch } from '../content/batch';
import { decode, type TreeObj } from '../../common/libkvs/treeobj';

interface Entry {
  data: Buffer;
  lastUsed: number;
  dirty: boolean;
  /** The blob decoded as a tree object (null: it is not one), once someone asked. */
  obj?: TreeObj | null;
}

export class KvsCache implements ContentStore {
  private readonly entries = new Map<string, Entry>();
  private readonly loading = new Map<string, Promise<Buffer>>();
  private acctSize = 0;
  /** content.store-batch is served (until the content module says otherwise). */
  private batchOk = true;
  faults = 0;

  constructor(private readonly h: Flux, private readonly hashName: HashName) {}

  load(blobref: string): Promise<Buffer> {
    const e = this.entries.get(blobref);
    if (e) {
      e.lastUsed = Date.now();
      return Promise.resolve(e.data);
    }
    let p = this.loading.get(blobref);
    if (!p) {
      this.faults++;
      let digest: Buffer;
      try {
        digest = blobrefToDigest(blobref);
      } catch (err) {
        return Promise.reject(err);
      }
      p = this.h.rpc('content.load', digest).getRaw().then((data) => {
        const buf = data ?? Buffer.alloc(0);
        this.insert(blobref, buf, false);
        return buf;
      }).finally(() => this.loading.delete(blobref));
      this.loading.set(blobref, p);
    }
    return p;
  }

  /** Decoded once per cache entry; callers share the object and must not modify it. */
  async loadTreeObj(blobref: string): Promise<TreeObj | undefined> {
    const data = await this.load(blobref);
    const e = this.entries.get(blobref);
    if (e && e.obj !== undefined) return e.obj ?? undefined;
    let obj: TreeObj | null;
    try {
      obj = decode(data);
    } catch {
      obj = null;
    }
    if (e) e.obj = obj;
    return obj ?? undefined;
  }

  private insert(blobref: string, data: Buffer, dirty: boolean): Entry {
    let e = this.entries.get(blobref);
    if (!e) {
      e = { data, lastUsed: Date.now(), dirty };
      this.entries.set(blobref, e);
      this.acctSize += data.length;
    }
    return e;
  }

  /**
   * `hint.obj` is `data` decoded, when the caller has it (a commit storing a directory it built):
   * kept so that the next commit or lookup through this directory need not parse and validate it
   * again — for a directory of thousands of entries, that was most of a small commit's cost.
   * `hint.ref` is the blobref the commit computed (checked against the content module's answer).
   */
  async store(data: Buffer, hint: StoreHint = {}): Promise<string> {
    const ref = hint.ref ?? blobrefHash(this.hashName, data);
    const known = this.entries.get(ref);
    if (known && !known.dirty) {
      known.lastUsed = Date.now();
      if (hint.obj && known.obj === undefined) known.obj = hint.obj;
      return ref;
    }
    const e = this.insert(ref, data, true);
    if (hint.obj && e.obj === undefined) e.obj = hint.obj;
    try {
      const digest = await this.h.rpc('content.store', data).getRaw();
      if (!digest || digestToBlobref(this.hashName, digest) !== ref) throw new FluxError(errno.EPROTO, 'inconsistent blobref returned');
      e.dirty = false;
    } catch (err) {
      // The content store does not have it: forget it so no lookup trusts it.
      this.entries.delete(ref);
      this.acctSize -= data.length;
      throw err;
    }
    return ref;
  }

  /**
   * Several blobs in one `content.store-batch` (content/batch.ts) instead of one content.store
   * each: a commit stores a blob per directory on its path, and each message to the content
   * module costs a round trip through the broker. If the batch is refused, for whatever reason,
   * the blobs go again one content.store at a time, so each gets exactly the answer (or the
   * error) it would have had alone; ENOSYS or EINVAL (a content module without batches, or not
   * rank 0) means one at a time from then on.
   */
  async storeItems(items: readonly StoreItem[]): Promise<string[]> {
    if (!this.batchOk || items.length < 2) return Promise.all(items.map((it) => this.store(it.data, it)));
    const refs: string[] = [];
    const todo: { ref: string; e: Entry; data: Buffer }[] = [];
    for (const it of items) {
      const ref = it.ref ?? blobrefHash(this.hashName, it.data);
      refs.push(ref);
      const known = this.entries.get(ref);
      if (known && !known.dirty) {
        known.lastUsed = Date.now();
        if (it.obj && known.obj === undefined) known.obj = it.obj;
        continue;
      }
      const e = this.insert(ref, it.data, true);
      if (it.obj && e.obj === undefined) e.obj = it.obj;
      todo.push({ ref, e, data: it.data });
    }
    if (todo.length === 0) return refs;
    let ok = false;
    try {
      const digests = await this.h.rpc('content.store-batch', encodeBlobBatch(todo.map((t) => t.data))).getRaw();
      const n = hashDigestSize(this.hashName);
      ok = digests !== undefined && digests.length === n * todo.length
        && todo.every((t, i) => digestToBlobref(this.hashName, digests.subarray(i * n, (i + 1) * n)) === t.ref);
    } catch (err) {
      const errnum = (err as { errnum?: unknown }).errnum;
      if (errnum === errno.ENOSYS || errnum === errno.EINVAL) this.batchOk = false;
    }
    if (ok) {
      for (const t of todo) t.e.dirty = false;
      return refs;
    }
    await Promise.all(todo.map((t) => this.store(t.data, { ref: t.ref })));
    return refs;
  }

  /** Expire entries unused for `maxAge` seconds (0: every clean entry). Returns how many went. */
  expire(maxAge: number): number {
    const limit = Date.now() - maxAge * 1000;
    let n = 0;
    for (const [ref, e] of this.entries) {
      if (e.dirty || (maxAge > 0 && e.lastUsed >= limit)) continue;
      this.entries.delete(ref);
      this.acctSize -= e.data.length;
      n++;
    }
    return n;
  }

  /** Keep an entry from expiring (the current roots). */
  touch(blobref: string): void {
    const e = this.entries.get(blobref);
    if (e) e.lastUsed = Date.now();
  }

  get count(): number {
    return this.entries.size;
  }

  get incomplete(): number {
    return this.loading.size;
  }

  stats(): Record<string, unknown> {
    let dirty = 0;
    let min = Infinity;
    let max = 0;
    let sum = 0;
    let sumsq = 0;
    for (const e of this.entries.values()) {
      if (e.dirty) dirty++;
      const kib = e.data.length / 1024;
      min = Math.min(min, kib);
      max = Math.max(max, kib);
      sum += kib;
      sumsq += kib * kib;
    }
    const n = this.entries.size;
    const mean = n ? sum / n : 0;
    const stddev = n > 1 ? Math.sqrt(Math.max(0, (sumsq - n * mean * mean) / (n - 1))) : 0;
    return {
      'obj size total (MiB)': this.acctSize / 1048576,
      'obj size (KiB)': { count: n, min: n ? min : 0, mean, stddev, max },
      '#obj dirty': dirty,
      '#obj incomplete': this.loading.size,
      '#faults': this.faults,
    };
  }
}
