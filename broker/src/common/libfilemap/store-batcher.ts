/** How `flux archive create` stores many blobs at once (see the class). */
import { FluxError, errno } from '../libflux/errno';
import type { Flux } from '../libflux/handle';
import { encodeBlobBatch } from '../../modules/content/batch';

/** A store batch stops growing at this many blobs or bytes. */
const BATCH_COUNT = 256;
const BATCH_BYTES = 4 * 1024 * 1024;

/**
 * Blob stores, gathered: the blobs of one turn of the event loop (every file in flight adds
 * its own) leave in one `content.store-batch` to rank 0 (ours: [u32 len][blob]... -> digests;
 * modules/content/batch.ts) instead of one message each. A broker without it (flux-core's:
 * ENOSYS), or a batch refused as a whole, falls back to one content.store per blob, so each
 * blob gets its own answer. Rank 0 is where a store ends up in any case (ranks > 0 write
 * through), so skipping the local rank's cache loses nothing.
 */
export class StoreBatcher {
  private queue: { data: Buffer; resolve: (d: Buffer) => void; reject: (e: unknown) => void }[] = [];
  private bytes = 0;
  private scheduled = false;
  private batchOk = true;

  constructor(private readonly h: Flux, private readonly digestSize: number) {}

  store(data: Buffer): Promise<Buffer> {
    if (!this.batchOk) return this.single(data);
    return new Promise((resolve, reject) => {
      this.queue.push({ data, resolve, reject });
      this.bytes += data.length;
      if (this.queue.length >= BATCH_COUNT || this.bytes >= BATCH_BYTES) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private async single(data: Buffer): Promise<Buffer> {
    const d = await this.h.rpc('content.store', data).getRaw();
    if (!d) throw new FluxError(errno.EPROTO);
    return d;
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    this.bytes = 0;
    if (batch.length === 0) return;
    const perBlob = (): void => {
      for (const b of batch) this.single(b.data).then(b.resolve, b.reject);
    };
    if (batch.length === 1 || !this.batchOk) {
      perBlob();
      return;
    }
    this.h.rpc('content.store-batch', encodeBlobBatch(batch.map((b) => b.data)), { nodeid: 0 }).getRaw().then((digests) => {
      const n = this.digestSize;
      if (!digests || digests.length !== n * batch.length) throw new FluxError(errno.EPROTO);
      batch.forEach((b, i) => b.resolve(digests.subarray(i * n, (i + 1) * n)));
    }).catch((e: unknown) => {
      if (e instanceof FluxError && e.errnum === errno.ENOSYS) this.batchOk = false;
      perBlob();
    });
  }
}
