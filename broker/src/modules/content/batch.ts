/**
 * `content-backing.store-batch` (ours, not flux-core's): many blobs in one request from the
 * rank 0 content cache to the backing store. Why: content-sqlite lives in a worker thread, and
 * every message to it costs a postMessage, a wake-up of the thread and the same again for the
 * response, plus the broker's routing both ways — per blob. A KVS commit stores a blob for every
 * directory on its path (a root, its subdirectories, ...), so one batch per round of write-back
 * instead of one message per blob is most of the backing store's cost at high commit rates.
 *
 * Request: raw, repeated [u32 big-endian length][blob]. Response: raw, the blobs' digests
 * concatenated in request order. A backing module without the method answers ENOSYS, and the
 * content module then goes back to one content-backing.store per blob.
 */
import { errno, FluxError } from '../../common/libflux/errno';

export const STORE_BATCH_TOPIC = 'content-backing.store-batch';

export function encodeBlobBatch(blobs: readonly Uint8Array[]): Buffer {
  let size = 0;
  for (const b of blobs) size += 4 + b.length;
  const out = Buffer.allocUnsafe(size);
  let off = 0;
  for (const b of blobs) {
    out.writeUInt32BE(b.length, off);
    off += 4;
    out.set(b, off);
    off += b.length;
  }
  return out;
}

/** The blobs of a batch request (views into `buf`); EPROTO if the framing is off. */
export function decodeBlobBatch(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  while (off < buf.length) {
    if (buf.length - off < 4) throw new FluxError(errno.EPROTO);
    const n = buf.readUInt32BE(off);
    off += 4;
    if (n > buf.length - off) throw new FluxError(errno.EPROTO);
    out.push(buf.subarray(off, off + n));
    off += n;
  }
  return out;
}
