/**
 * `flux archive create [-n NAME] [-C DIR] [--overwrite|--append] [--preserve] [--mmap]
 * [--chunksize N] [--small-file-threshold N] [--no-force-primary] [-v] PATH...`: walk PATHs
 * (directories depth first, contents before the directory, as flux-core's dirwalk does), build
 * one RFC 37 fileref per file, store large files' blobs in the content store, and commit the
 * array at archive.NAME in one KVS commit.
 *
 * Large files are read a chunk at a time (never whole), each chunk hashed and stored with a few
 * stores in flight, so memory stays at a few chunks whatever the file size. Sparse files: Node has
 * no lseek(SEEK_DATA), so for a file with fewer allocated blocks than its size we skip all-zero
 * 4 KiB blocks instead; extraction then leaves holes there, the bytes read back identical.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FluxError, errno } from '../common/libflux/errno';
import type { Flux } from '../common/libflux/handle';
import { blobrefHash, digestToBlobref, isHashName, type HashName } from '../common/libcontent/blobref';
import * as kvs from '../common/libkvs/client';
import { createValref } from '../common/libkvs/treeobj';
import type { JsonValue } from '../common/libkvs/jansson';
import { has, last } from '../common/liboptparse/optparse';
import {
  encodeSize, filerefBlobvec, filerefDir, filerefEmpty, filerefSmall, filerefSymlink, parseSize,
  type BlobvecEntry, type FileStat, type Fileref,
} from '../common/libfilemap/fileref';
import { die, errText, open, out, usageExit } from './cli';
import { archiveName, archiveNamespace, errMessage, requireOwner, unlinkArchive, unmapArchive, verbosity, type Invocation } from './archive';

const BLOCK = 4096;
/** Blob stores in flight per file: enough to keep the broker busy, few enough to bound memory. */
const STORE_WINDOW = 4;

interface Ctx {
  h: Flux;
  prog: string;
  name: string;
  hash: HashName;
  chunksize: number;
  threshold: number;
  mmap: boolean;
  preserve: boolean;
  verbose: number;
  archive: JsonValue[];
  txn: kvs.KvsTxn;
  preserveSeq: number;
  /** The -C directory: every path is read relative to it, as after flux-core's chdir. */
  base: string;
}

function sizeOption(inv: Invocation, name: string, dflt: string): number {
  const s = last(inv.o, name) ?? dflt;
  const p = inv.parser.prog;
  let v: number;
  try {
    v = parseSize(s);
  } catch (e) {
    die(p, `invalid argument for option '${name}': ${s}: ${errText(e)}`);
  }
  if (v > 0x7fffffff) die(p, `${name}: value ${s} too large (must be < ${encodeSize(0x80000000)})`);
  return v;
}

export async function create(inv: Invocation): Promise<void> {
  const { o, prog } = inv;
  if (o.args.length === 0) usageExit(inv.parser);
  const name = archiveName(inv);
  const ns = archiveNamespace(inv);
  const chunksize = sizeOption(inv, 'chunksize', '1M');
  const threshold = sizeOption(inv, 'small-file-threshold', '1K');
  let verbose: number;
  try {
    verbose = verbosity(o);
  } catch {
    die(inv.parser.prog, "Option 'verbose' requires an integer argument");
  }
  const h = await open(prog);
  try {
    const mmap = has(o, 'mmap') || (inv.filemapVerb === 'map' && !has(o, 'disable-mmap'));
    if (mmap) {
      if ((await h.getRank()) > 0) die(prog, '--mmap only works on the rank 0 broker');
      if (has(o, 'preserve')) die(prog, '--mmap cannot work with --preserve');
      if (has(o, 'no-force-primary')) die(prog, '--mmap cannot work with --no-force-primary');
    }
    if (has(o, 'overwrite') && has(o, 'append')) die(prog, '--overwrite and --append cannot be used together');
    await requireOwner(h, prog, 'create');
    let hashName = 'sha1';
    try {
      hashName = await h.getattr('content.hash');
    } catch {
      // flux-core falls back to sha1 when the attribute is not set
    }
    if (!isHashName(hashName)) die(prog, `unknown content.hash ${hashName}`);
    const dir = last(o, 'directory');
    const base = dir !== undefined ? path.resolve(dir) : process.cwd();
    if (dir !== undefined) {
      try {
        if (!(await fs.promises.stat(base)).isDirectory()) throw new FluxError(errno.ENOTDIR);
      } catch (e) {
        die(prog, `chdir ${dir}: ${errText(FluxError.fromNode(e))}`);
      }
    }
    const key = `archive.${name}`;
    let existing: JsonValue[] | undefined;
    if (has(o, 'overwrite')) {
      await unlinkArchive(h, prog, ns, name, true);
      await unmapArchive(h, prog, name);
    } else {
      let value: unknown;
      let found = false;
      try {
        value = (await kvs.lookup(h, key, { namespace: ns })).json();
        found = true;
      } catch {
        // no archive by that name (or not JSON): flux-core treats both as absent
      }
      if (found) {
        if (!has(o, 'append')) die(prog, `${key}: key exists`);
        if (!Array.isArray(value)) die(prog, `${key}: not an RFC 37 archive array`);
        existing = value as JsonValue[];
      }
    }
    const ctx: Ctx = {
      h, prog, name, hash: hashName, chunksize, threshold, mmap, preserve: has(o, 'preserve'), verbose,
      archive: existing ?? [], txn: new kvs.KvsTxn(), preserveSeq: 0, base,
    };
    if (ctx.preserve && existing) ctx.preserveSeq = await countPreserved(h, ns, key);
    for (const p of o.args) {
      let st: fs.Stats;
      try {
        st = await fs.promises.lstat(path.resolve(base, p));
      } catch (e) {
        die(prog, `${p}: ${errText(FluxError.fromNode(e))}`);
      }
      if (st.isDirectory()) await walk(ctx, p);
      else await addFile(ctx, p);
    }
    ctx.txn.putJson(key, ctx.archive);
    try {
      await kvs.commit(h, ctx.txn, { namespace: ns });
    } catch (e) {
      die(prog, `kvs commit: ${errMessage(e)}`);
    }
  } finally {
    h.close();
  }
}

/** --append --preserve: continue archive.NAME_blobs.<i> numbering after what is there. */
async function countPreserved(h: Flux, ns: string, key: string): Promise<number> {
  try {
    const dir = (await kvs.lookup(h, `${key}_blobs`, { namespace: ns, flags: kvs.FLUX_KVS_READDIR })).dir();
    return Math.max(-1, ...dir.keys().map(Number).filter(Number.isInteger)) + 1;
  } catch {
    return 0;
  }
}

/** dirwalk(DIRWALK_FIND_DIR|DIRWALK_DEPTH): contents first (sorted, for a stable archive), then the directory. */
async function walk(ctx: Ctx, p: string): Promise<void> {
  let names: string[];
  try {
    names = (await fs.promises.readdir(path.resolve(ctx.base, p))).sort();
  } catch (e) {
    die(ctx.prog, `${p}: ${errText(FluxError.fromNode(e))}`);
  }
  for (const n of names) {
    const child = `${p.replace(/\/+$/, '') || '/'}/${n}`.replace(/^\/\//, '/');
    let st: fs.Stats;
    try {
      st = await fs.promises.lstat(path.resolve(ctx.base, child));
    } catch (e) {
      die(ctx.prog, `${child}: ${errText(FluxError.fromNode(e))}`);
    }
    if (st.isDirectory()) await walk(ctx, child);
    else await addFile(ctx, child);
  }
  if (p !== '.') await addFile(ctx, p);
}

function statOf(st: fs.Stats): FileStat {
  return { mode: st.mode, size: st.size, mtime: Math.floor(st.mtimeMs / 1000), ctime: Math.floor(st.ctimeMs / 1000) };
}

/** fileref_create_ex() and the blob stores: one entry appended to the archive. */
async function addFile(ctx: Ctx, p: string): Promise<void> {
  if (ctx.verbose > 0) out.write(`${p}\n`);
  const full = path.resolve(ctx.base, p);
  let fh: fs.promises.FileHandle | undefined;
  try {
    const c = fs.constants;
    fh = await fs.promises.open(full, c.O_RDONLY | c.O_NOFOLLOW | c.O_NONBLOCK);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ELOOP') die(ctx.prog, `${p}: ${errText(FluxError.fromNode(e))}`);
  }
  try {
    if (!fh) {
      const st = await fs.promises.lstat(full);
      if (!st.isSymbolicLink()) die(ctx.prog, `${p}: unsupported file type`);
      let target: string;
      try {
        target = await fs.promises.readlink(full);
      } catch (e) {
        die(ctx.prog, `readlink ${p}: ${errText(FluxError.fromNode(e))}`);
      }
      ctx.archive.push(filerefSymlink(p, target, statOf(st)) as JsonValue);
      return;
    }
    const st = await fh.stat();
    const fst = statOf(st);
    let ref: Fileref;
    if (st.isDirectory()) ref = filerefDir(p, fst);
    else if (!st.isFile()) die(ctx.prog, `${p}: unsupported file type`);
    else if (st.size === 0) ref = filerefEmpty(p, fst);
    else if (st.size > ctx.threshold) {
      const blobs = await blobvec(ctx, p, fh, st);
      ref = blobs.length === 0 ? filerefEmpty(p, fst) : filerefBlobvec(p, blobs, fst);
      if (blobs.length > 0 && ctx.mmap) await mmapAdd(ctx, p, full);
    } else {
      const data = Buffer.alloc(st.size);
      const { bytesRead } = await fh.read(data, 0, st.size, 0);
      if (bytesRead < st.size) die(ctx.prog, `${p}: short read`);
      ref = isSparse(st) && !data.some((b) => b !== 0) ? filerefEmpty(p, fst) : filerefSmall(p, data, fst);
    }
    ctx.archive.push(ref as JsonValue);
  } finally {
    await fh?.close();
  }
}

/** Fewer blocks allocated than the size needs: there are holes worth skipping. */
function isSparse(st: fs.Stats): boolean {
  return st.blocks * 512 < st.size;
}

function allZero(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

/** Offset of the first data (not all-zero) block at or after `from`, or -1; reads `buf`-sized windows. */
async function nextData(fh: fs.promises.FileHandle, from: number, size: number, buf: Buffer): Promise<number> {
  let off = from;
  while (off < size) {
    const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, size - off), off);
    if (bytesRead === 0) return -1;
    for (let i = 0; i < bytesRead; i += BLOCK) {
      if (!allZero(buf.subarray(i, Math.min(i + BLOCK, bytesRead)))) return off + i;
    }
    off += bytesRead;
  }
  return -1;
}

/**
 * blobvec_create() and store_fileref_data(): cut the file into chunks (at most `chunksize`, split
 * at holes), hash each, and (unless --mmap) store it, STORE_WINDOW stores in flight.
 */
async function blobvec(ctx: Ctx, p: string, fh: fs.promises.FileHandle, st: fs.Stats): Promise<BlobvecEntry[]> {
  const size = st.size;
  const chunk = ctx.chunksize === 0 ? size : Math.min(ctx.chunksize, size);
  const sparse = isSparse(st);
  const scan = sparse ? Buffer.allocUnsafe(Math.max(BLOCK, Math.min(chunk, 1 << 20))) : undefined;
  const blobs: BlobvecEntry[] = [];
  const inflight = new Set<Promise<void>>();
  let failure: unknown;
  let off = 0;
  while (off < size) {
    if (scan) {
      off = await nextData(fh, off, size, scan);
      if (off < 0) break;
    }
    let len = Math.min(chunk, size - off);
    const buf = Buffer.allocUnsafe(len);
    const { bytesRead } = await fh.read(buf, 0, len, off);
    if (bytesRead < len) die(ctx.prog, `${p}: short read`);
    if (scan) {
      // The blob ends at the next hole (block aligned, as SEEK_HOLE would say).
      for (let i = off % BLOCK === 0 ? BLOCK : BLOCK - (off % BLOCK); i < len; i += BLOCK) {
        if (allZero(buf.subarray(i, Math.min(i + BLOCK, len)))) {
          len = i;
          break;
        }
      }
    }
    const data = buf.subarray(0, len);
    const blobref = blobrefHash(ctx.hash, data);
    blobs.push([off, len, blobref]);
    if (!ctx.mmap) {
      const s: Promise<void> = storeBlob(ctx, data, blobref).catch((e: unknown) => {
        failure ??= e;
      }).finally(() => inflight.delete(s));
      inflight.add(s);
      if (inflight.size >= STORE_WINDOW) await Promise.race(inflight);
      if (failure !== undefined) break;
    }
    off += len;
  }
  await Promise.all(inflight);
  if (failure !== undefined) die(ctx.prog, `${p}: error storing blob: ${errMessage(failure)}`);
  return blobs;
}

async function storeBlob(ctx: Ctx, data: Buffer, blobref: string): Promise<void> {
  // One valref per blob, as flux-core does: a dump/restore may re-chunk differently. Numbered
  // in file order, before the store answers.
  if (ctx.preserve) ctx.txn.putTreeobj(`archive.${ctx.name}_blobs.${ctx.preserveSeq++}`, createValref(blobref));
  const digest = await ctx.h.rpc('content.store', data).getRaw();
  if (!digest || digestToBlobref(ctx.hash, digest) !== blobref) throw new FluxError(errno.EPROTO);
}

/**
 * --mmap: ask rank 0's content module to map the file (content.mmap-add), so the blobs named
 * above are served from the file itself. Our content module does not implement it yet: say so.
 */
async function mmapAdd(ctx: Ctx, p: string, full: string): Promise<void> {
  const real = await fs.promises.realpath(full);
  try {
    await ctx.h.rpc('content.mmap-add', { path: real, chunksize: ctx.chunksize, tag: ctx.name }, { nodeid: 0 }).response();
  } catch (e) {
    if (e instanceof FluxError && e.errnum === errno.ENOSYS) {
      die(ctx.prog, `${p}: --mmap: the content module does not serve content.mmap-add (${e.strerror}); create the archive without --mmap`);
    }
    die(ctx.prog, `${p}: ${errMessage(e)}`);
  }
}
