/**
 * Flux messages (RFC 3) and their frame encoding, byte for byte as flux-core 0.88
 * puts them on the wire (checked against ../shared/vectors/).
 *
 * Frames, in order: [route]... [""]  only with FLAG_ROUTE, newest hop first
 *                   [topic]          only with FLAG_TOPIC (no trailing NUL)
 *                   [payload]        only with FLAG_PAYLOAD
 *                   [PROTO]          always last, 20 bytes
 */
import { constants as bufferConstants } from 'node:buffer';
import { errno, FluxError } from './errno';

/** V8's longest string, in UTF-16 units; a UTF-8 frame of at most this many bytes always fits. */
const MAX_STRING_LENGTH = bufferConstants.MAX_STRING_LENGTH;

export const MSGTYPE_REQUEST = 0x01;
export const MSGTYPE_RESPONSE = 0x02;
export const MSGTYPE_EVENT = 0x04;
export const MSGTYPE_CONTROL = 0x08;
export type MsgType = 0x01 | 0x02 | 0x04 | 0x08;

export const FLAG_TOPIC = 0x01;
export const FLAG_PAYLOAD = 0x02;
export const FLAG_NORESPONSE = 0x04;
export const FLAG_ROUTE = 0x08;
export const FLAG_UPSTREAM = 0x10;
export const FLAG_PRIVATE = 0x20;
export const FLAG_STREAMING = 0x40;
export const FLAG_USER1 = 0x80;

export const NODEID_ANY = 0xffffffff;
/** API-only value: becomes FLAG_UPSTREAM + the sender's rank, never travels. */
export const NODEID_UPSTREAM = 0xfffffffe;
export const USERID_UNKNOWN = 0xffffffff;
export const MATCHTAG_NONE = 0;

export const ROLE_NONE = 0;
export const ROLE_OWNER = 1;
export const ROLE_USER = 2;
export const ROLE_LOCAL = 4;
export const ROLE_ADMIN = 8;

const PROTO_MAGIC = 0x8e;
const PROTO_VERSION = 0x01;
export const PROTO_SIZE = 20;

/** One Flux message. `aux1` is nodeid (request), errnum (response), sequence (event). */
export interface Message {
  type: MsgType;
  flags: number;
  userid: number;
  rolemask: number;
  aux1: number;
  /** matchtag (request/response), 0 for events, status for control messages. */
  aux2: number;
  /** Route stack in wire order: index 0 is the newest hop. Meaningful only with FLAG_ROUTE. */
  routes: string[];
  topic?: string;
  payload?: Buffer;
}

export function newMessage(type: MsgType, topic?: string): Message {
  const m: Message = {
    type,
    flags: 0,
    userid: USERID_UNKNOWN,
    rolemask: ROLE_NONE,
    aux1: type === MSGTYPE_REQUEST ? NODEID_ANY : 0,
    aux2: 0,
    routes: [],
  };
  if (topic !== undefined) {
    m.topic = topic;
    m.flags |= FLAG_TOPIC;
  }
  return m;
}

export function typeName(t: number): string {
  switch (t) {
    case MSGTYPE_REQUEST: return 'request';
    case MSGTYPE_RESPONSE: return 'response';
    case MSGTYPE_EVENT: return 'event';
    case MSGTYPE_CONTROL: return 'control';
    default: return 'unknown';
  }
}

// --- payload helpers ------------------------------------------------------

/** JSON payloads travel as text with a trailing NUL (flux_msg_set_string). */
export function setJson(m: Message, obj: unknown): void {
  setString(m, JSON.stringify(obj));
}

export function setString(m: Message, s: string): void {
  const body = Buffer.from(s, 'utf8');
  const buf = Buffer.allocUnsafe(body.length + 1);
  body.copy(buf);
  buf[body.length] = 0;
  m.payload = buf;
  m.flags |= FLAG_PAYLOAD;
}

export function setRaw(m: Message, data: Buffer | undefined): void {
  if (data && data.length > 0) {
    m.payload = data;
    m.flags |= FLAG_PAYLOAD;
  } else {
    delete m.payload;
    m.flags &= ~FLAG_PAYLOAD;
  }
}

/** The payload as a string; EPROTO if it is not NUL-terminated (as flux_msg_get_string). */
export function getString(m: Message): string | undefined {
  if (!(m.flags & FLAG_PAYLOAD) || !m.payload) return undefined;
  const p = m.payload;
  if (p.length === 0 || p[p.length - 1] !== 0) throw new FluxError(errno.EPROTO);
  // Longer than any JS string: toString() would throw a RangeError, not a protocol error.
  if (p.length - 1 > MAX_STRING_LENGTH) throw new FluxError(errno.EPROTO, 'payload too long for a string');
  return p.toString('utf8', 0, p.length - 1);
}

/** The payload as a JSON object; EPROTO if missing, not NUL-terminated, or not an object. */
export function getJson<T = Record<string, unknown>>(m: Message): T {
  const s = getString(m);
  if (s === undefined) throw new FluxError(errno.EPROTO);
  let v: unknown;
  try {
    v = JSON.parse(s);
  } catch {
    throw new FluxError(errno.EPROTO);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new FluxError(errno.EPROTO);
  return v as T;
}

// --- derived messages -----------------------------------------------------

/** A response to `req`: same topic, matchtag, routes and ROUTE/STREAMING flags, fresh creds. */
export function deriveResponse(req: Message): Message {
  const r: Message = {
    type: MSGTYPE_RESPONSE,
    flags: req.flags & (FLAG_TOPIC | FLAG_ROUTE | FLAG_STREAMING),
    userid: USERID_UNKNOWN,
    rolemask: ROLE_NONE,
    aux1: 0,
    aux2: req.aux2,
    routes: req.routes.slice(),
  };
  if (req.topic !== undefined) r.topic = req.topic;
  return r;
}

/** An error response; errnum 0 becomes EINVAL as in flux_respond_error(). */
export function deriveErrorResponse(req: Message, errnum: number, text?: string): Message {
  const r = deriveResponse(req);
  r.aux1 = errnum === 0 ? errno.EINVAL : errnum;
  if (text) setString(r, text);
  return r;
}

export function pushRoute(m: Message, hop: string): void {
  m.flags |= FLAG_ROUTE;
  m.routes.unshift(hop);
}

export function popRoute(m: Message): string | undefined {
  return m.routes.shift();
}

// --- frame codec ----------------------------------------------------------

export function encodeProto(m: Message): Buffer {
  const b = Buffer.allocUnsafe(PROTO_SIZE);
  b[0] = PROTO_MAGIC;
  b[1] = PROTO_VERSION;
  b[2] = m.type;
  b[3] = m.flags & 0xff;
  b.writeUInt32BE(m.userid >>> 0, 4);
  b.writeUInt32BE(m.rolemask >>> 0, 8);
  b.writeUInt32BE(m.aux1 >>> 0, 12);
  b.writeUInt32BE(m.aux2 >>> 0, 16);
  return b;
}

/** The message as a list of frames (ZeroMQ multipart, or input to the usock encoder). */
export function encodeFrames(m: Message): Buffer[] {
  const frames: Buffer[] = [];
  if (m.flags & FLAG_ROUTE) {
    for (const r of m.routes) frames.push(Buffer.from(r, 'utf8'));
    frames.push(Buffer.alloc(0));
  }
  if (m.flags & FLAG_TOPIC) frames.push(Buffer.from(m.topic ?? '', 'utf8'));
  if (m.flags & FLAG_PAYLOAD) frames.push(m.payload ?? Buffer.alloc(0));
  frames.push(encodeProto(m));
  return frames;
}

/**
 * At most this many route frames in one message. flux-core sets no limit, but each hop adds one
 * route (client, then each broker on the way), so even a chain of thousands of brokers stays far
 * below it; the cap keeps a message of a million 1-byte route frames from becoming a million
 * strings.
 */
export const MAX_ROUTES = 65_535;

/** Decoding a route or topic frame longer than V8's longest string would throw a RangeError. */
function frameString(b: Buffer, what: string): string {
  // flux-core sends topic and route frames without a NUL; RFC 3 says with. Accept both.
  const end = b.length > 0 && b[b.length - 1] === 0 ? b.length - 1 : b.length;
  if (end > MAX_STRING_LENGTH) throw new FluxError(errno.EPROTO, `${what} frame too long`);
  return b.toString('utf8', 0, end);
}

/** The message a PROTO frame describes, routes/topic/payload still empty. */
function decodeProto(proto: Buffer): Message {
  if (proto.length !== PROTO_SIZE) throw new FluxError(errno.EPROTO, 'bad PROTO frame size');
  if (proto[0] !== PROTO_MAGIC || proto[1] !== PROTO_VERSION) throw new FluxError(errno.EPROTO, 'bad PROTO magic or version');
  const type = proto[2];
  if (type !== MSGTYPE_REQUEST && type !== MSGTYPE_RESPONSE && type !== MSGTYPE_EVENT && type !== MSGTYPE_CONTROL) {
    throw new FluxError(errno.EPROTO, 'bad message type');
  }
  return {
    type: type as MsgType,
    flags: proto[3],
    userid: proto.readUInt32BE(4),
    rolemask: proto.readUInt32BE(8),
    aux1: proto.readUInt32BE(12),
    aux2: proto.readUInt32BE(16),
    routes: [],
  };
}

/** The frames before PROTO, read one at a time: `left` of them remain. */
interface FrameSource {
  left(): number;
  next(): Buffer;
}

/** Fill routes, topic and payload as the PROTO flags say; every frame before PROTO must be used. */
function decodeBeforeProto(m: Message, src: FrameSource): Message {
  if (m.flags & FLAG_ROUTE) {
    for (;;) {
      if (src.left() === 0) throw new FluxError(errno.EPROTO, 'route delimiter missing');
      const f = src.next();
      if (f.length === 0) break;
      if (m.routes.length === MAX_ROUTES) throw new FluxError(errno.EPROTO, 'too many routes');
      m.routes.push(frameString(f, 'route'));
    }
  }
  if (m.flags & FLAG_TOPIC) {
    if (src.left() === 0) throw new FluxError(errno.EPROTO, 'topic frame missing');
    m.topic = frameString(src.next(), 'topic');
  }
  if (m.flags & FLAG_PAYLOAD) {
    if (src.left() === 0) throw new FluxError(errno.EPROTO, 'payload frame missing');
    m.payload = src.next();
  }
  if (src.left() !== 0) throw new FluxError(errno.EPROTO, 'unexpected extra frames');
  return m;
}

/** Decode frames into a message (ZeroMQ multipart). Throws FluxError(EPROTO) on anything malformed. */
export function decodeFrames(frames: Buffer[]): Message {
  if (frames.length < 1) throw new FluxError(errno.EPROTO, 'message has no frames');
  const m = decodeProto(frames[frames.length - 1]);
  let i = 0;
  const last = frames.length - 1;
  return decodeBeforeProto(m, { left: () => last - i, next: () => frames[i++] });
}

/** Reads one size-prefixed frame at `off` (usock encoding); the frame ends at `end`. */
function frameEnd(body: Buffer, off: number): { start: number; end: number } {
  let size = body[off++];
  if (size === 0xff) {
    if (body.length - off < 4) throw new FluxError(errno.EPROTO, 'truncated frame size');
    size = body.readUInt32BE(off);
    off += 4;
  }
  if (size > body.length - off) throw new FluxError(errno.EPROTO, 'truncated frame');
  return { start: off, end: off + size };
}

/**
 * Decode an encoded message (the usock body after its 8-byte header: size-prefixed frames).
 * Throws FluxError(EPROTO) on anything malformed.
 *
 * Two passes, and no list of frames: the first only finds the last frame (PROTO, which says what
 * the others are), the second reads the frames the flags announce. A body of millions of empty
 * frames therefore costs time linear in its size and no memory, where building a Buffer per frame
 * took hundreds of bytes each (a 20 MB message of empty frames ran the broker out of heap).
 */
export function decodeBody(body: Buffer): Message {
  let off = 0;
  let count = 0;
  let proto: { start: number; end: number } | undefined;
  while (off < body.length) {
    proto = frameEnd(body, off);
    off = proto.end;
    count++;
  }
  if (!proto) throw new FluxError(errno.EPROTO, 'message has no frames');
  const m = decodeProto(body.subarray(proto.start, proto.end));
  let left = count - 1;
  off = 0;
  return decodeBeforeProto(m, {
    left: () => left,
    next: () => {
      const f = frameEnd(body, off);
      off = f.end;
      left--;
      return body.subarray(f.start, f.end);
    },
  });
}
