/**
 * LZ4 block format (no frame, no size header), as flux-core's content-sqlite stores blobs of 256
 * bytes or more: LZ4_compress_default() on store, LZ4_decompress_safe() on load, with the
 * uncompressed size kept in its own column.
 *
 * Why our own codec: the format is small and fixed, a pure-TypeScript codec needs no native build
 * and no package whose output framing we would have to second-guess (several npm "lz4" packages
 * prepend a size or write the frame format). Compatibility is what matters, not identical
 * compressed bytes: the blob's name is the hash of the UNcompressed data. The tests decode blocks
 * produced by liblz4 1.9.4 and were checked the other way (liblz4 decoding ours) when written.
 *
 * The compressor is the classic greedy single-hash-table LZ4 and obeys the format's end rules
 * (the last 5 bytes are literals; no match starts within the last 12 bytes), so liblz4 accepts
 * its output. The decoder is bounds-checked throughout: a corrupt blob fails, never overreads.
 */

const MINMATCH = 4;
const LASTLITERALS = 5;
const MFLIMIT = 12;
const HASH_LOG = 12;
const MAX_OFFSET = 65535;

/** Worst-case compressed size (LZ4_compressBound). */
export function lz4CompressBound(n: number): number {
  return n + Math.floor(n / 255) + 16;
}

function read32(b: Uint8Array, i: number): number {
  return (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) >>> 0;
}

function hash(v: number): number {
  return Math.imul(v, 2654435761) >>> (32 - HASH_LOG);
}

function writeLength(out: Uint8Array, op: number, len: number): number {
  while (len >= 255) {
    out[op++] = 255;
    len -= 255;
  }
  out[op++] = len;
  return op;
}

/** Compress `src` into one LZ4 block. */
export function lz4CompressBlock(src: Uint8Array): Buffer {
  const n = src.length;
  const out = Buffer.alloc(lz4CompressBound(n));
  let op = 0;
  let anchor = 0;

  const emit = (litEnd: number, offset: number, matchLen: number): void => {
    const litLen = litEnd - anchor;
    const tokenPos = op++;
    let token = Math.min(litLen, 15) << 4;
    if (litLen >= 15) op = writeLength(out, op, litLen - 15);
    out.set(src.subarray(anchor, litEnd), op);
    op += litLen;
    if (matchLen > 0) {
      out[op++] = offset & 0xff;
      out[op++] = offset >> 8;
      const ml = matchLen - MINMATCH;
      if (ml >= 15) {
        token |= 15;
        op = writeLength(out, op, ml - 15);
      } else {
        token |= ml;
      }
    }
    out[tokenPos] = token;
  };

  if (n >= MFLIMIT + 1) {
    const table = new Int32Array(1 << HASH_LOG).fill(-1);
    const mflimit = n - MFLIMIT;
    const matchlimit = n - LASTLITERALS;
    let ip = 0;
    while (ip < mflimit) {
      const seq = read32(src, ip);
      const h = hash(seq);
      const ref = table[h];
      table[h] = ip;
      if (ref >= 0 && ip - ref <= MAX_OFFSET && read32(src, ref) === seq) {
        let len = MINMATCH;
        while (ip + len < matchlimit && src[ref + len] === src[ip + len]) len++;
        emit(ip, ip - ref, len);
        ip += len;
        anchor = ip;
        if (ip - 2 >= 0 && ip - 2 < mflimit) table[hash(read32(src, ip - 2))] = ip - 2;
      } else {
        ip++;
      }
    }
  }
  emit(n, 0, 0);
  return out.subarray(0, op);
}

/**
 * Decompress one LZ4 block whose original size is `size`. Returns undefined if the block is
 * malformed or does not decode to exactly `size` bytes (what content-sqlite treats as an error).
 */
export function lz4DecompressBlock(src: Uint8Array, size: number): Buffer | undefined {
  if (!Number.isInteger(size) || size < 0) return undefined;
  const out = Buffer.alloc(size);
  let ip = 0;
  let op = 0;
  const n = src.length;
  const readLength = (base: number): number => {
    let len = base;
    if (base === 15) {
      let b: number;
      do {
        if (ip >= n) return -1;
        b = src[ip++];
        len += b;
      } while (b === 255);
    }
    return len;
  };
  if (n === 0) return size === 0 ? out : undefined;
  while (ip < n) {
    const token = src[ip++];
    const litLen = readLength(token >> 4);
    if (litLen < 0 || ip + litLen > n || op + litLen > size) return undefined;
    out.set(src.subarray(ip, ip + litLen), op);
    ip += litLen;
    op += litLen;
    if (ip === n) break; // the last sequence has literals only
    if (ip + 2 > n) return undefined;
    const offset = src[ip] | (src[ip + 1] << 8);
    ip += 2;
    if (offset === 0 || offset > op) return undefined;
    const ml = readLength(token & 15);
    if (ml < 0) return undefined;
    const matchLen = ml + MINMATCH;
    if (op + matchLen > size) return undefined;
    // Byte by byte: a match may overlap the bytes it is producing (offset < length).
    for (let k = 0; k < matchLen; k++, op++) out[op] = out[op - offset];
  }
  return op === size ? out : undefined;
}
