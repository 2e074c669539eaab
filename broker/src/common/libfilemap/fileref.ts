/**
 * RFC 37 file system objects ("filerefs"), the entries of a `flux archive`: pure encoding,
 * decoding and formatting, no I/O, so that what goes into and comes out of the KVS is unit tested.
 *
 * Why the details are as they are:
 *  - Key order is flux-core's (fileref.c builds each object in a fixed order and jansson keeps
 *    insertion order), so `flux kvs get archive.NAME` prints the same text for the same tree.
 *  - Small files are inline: `utf-8` when the bytes are valid UTF-8, otherwise `base64`. We also
 *    send a file holding a NUL byte to base64: flux-core writes utf-8 data back with strlen(), so
 *    an inline NUL would truncate the file when flux-core extracts an archive we made.
 *  - A decoded entry is checked field by field here (types, modes, blobvec triples) and rejected
 *    with flux-core's wording, because an archive is data from the KVS, not from us.
 */
import { FluxError, errno } from '../libflux/errno';
import { isBlobref } from '../libcontent/blobref';

export const S_IFMT = 0o170000;
export const S_IFREG = 0o100000;
export const S_IFDIR = 0o040000;
export const S_IFLNK = 0o120000;

export const isReg = (mode: number): boolean => (mode & S_IFMT) === S_IFREG;
export const isDir = (mode: number): boolean => (mode & S_IFMT) === S_IFDIR;
export const isLnk = (mode: number): boolean => (mode & S_IFMT) === S_IFLNK;

/** One blob of a large file: [offset, size, blobref]. */
export type BlobvecEntry = [number, number, string];

/** The stat fields a fileref carries. */
export interface FileStat {
  mode: number;
  size: number;
  mtime: number;
  ctime: number;
}

/** An RFC 37 object as stored (insertion order = flux-core's key order). */
export type Fileref = Record<string, string | number | BlobvecEntry[] | unknown>;

/** flux-core's relative_path: leading slashes dropped, "." for nothing left. */
export function relativePath(path: string): string {
  const p = path.replace(/^\/+/, '');
  return p.length === 0 ? '.' : p;
}

function nonempty(path: string, encoding: string, data: unknown, st: FileStat): Fileref {
  return { path: relativePath(path), encoding, data, size: st.size, mtime: st.mtime, ctime: st.ctime, mode: st.mode };
}

/** True if `data` is valid UTF-8 without NUL bytes (see the header for the NUL rule). */
export function isInlineUtf8(data: Uint8Array): boolean {
  if (data.includes(0)) return false;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(data);
    return true;
  } catch {
    return false;
  }
}

/** A small regular file, inline. */
export function filerefSmall(path: string, data: Buffer, st: FileStat): Fileref {
  if (isInlineUtf8(data)) return nonempty(path, 'utf-8', data.toString('utf8'), st);
  return nonempty(path, 'base64', data.toString('base64'), st);
}

export function filerefBlobvec(path: string, blobs: BlobvecEntry[], st: FileStat): Fileref {
  return nonempty(path, 'blobvec', blobs, st);
}

/** A regular file without data: size 0, or all hole (size kept, so extraction recreates it sparse). */
export function filerefEmpty(path: string, st: FileStat): Fileref {
  return { path: relativePath(path), size: st.size, mtime: st.mtime, ctime: st.ctime, mode: st.mode };
}

export function filerefDir(path: string, st: FileStat): Fileref {
  return { path: relativePath(path), mtime: st.mtime, ctime: st.ctime, mode: st.mode };
}

export function filerefSymlink(path: string, target: string, st: FileStat): Fileref {
  return { path: relativePath(path), data: target, mtime: st.mtime, ctime: st.ctime, mode: st.mode };
}

/** A decoded, type-checked entry. */
export interface Entry {
  path: string;
  mode: number;
  size?: number;
  mtime?: number;
  ctime?: number;
  kind: 'file' | 'dir' | 'symlink';
  /** Regular files: the bytes to write at offset 0 (inline encodings). */
  inline?: Buffer;
  /** Regular files: blobs to fetch and write at their offsets. */
  blobs?: BlobvecEntry[];
  /** Symlinks: the target. */
  target?: string;
}

const fail = (text: string): never => {
  throw new FluxError(errno.EINVAL, text);
};

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

/**
 * Decode one archive entry (extract_file()'s checks and messages). `path` is the dictionary key
 * for RFC 37's object form; a "path" member overrides it.
 */
export function decodeFileref(o: unknown, keyPath?: string): Entry {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return fail('error decoding fileref object: expected object');
  const f = o as Record<string, unknown>;
  const path = f.path ?? keyPath;
  if (typeof path !== 'string') return fail('error decoding fileref object: path');
  if (!isInt(f.mode)) return fail("error decoding fileref object: Object item not found: mode");
  for (const k of ['size', 'mtime', 'ctime'] as const) {
    if (f[k] !== undefined && !isInt(f[k])) return fail(`error decoding fileref object: ${k}`);
  }
  if (f.encoding !== undefined && typeof f.encoding !== 'string') return fail('error decoding fileref object: encoding');
  const mode = f.mode;
  const e: Entry = { path, mode, kind: 'file', size: f.size as number | undefined, mtime: f.mtime as number | undefined, ctime: f.ctime as number | undefined };
  if (isLnk(mode)) {
    if (typeof f.data !== 'string') return fail(`${path}: missing symlink data`);
    return { ...e, kind: 'symlink', target: f.data };
  }
  if (isDir(mode)) return { ...e, kind: 'dir' };
  if (!isReg(mode)) return fail(`${path}: unknown file type (mode=0${mode.toString(8)})`);
  if (e.size !== undefined && e.size < 0) return fail(`${path}: invalid size`);
  if (f.data === undefined || f.data === null) return e;
  const enc = f.encoding;
  if (enc === undefined) {
    // RFC 37: JSON file content may be stored as JSON; written back compact.
    return { ...e, inline: Buffer.from(JSON.stringify(f.data), 'utf8') };
  }
  if (enc === 'utf-8') {
    if (typeof f.data !== 'string') return fail(`${path}: unexpected data type for utf8`);
    return { ...e, inline: Buffer.from(f.data, 'utf8') };
  }
  if (enc === 'base64') {
    if (typeof f.data !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(f.data)) return fail(`${path}: could not decode base64 file data`);
    return { ...e, inline: Buffer.from(f.data, 'base64') };
  }
  if (enc === 'blobvec') {
    if (!Array.isArray(f.data)) return fail(`${path}: error decoding blobvec entry`);
    const blobs: BlobvecEntry[] = [];
    for (const b of f.data as unknown[]) {
      if (!Array.isArray(b) || b.length !== 3 || !isInt(b[0]) || !isInt(b[1]) || !isBlobref(b[2]) || b[0] < 0 || b[1] < 0) {
        return fail(`${path}: error decoding blobvec entry`);
      }
      if (e.size !== undefined && b[0] + b[1] > e.size) return fail(`${path}: blobvec entry exceeds file size`);
      blobs.push([b[0], b[1], b[2]]);
    }
    return { ...e, blobs };
  }
  return fail(`${path}: unknown RFC 37 encoding ${enc}`);
}

/** fileref_pretty_print(): `path`, or with `long` `T 0MMM     SIZE path` (size %8ju). */
export function prettyPrint(o: unknown, long: boolean): string {
  if (typeof o !== 'object' || o === null) return 'invalid fileref';
  const f = o as Record<string, unknown>;
  if (typeof f.path !== 'string' || !isInt(f.mode) || (f.size !== undefined && !isInt(f.size))) return 'invalid fileref';
  if (!long) return f.path;
  const mode = f.mode;
  const t = isReg(mode) ? 'f' : isLnk(mode) ? 'l' : isDir(mode) ? 'd' : '?';
  const size = (f.size as number | undefined) ?? 0;
  return `${t} 0${(mode & 0o777).toString(8)} ${String(size).padStart(8)} ${f.path}`;
}

/**
 * parse_size(): an integer (C base prefixes) or a decimal, with an optional k/K/M/G/T/P/E
 * suffix (powers of 1024). Throws EINVAL, as flux-core does, for anything else.
 */
export function parseSize(s: string): number {
  const scales: Record<string, number> = { '': 1, k: 1024, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4, P: 1024 ** 5, E: 1024 ** 6 };
  const m = /^\s*(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?)([a-zA-Z]*)$/.exec(s);
  if (!m || s.includes('-') && !/[eE]-/.test(s) || !(m[2] in scales)) throw new FluxError(errno.EINVAL);
  const t = m[1];
  const n = /^0[xX]/.test(t) ? parseInt(t, 16) : /^0[0-7]+$/.test(t) ? parseInt(t, 8) : Number(t);
  if (!Number.isFinite(n) || n < 0) throw new FluxError(errno.EINVAL);
  return Math.floor(n * scales[m[2]]);
}

/** encode_size(): `%.8g` of the value in the largest 1024 unit, e.g. 2G. */
export function encodeSize(n: number): string {
  const suffix = ['', 'K', 'M', 'G', 'T', 'P', 'E'];
  let v = n;
  let i = 0;
  while (v >= 1024) {
    v /= 1024;
    i++;
  }
  return `${Number(v.toPrecision(8))}${suffix[i]}`;
}
