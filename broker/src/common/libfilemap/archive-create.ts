/**
 * Making an RFC 37 archive (flux-archive(1) create), as a library: the `flux archive create`
 * command and the extension's "Create Archive…" both call createArchive(). Walk the paths
 * (directories depth first, contents before the directory, as flux-core's dirwalk does), build
 * one fileref per file, store large files' blobs in the content store (or, with `mmap`, have
 * rank 0's content module map the file), and commit the array at archive.NAME in one KVS commit.
 *
 * Speed: flux-core does one file, and one blob, at a time; a round trip each is cheap in C but
 * made 1,000 small files take a second here. So up to FILE_WIDTH files are in hand at once,
 * their blobs leave together as content.store-batch requests (StoreBatcher), and the few
 * questions asked before the walk go out together. Files are read a chunk at a time (never
 * whole, unless small), with bounded stores in flight, so memory stays bounded whatever the
 * sizes. The archive keeps the walk's order whatever order the files finish in.
 *
 * Sparse files: Node has no lseek(SEEK_DATA), so for a file with fewer allocated blocks than its
 * size we skip all-zero 4 KiB blocks instead (blobvec.ts); extraction then leaves holes there,
 * the bytes read back identical.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FluxError, errno } from '../libflux/errno';
import type { Flux } from '../libflux/handle';
import { blobrefHash, digestToBlobref, hashDigestSize, isHashName, type HashName } from '../libcontent/blobref';
import * as kvs from '../libkvs/client';
import { createValref } from '../libkvs/treeobj';
import type { JsonValue } from '../libkvs/jansson';
import { filerefBlobvec, filerefDir, filerefEmpty, filerefSmall, filerefSymlink, type BlobvecEntry, type FileStat, type Fileref } from './fileref';
import { ShortReadError, isSparse, memoryChunks, readChunks } from './blobvec';
import { Limiter, runOrdered } from './pool';
import { ArchiveError, errMessage, errText } from './archive-errors';
import { requireOwner, unlinkArchive, unmapArchive } from './archive-admin';
import { StoreBatcher } from './store-batcher';

export interface ArchiveCreateOptions {
  /** archive.NAME */
  name: string;
  /** KVS namespace (flux archive: primary unless --no-force-primary). */
  namespace: string;
  /** Absolute directory the paths are relative to (-C). */
  base: string;
  paths: string[];
  /** Replace an archive of that name (and unmap its files). */
  overwrite?: boolean;
  /** Add to an archive of that name. */
  append?: boolean;
  /** Keep one valref per blob at archive.NAME_blobs (a dump/restore keeps the blobs). */
  preserve?: boolean;
  /** Large files served from rank 0's file (content.mmap-add) instead of copied. */
  mmap?: boolean;
  /** Blob size (default 1 MiB) and the size up to which files are inlined (default 1 KiB). */
  chunksize?: number;
  threshold?: number;
  /** Each path as it is archived (flux archive create -v). */
  onFile?(path: string): void;
  /** Something went wrong that does not stop the creation (flux-core prints and goes on). */
  onWarning?(message: string): void;
}

/** Files read at once: their opens, reads and stores overlap instead of waiting in turn. */
const FILE_WIDTH = 32;
/** content.store requests in flight, and their bytes: enough to keep the broker busy, bounded memory. */
const STORE_WINDOW = 256;
const STORE_BYTES = 32 * 1024 * 1024;
/** Files up to this size (without holes) are read whole, synchronously. */
const SYNC_READ_MAX = 64 * 1024;

interface Ctx {
  h: Flux;
  name: string;
  hash: HashName;
  chunksize: number;
  threshold: number;
  mmap: boolean;
  preserve: boolean;
  archive: JsonValue[];
  /** The -C directory: every path is read relative to it, as after flux-core's chdir. */
  base: string;
  stores: Limiter;
  storeBytes: Limiter;
  batcher: StoreBatcher;
  /**
   * Per archive entry: settled once its mmap-add (if any) is sent (or it needs none, or it
   * failed). mmap-adds are sent in archive order, not awaited one by one: rank 0 keeps the
   * order in which they arrive (modules/content/mmap.ts).
   */
  mmapSent: Promise<void>[];
  markSent: (() => void)[];
}

function fail(msg: string): never {
  throw new ArchiveError(msg);
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

/**
 * dirwalk(DIRWALK_FIND_DIR|DIRWALK_DEPTH): the paths under `p`, contents first (sorted, for a
 * stable archive), then the directory. The directory entries' types say what to descend into
 * (they do not follow symlinks, as lstat); only an unknown type costs an lstat.
 */
async function walk(ctx: Ctx, p: string, paths: string[]): Promise<void> {
  let ents: fs.Dirent[];
  try {
    ents = (await fs.promises.readdir(path.resolve(ctx.base, p), { withFileTypes: true })).sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
  } catch (e) {
    fail(`${p}: ${errText(FluxError.fromNode(e))}`);
  }
  for (const ent of ents) {
    const child = `${p.replace(/\/+$/, '') || '/'}/${ent.name}`.replace(/^\/\//, '/');
    let isDir = ent.isDirectory();
    if (!isDir && !ent.isFile() && !ent.isSymbolicLink() && !ent.isFIFO() && !ent.isSocket() && !ent.isCharacterDevice() && !ent.isBlockDevice()) {
      try {
        isDir = (await fs.promises.lstat(path.resolve(ctx.base, child))).isDirectory();
      } catch (e) {
        fail(`${child}: ${errText(FluxError.fromNode(e))}`);
      }
    }
    if (isDir) await walk(ctx, child, paths);
    else paths.push(child);
  }
  if (p !== '.') paths.push(p);
}

function statOf(st: fs.Stats): FileStat {
  return { mode: st.mode, size: st.size, mtime: Math.floor(st.mtimeMs / 1000), ctime: Math.floor(st.ctimeMs / 1000) };
}

/**
 * fileref_create_ex() and the blob stores of archive entry `i`. The open, fstat and small reads
 * are synchronous: this is a command, not a server, and for a few KiB the thread-pool round trip
 * costs more than the system call (1,000 small files: half the time of create). Large files are
 * read asynchronously, a chunk at a time, while the stores of other files are in flight.
 */
async function addFile(ctx: Ctx, p: string, i: number): Promise<Fileref> {
  const full = path.resolve(ctx.base, p);
  let fd: number | undefined;
  try {
    const c = fs.constants;
    fd = fs.openSync(full, c.O_RDONLY | c.O_NOFOLLOW | c.O_NONBLOCK);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ELOOP') fail(`${p}: ${errText(FluxError.fromNode(e))}`);
  }
  try {
    if (fd === undefined) {
      const st = fs.lstatSync(full);
      if (!st.isSymbolicLink()) fail(`${p}: unsupported file type`);
      let target: string;
      try {
        target = fs.readlinkSync(full);
      } catch (e) {
        fail(`readlink ${p}: ${errText(FluxError.fromNode(e))}`);
      }
      return filerefSymlink(p, target, statOf(st));
    }
    const st = fs.fstatSync(fd);
    const fst = statOf(st);
    if (st.isDirectory()) return filerefDir(p, fst);
    if (!st.isFile()) fail(`${p}: unsupported file type`);
    if (st.size === 0) return filerefEmpty(p, fst);
    if (st.size > ctx.threshold) {
      const blobs = await blobvec(ctx, p, fd, st);
      if (blobs.length > 0 && ctx.mmap) {
        // Sent in archive order, so that rank 0 lists the files as the archive does.
        if (i > 0) await ctx.mmapSent[i - 1];
        await mmapAdd(ctx, p, full, i);
      }
      return blobs.length === 0 ? filerefEmpty(p, fst) : filerefBlobvec(p, blobs, fst);
    }
    const data = readWhole(fd, st.size, p);
    return isSparse(st) && !data.some((b) => b !== 0) ? filerefEmpty(p, fst) : filerefSmall(p, data, fst);
  } catch (e) {
    if (e instanceof ArchiveError) throw e;
    return fail(`${p}: ${errText(FluxError.fromNode(e))}`);
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

function readWhole(fd: number, size: number, p: string): Buffer {
  const data = Buffer.alloc(size);
  let got = 0;
  while (got < size) {
    const n = fs.readSync(fd, data, got, size - got, got);
    if (n === 0) fail(`${p}: short read`);
    got += n;
  }
  return data;
}

/**
 * blobvec_create() and store_fileref_data(): cut the file into chunks (at most `chunksize`, split
 * at holes), hash each, and (unless --mmap) store it. Stores are not awaited one by one: every
 * file's go out together, bounded by STORE_WINDOW requests and STORE_BYTES bytes in flight; the
 * file is done when its own stores are answered.
 */
async function blobvec(ctx: Ctx, p: string, fd: number, st: fs.Stats): Promise<BlobvecEntry[]> {
  const blobs: BlobvecEntry[] = [];
  const inflight: Promise<void>[] = [];
  let failure: unknown;
  // A dense file of a few KiB is read at once, synchronously (see addFile); others a chunk at a time.
  const chunks = st.size <= SYNC_READ_MAX && !isSparse(st) ? memoryChunks(readWhole(fd, st.size, p), ctx.chunksize) : readChunks(fd, st.size, ctx.chunksize, isSparse(st));
  try {
    for await (const { offset, data } of chunks) {
      const blobref = blobrefHash(ctx.hash, data);
      blobs.push([offset, data.length, blobref]);
      if (ctx.mmap) continue;
      const n = data.length;
      await ctx.storeBytes.acquire(n);
      await ctx.stores.acquire();
      inflight.push(storeBlob(ctx, data, blobref).catch((e: unknown) => {
        failure ??= e;
      }).finally(() => {
        ctx.stores.release();
        ctx.storeBytes.release(n);
      }));
      if (failure !== undefined) break;
    }
  } catch (e) {
    await Promise.all(inflight);
    if (e instanceof ShortReadError) fail(`${p}: short read`);
    fail(`${p}: ${errText(FluxError.fromNode(e))}`);
  }
  await Promise.all(inflight);
  if (failure !== undefined) fail(`${p}: error storing blob: ${errMessage(failure)}`);
  return blobs;
}

async function storeBlob(ctx: Ctx, data: Buffer, blobref: string): Promise<void> {
  const digest = await ctx.batcher.store(data);
  if (digestToBlobref(ctx.hash, digest) !== blobref) throw new FluxError(errno.EPROTO);
}


/**
 * --mmap: ask rank 0's content module to map the file (content.mmap-add, tagged with the archive
 * name), so that the blobs named above are served from the file itself, not copied. It cuts the
 * file as we did (libfilemap/blobvec.ts) with the same chunksize, so the blobrefs agree.
 */
async function mmapAdd(ctx: Ctx, p: string, full: string, i: number): Promise<void> {
  let real: string;
  try {
    real = fs.realpathSync(full);
  } catch (e) {
    fail(`${p}: ${errText(FluxError.fromNode(e))}`);
  }
  const rpc = ctx.h.rpc('content.mmap-add', { path: real, chunksize: ctx.chunksize, tag: ctx.name }, { nodeid: 0 });
  ctx.markSent[i]();
  try {
    await rpc.response();
  } catch (e) {
    fail(`${p}: ${errMessage(e)}`);
  }
}

/** Make archive.NAME from `o.paths`; resolves to the number of entries it holds. Throws ArchiveError. */
export async function createArchive(h: Flux, o: ArchiveCreateOptions): Promise<number> {
  const warn = o.onWarning ?? (() => {});
  const { name, namespace: ns } = o;
  const mmap = o.mmap === true;
  if (mmap) {
    if ((await h.getRank()) > 0) fail('--mmap only works on the rank 0 broker');
    if (o.preserve) fail('--mmap cannot work with --preserve');
  }
  if (o.overwrite && o.append) fail('--overwrite and --append cannot be used together');
  const key = `archive.${name}`;
  // Independent questions, asked together (each is a round trip): who owns the instance, its
  // hash (flux-core falls back to sha1 when unset), and whether the archive exists already.
  const [, hashName, found] = await Promise.all([
    requireOwner(h, 'create'),
    h.getattr('content.hash').catch(() => 'sha1'),
    o.overwrite
      ? undefined
      : kvs.lookup(h, key, { namespace: ns }).then((r) => ({ value: r.json() as unknown }), () => undefined),
  ]);
  if (!isHashName(hashName)) fail(`unknown content.hash ${hashName}`);
  let existing: JsonValue[] | undefined;
  if (o.overwrite) {
    await unlinkArchive(h, ns, name, true, warn);
    await unmapArchive(h, name, warn);
  } else if (found) {
    // (no archive by that name, or not JSON: flux-core treats both as absent)
    if (!o.append) fail(`${key}: key exists`);
    if (!Array.isArray(found.value)) fail(`${key}: not an RFC 37 archive array`);
    existing = found.value as JsonValue[];
  }
  const ctx: Ctx = {
    h, name, hash: hashName, chunksize: o.chunksize ?? 1024 * 1024, threshold: o.threshold ?? 1024, mmap, preserve: o.preserve === true,
    archive: existing ?? [], base: o.base,
    stores: new Limiter(STORE_WINDOW), storeBytes: new Limiter(STORE_BYTES), mmapSent: [], markSent: [],
    batcher: new StoreBatcher(h, hashDigestSize(hashName)),
  };
  const paths: string[] = [];
  for (const p of o.paths) {
    let st: fs.Stats;
    try {
      st = await fs.promises.lstat(path.resolve(o.base, p));
    } catch (e) {
      fail(`${p}: ${errText(FluxError.fromNode(e))}`);
    }
    if (st.isDirectory()) await walk(ctx, p, paths);
    else paths.push(p);
  }
  const refs: Fileref[] = new Array<Fileref>(paths.length);
  ctx.mmapSent = paths.map(() => new Promise<void>((resolve) => ctx.markSent.push(resolve)));
  await runOrdered(paths.length, FILE_WIDTH, async (i) => {
    try {
      o.onFile?.(paths[i]);
      refs[i] = await addFile(ctx, paths[i], i);
    } finally {
      ctx.markSent[i]();
    }
  });
  const txn = new kvs.KvsTxn();
  if (ctx.preserve) {
    // One valref per blob, as flux-core does (a dump/restore may re-chunk differently),
    // numbered in archive order after those already there.
    let seq = existing ? await countPreserved(h, ns, key) : 0;
    for (const ref of refs) {
      if (ref.encoding !== 'blobvec') continue;
      for (const [, , blobref] of ref.data as BlobvecEntry[]) txn.putTreeobj(`archive.${name}_blobs.${seq++}`, createValref(blobref));
    }
  }
  ctx.archive.push(...(refs as JsonValue[]));
  txn.putJson(key, ctx.archive);
  try {
    await kvs.commit(h, txn, { namespace: ns });
  } catch (e) {
    fail(`kvs commit: ${errMessage(e)}`);
  }
  return ctx.archive.length;
}
