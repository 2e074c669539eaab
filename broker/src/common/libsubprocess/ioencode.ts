/**
 * RFC 42 / RFC 24 I/O objects (`{"stream","rank","data"?,"encoding"?,"eof"?}`),
 * shared by the rexec server and `flux exec`: UTF-8 text when the bytes are
 * valid UTF-8, base64 otherwise, as flux-core's ioencode() does.
 */
import { isUtf8 } from 'node:buffer';
import { errno, FluxError } from '../libflux/errno';

/** RFC 42 / RFC 24 I/O object. Key order follows flux-core's ioencode(). */
export interface IoObject {
  stream: string;
  rank: string;
  encoding?: string;
  data?: string;
  eof?: boolean;
}

/** Encode output as flux-core does: UTF-8 text when the bytes are valid UTF-8, base64 otherwise. */
export function ioEncode(stream: string, rank: string, data: Buffer | undefined, eof: boolean): IoObject {
  let io: IoObject;
  if (data && data.length > 0) {
    io = isUtf8(data)
      ? { stream, rank, data: data.toString('utf8') }
      : { stream, rank, encoding: 'base64', data: data.toString('base64') };
  } else {
    io = { stream, rank };
  }
  if (eof) io.eof = true;
  return io;
}

/** Decode an I/O object; EPROTO when it is not one (flux-core's iodecode()). */
export function ioDecode(o: unknown): { stream: string; rank: string; data: Buffer; eof: boolean } {
  if (typeof o !== 'object' || o === null) throw new FluxError(errno.EPROTO);
  const io = o as Record<string, unknown>;
  if (typeof io.stream !== 'string' || typeof io.rank !== 'string') throw new FluxError(errno.EPROTO);
  if (io.encoding !== undefined && typeof io.encoding !== 'string') throw new FluxError(errno.EPROTO);
  const hasData = typeof io.data === 'string';
  const hasEof = typeof io.eof === 'boolean';
  if (!hasData && !hasEof) throw new FluxError(errno.EPROTO);
  let data = Buffer.alloc(0);
  if (hasData) data = io.encoding === 'base64' ? Buffer.from(io.data as string, 'base64') : Buffer.from(io.data as string, 'utf8');
  return { stream: io.stream, rank: io.rank, data, eof: io.eof === true };
}

/** The bytes of an io object, without validating it (a client reading output). */
export function ioData(io: IoObject): Buffer {
  if (typeof io.data !== 'string') return Buffer.alloc(0);
  return io.encoding === 'base64' ? Buffer.from(io.data, 'base64') : Buffer.from(io.data, 'utf8');
}
