/**
 * Cutting a regular file into the blobs of an RFC 37 `blobvec`, shared by `flux archive create`
 * (which stores them, or with --mmap only names them) and by rank 0's content module (which, for
 * content.mmap-add, hashes the same file the same way and then serves those blobs from it). Both
 * sides must cut identically, or the archive would name blobs the content module cannot serve.
 *
 * Rules (flux-core's blobvec_create()): blobs of at most `chunksize` bytes (0 = the whole file),
 * none across a hole. Node has no lseek(SEEK_DATA/SEEK_HOLE), so for a file with fewer allocated
 * blocks than its size we take all-zero 4 KiB blocks for holes instead; the bytes read back are
 * the same either way.
 *
 * The file is read a chunk at a time with asynchronous reads (libuv's pool), never whole, so the
 * caller's event loop stays free between chunks and memory stays at one chunk per step.
 */
import * as fs from 'node:fs';

export const BLOCK = 4096;

/** A file with fewer blocks allocated than its size needs has holes worth skipping. */
export function isSparse(st: Pick<fs.Stats, 'blocks' | 'size'>): boolean {
  return st.blocks * 512 < st.size;
}

function allZero(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

/** pread(2) through libuv's pool (the callback API: lighter than FileHandle's). */
function pread(fd: number, buf: Buffer, at: number, len: number, pos: number): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.read(fd, buf, at, len, pos, (err, n) => (err ? reject(err) : resolve(n)));
  });
}

/** Offset of the first non-zero block at or after `from`, or -1; reads `buf`-sized windows. */
async function nextData(fd: number, from: number, size: number, buf: Buffer): Promise<number> {
  let off = from;
  while (off < size) {
    const bytesRead = await pread(fd, buf, 0, Math.min(buf.length, size - off), off);
    if (bytesRead === 0) return -1;
    for (let i = 0; i < bytesRead; i += BLOCK) {
      if (!allZero(buf.subarray(i, Math.min(i + BLOCK, bytesRead)))) return off + i;
    }
    off += bytesRead;
  }
  return -1;
}

/** Thrown when the file is shorter than its stat said (it changed under us). */
export class ShortReadError extends Error {
  constructor() {
    super('short read');
  }
}

export interface Chunk {
  offset: number;
  data: Buffer;
}

/**
 * The blobs of the file open at descriptor `fd` (`size` bytes, `sparse` from isSparse()), in
 * file order. Each chunk's buffer is its own (callers may keep it while the next one is read).
 */
export async function* readChunks(fd: number, size: number, chunksize: number, sparse: boolean): AsyncGenerator<Chunk> {
  const chunk = chunksize === 0 ? size : Math.min(chunksize, size);
  const scan = sparse ? Buffer.allocUnsafe(Math.max(BLOCK, Math.min(chunk, 1 << 20))) : undefined;
  let off = 0;
  while (off < size) {
    if (scan) {
      off = await nextData(fd, off, size, scan);
      if (off < 0) return;
    }
    let len = Math.min(chunk, size - off);
    const buf = Buffer.allocUnsafe(len);
    let got = 0;
    while (got < len) {
      const bytesRead = await pread(fd, buf, got, len - got, off + got);
      if (bytesRead === 0) throw new ShortReadError();
      got += bytesRead;
    }
    if (scan) {
      // The blob ends at the next hole (block aligned, as SEEK_HOLE would say).
      for (let i = off % BLOCK === 0 ? BLOCK : BLOCK - (off % BLOCK); i < len; i += BLOCK) {
        if (allZero(buf.subarray(i, Math.min(i + BLOCK, len)))) {
          len = i;
          break;
        }
      }
    }
    yield { offset: off, data: buf.subarray(0, len) };
    off += len;
  }
}

/**
 * The chunks of a dense file already in memory (a file small enough to read whole): the cuts
 * readChunks() makes of the same bytes when the file has no holes.
 */
export function* memoryChunks(data: Buffer, chunksize: number): Generator<Chunk> {
  const chunk = chunksize === 0 ? data.length : chunksize;
  for (let off = 0; off < data.length; off += chunk) yield { offset: off, data: data.subarray(off, Math.min(data.length, off + chunk)) };
}
