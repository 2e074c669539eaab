/**
 * flux-core's local connector framing (usock), the same over a Unix socket or a
 * child's stdio (`flux relay`, ssh://):
 *
 *   server, once after accept: one byte, 0 = accepted, else an errno
 *   each message:  magic 12 00 EE FF | length (u32 BE, header excluded) | frames
 *   each frame:    size (1 byte if < 255, else FF + u32 BE) | data
 */
import { errno, FluxError } from './errno';
import { decodeFrames, encodeFrames, type Message } from './message';

/** flux-core writes the native-endian u32 0xffee0012; on x86-64/aarch64 that is these bytes. */
export const USOCK_MAGIC = Buffer.from([0x12, 0x00, 0xee, 0xff]);
const HEADER_SIZE = 8;
/** Refuse absurd lengths rather than buffer without bound (flux-core's limit is the same order). */
export const USOCK_MAX_MESSAGE = 2 * 1024 * 1024 * 1024 - 1;

export function encodeUsock(m: Message): Buffer {
  const frames = encodeFrames(m);
  let len = 0;
  for (const f of frames) len += (f.length < 255 ? 1 : 5) + f.length;
  const out = Buffer.allocUnsafe(HEADER_SIZE + len);
  USOCK_MAGIC.copy(out, 0);
  out.writeUInt32BE(len, 4);
  let off = HEADER_SIZE;
  for (const f of frames) {
    if (f.length < 255) {
      out[off++] = f.length;
    } else {
      out[off++] = 0xff;
      out.writeUInt32BE(f.length, off);
      off += 4;
    }
    f.copy(out, off);
    off += f.length;
  }
  return out;
}

/** Split an encoded message body (after the 8-byte header) into frames. */
export function splitFrames(body: Buffer): Buffer[] {
  const frames: Buffer[] = [];
  let off = 0;
  while (off < body.length) {
    let size = body[off++];
    if (size === 0xff) {
      if (off + 4 > body.length) throw new FluxError(errno.EPROTO, 'truncated frame size');
      size = body.readUInt32BE(off);
      off += 4;
    }
    if (off + size > body.length) throw new FluxError(errno.EPROTO, 'truncated frame');
    frames.push(body.subarray(off, off + size));
    off += size;
  }
  return frames;
}

export function decodeUsock(buf: Buffer): Message {
  if (buf.length < HEADER_SIZE || !buf.subarray(0, 4).equals(USOCK_MAGIC)) throw new FluxError(errno.EPROTO, 'bad usock magic');
  const len = buf.readUInt32BE(4);
  if (buf.length !== HEADER_SIZE + len) throw new FluxError(errno.EPROTO, 'bad usock length');
  return decodeFrames(splitFrames(buf.subarray(HEADER_SIZE)));
}

/**
 * Incremental decoder for a byte stream: feed chunks, get whole messages.
 * A protocol error is reported once; the stream is then unusable (the peer is dropped).
 */
export class UsockDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private failed = false;

  /** Returns the messages completed by this chunk. Throws FluxError(EPROTO) on bad input. */
  push(chunk: Buffer): Message[] {
    if (this.failed) return [];
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const out: Message[] = [];
    for (;;) {
      if (this.buffered < HEADER_SIZE) break;
      const head = this.peek(HEADER_SIZE);
      if (!head.subarray(0, 4).equals(USOCK_MAGIC)) {
        this.failed = true;
        throw new FluxError(errno.EPROTO, 'bad usock magic');
      }
      const len = head.readUInt32BE(4);
      if (len > USOCK_MAX_MESSAGE) {
        this.failed = true;
        throw new FluxError(errno.EPROTO, 'usock message too large');
      }
      if (this.buffered < HEADER_SIZE + len) break;
      const whole = this.take(HEADER_SIZE + len);
      try {
        out.push(decodeFrames(splitFrames(whole.subarray(HEADER_SIZE))));
      } catch (e) {
        this.failed = true;
        throw e;
      }
    }
    return out;
  }

  private peek(n: number): Buffer {
    if (this.chunks[0].length >= n) return this.chunks[0].subarray(0, n);
    const all = Buffer.concat(this.chunks);
    this.chunks = [all];
    return all.subarray(0, n);
  }

  private take(n: number): Buffer {
    const first = this.chunks[0];
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      const all = Buffer.concat(this.chunks);
      out = all.subarray(0, n);
      this.chunks = all.length > n ? [all.subarray(n)] : [];
    }
    this.buffered -= n;
    return out;
  }
}
