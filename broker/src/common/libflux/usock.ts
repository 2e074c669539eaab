/**
 * flux-core's local connector framing (usock), the same over a Unix socket or a
 * child's stdio (`flux relay`, ssh://):
 *
 *   server, once after accept: one byte, 0 = accepted, else an errno
 *   each message:  magic 12 00 EE FF | length (u32 BE, header excluded) | frames
 *   each frame:    size (1 byte if < 255, else FF + u32 BE) | data
 */
import { errno, FluxError } from './errno';
import { decodeBody, encodeFrames, type Message } from './message';

/** flux-core writes the native-endian u32 0xffee0012; on x86-64/aarch64 that is these bytes. */
export const USOCK_MAGIC = Buffer.from([0x12, 0x00, 0xee, 0xff]);
const HEADER_SIZE = 8;
/**
 * The longest message body we accept: INT_MAX. flux-core sets no cap of its own: its reader
 * mallocs whatever u32 the header announces. We do cap, at a size no real client sends (payload
 * sizes were `int` in flux-core's message API for years), and refuse a bigger announcement from
 * the header alone. Below the cap we buffer only bytes that actually arrive, so a lying length
 * costs nothing until the peer really sends that much.
 */
export const USOCK_MAX_MESSAGE = 2 ** 31 - 1;

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

/** Decode exactly one whole usock message (header included). */
export function decodeUsock(buf: Buffer): Message {
  if (buf.length < HEADER_SIZE || !buf.subarray(0, 4).equals(USOCK_MAGIC)) throw new FluxError(errno.EPROTO, 'bad usock magic');
  const len = buf.readUInt32BE(4);
  if (buf.length !== HEADER_SIZE + len) throw new FluxError(errno.EPROTO, 'bad usock length');
  return decodeBody(buf.subarray(HEADER_SIZE));
}

/** What one chunk of a stream produced: the whole messages, then the error that ended the stream, if any. */
export interface UsockFeed {
  msgs: Message[];
  error?: FluxError;
}

/**
 * Incremental decoder for a byte stream: feed chunks, get whole messages.
 * A protocol error is reported once; the stream is then unusable (the peer is dropped).
 *
 * Nothing is allocated for a length the peer merely announces: bytes are kept as they arrive
 * and joined once the message is complete. flux-core mallocs the announced size at once (any
 * u32); we refuse more than `maxMessage` as soon as the header says so.
 */
export class UsockDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private failed = false;

  constructor(private readonly maxMessage: number = USOCK_MAX_MESSAGE) {}

  /** Bytes received and not yet part of a whole message (a message cut short by EOF leaves some). */
  get pending(): number {
    return this.buffered;
  }

  /**
   * The messages completed by this chunk and, if the stream broke, the error. Messages that
   * arrived whole before the bad bytes are returned too, so a peer's last good request is served
   * as flux-core serves it (it reads, and handles, one message at a time).
   */
  feed(chunk: Buffer): UsockFeed {
    const out: Message[] = [];
    if (this.failed) return { msgs: out };
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    try {
      for (;;) {
        if (this.buffered < HEADER_SIZE) break;
        const head = this.peek(HEADER_SIZE);
        if (!head.subarray(0, 4).equals(USOCK_MAGIC)) throw new FluxError(errno.EPROTO, 'bad usock magic');
        const len = head.readUInt32BE(4);
        if (len > this.maxMessage) throw new FluxError(errno.EPROTO, `usock message too large (${len} bytes, limit ${this.maxMessage})`);
        if (this.buffered - HEADER_SIZE < len) break;
        const whole = this.take(HEADER_SIZE + len);
        out.push(decodeBody(whole.subarray(HEADER_SIZE)));
      }
    } catch (e) {
      this.failed = true;
      this.chunks = [];
      this.buffered = 0;
      return { msgs: out, error: e instanceof FluxError ? e : new FluxError(errno.EPROTO, String(e)) };
    }
    return { msgs: out };
  }

  /**
   * Returns the messages completed by this chunk. Throws FluxError(EPROTO) on bad input
   * (whole messages before the bad bytes in the same chunk are dropped with the stream: callers
   * that want them use feed()).
   */
  push(chunk: Buffer): Message[] {
    const r = this.feed(chunk);
    if (r.error) throw r.error;
    return r.msgs;
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
      const all = Buffer.concat(this.chunks, this.buffered);
      out = all.subarray(0, n);
      this.chunks = all.length > n ? [all.subarray(n)] : [];
    }
    this.buffered -= n;
    return out;
  }
}
