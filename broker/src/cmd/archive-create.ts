/**
 * `flux archive create [-n NAME] [-C DIR] [--overwrite|--append] [--preserve] [--mmap]
 * [--chunksize N] [--small-file-threshold N] [--no-force-primary] [-v] PATH...`: walk PATHs
 * (directories depth first, contents before the directory, as flux-core's dirwalk does), build
 * one RFC 37 fileref per file, store large files' blobs in the content store (or, with --mmap,
 * have rank 0's content module map the file), and commit the array at archive.NAME in one KVS
 * commit.
 *
 * Speed: flux-core does one file, and one blob, at a time; a round trip each is cheap in C but
 * made 1,000 small files take a second here. So up to FILE_WIDTH files are in hand at once,
 * their blobs leave together as content.store-batch requests (StoreBatcher), and the few
 * questions asked before the walk go out together. Files are read a chunk at a time (never
 * whole, unless small), with bounded stores in flight, so memory stays bounded whatever the
 * sizes. The archive keeps the walk's order whatever order the files finish in.
 *
 * Sparse files: Node has no lseek(SEEK_DATA), so for a file with fewer allocated blocks than its
 * size we skip all-zero 4 KiB blocks instead (libfilemap/blobvec.ts); extraction then leaves
 * holes there, the bytes read back identical.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FluxError, errno } from '../common/libflux/errno';
import type { Flux } from '../common/libflux/handle';
import { blobrefHash, digestToBlobref, hashDigestSize, isHashName, type HashName } from '../common/libcontent/blobref';
import { encodeBlobBatch } from '../modules/content/batch';
import * as kvs from '../common/libkvs/client';
import { createValref } from '../common/libkvs/treeobj';
import type { JsonValue } from '../common/libkvs/jansson';
import { has, last } from '../common/liboptparse/optparse';
import {
  encodeSize, filerefBlobvec, filerefDir, filerefEmpty, filerefSmall, filerefSymlink, parseSize,
  type BlobvecEntry, type FileStat, type Fileref,
} from '../common/libfilemap/fileref';
import { ShortReadError, isSparse, memoryChunks, readChunks } from '../common/libfilemap/blobvec';
import { Limiter, runOrdered } from '../common/libfilemap/pool';
import { die, errText, open, out, usageExit } from './cli';
import { archiveName, archiveNamespace, errMessage, requireOwner, unlinkArchive, unmapArchive, verbosity, type Invocation } from './archive';

/** Files read at once: their opens, reads and stores overlap instead of waiting in turn. */
const FILE_WIDTH = 32;
/** content.store requests in flight, and their bytes: enough to keep the broker busy, bounded memory. */
const STORE_WINDOW = 256;
const STORE_BYTES = 32 * 1024 * 1024;
/** A store batch stops growing at this many blobs or bytes. */
const BATCH_COUNT = 256;
const BATCH_BYTES = 4 * 1024 * 1024;
/** Files up to this size (without holes) are read whole, synchronously. */
const SYNC_READ_MAX = 64 * 1024;

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
    const key = `archive.${name}`;
    // Independent questions, asked together (each is a round trip): who owns the instance, its
    // hash (flux-core falls back to sha1 when unset), and whether the archive exists already.
    const [, hashName, found] = await Promise.all([
      requireOwner(h, prog, 'create'),
      h.getattr('content.hash').catch(() => 'sha1'),
      has(o, 'overwrite')
        ? undefined
        : kvs.lookup(h, key, { namespace: ns }).then((r) => ({ value: r.json() as unknown }), () => undefined),
    ]);
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
    let existing: JsonValue[] | undefined;
    if (has(o, 'overwrite')) {
      await unlinkArchive(h, prog, ns, name, true);
      await unmapArchive(h, prog, name);
    } else {
      // (no archive by that name, or not JSON: flux-core treats both as absent)
      if (found) {
        if (!has(o, 'append')) die(prog, `${key}: key exists`);
        if (!Array.isArray(found.value)) die(prog, `${key}: not an RFC 37 archive array`);
        existing = found.value as JsonValue[];
      }
    }
    const ctx: Ctx = {
      h, prog, name, hash: hashName, chunksize, threshold, mmap, preserve: has(o, 'preserve'), verbose,
      archive: existing ?? [], base,
      stores: new Limiter(STORE_WINDOW), storeBytes: new Limiter(STORE_BYTES), mmapSent: [], markSent: [],
      batcher: new StoreBatcher(h, hashDigestSize(hashName)),
    };
    const paths: string[] = [];
    for (const p of o.args) {
      let st: fs.Stats;
      try {
        st = await fs.promises.lstat(path.resolve(base, p));
      } catch (e) {
        die(prog, `${p}: ${errText(FluxError.fromNode(e))}`);
      }
      if (st.isDirectory()) await walk(ctx, p, paths);
      else paths.push(p);
    }
    const refs: Fileref[] = new Array<Fileref>(paths.length);
    ctx.mmapSent = paths.map(() => new Promise<void>((resolve) => ctx.markSent.push(resolve)));
    try {
      await runOrdered(paths.length, FILE_WIDTH, async (i) => {
        try {
          if (ctx.verbose > 0) out.write(`${paths[i]}\n`);
          refs[i] = await addFile(ctx, paths[i], i);
        } finally {
          ctx.markSent[i]();
        }
      });
    } catch (e) {
      if (e instanceof CreateError) die(prog, e.message);
      throw e;
    }
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
      die(prog, `kvs commit: ${errMessage(e)}`);
    }
  } finally {
    h.close();
  }
}

/** An error met while archiving one file: reported (once, for the first file in order) by create(). */
class CreateError extends Error {}

function fail(msg: string): never {
  throw new CreateError(msg);
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
    die(ctx.prog, `${p}: ${errText(FluxError.fromNode(e))}`);
  }
  for (const ent of ents) {
    const child = `${p.replace(/\/+$/, '') || '/'}/${ent.name}`.replace(/^\/\//, '/');
    let isDir = ent.isDirectory();
    if (!isDir && !ent.isFile() && !ent.isSymbolicLink() && !ent.isFIFO() && !ent.isSocket() && !ent.isCharacterDevice() && !ent.isBlockDevice()) {
      try {
        isDir = (await fs.promises.lstat(path.resolve(ctx.base, child))).isDirectory();
      } catch (e) {
        die(ctx.prog, `${child}: ${errText(FluxError.fromNode(e))}`);
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
    if (e instanceof CreateError) throw e;
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
 * Blob stores, gathered: the blobs of one turn of the event loop (every file in flight adds
 * its own) leave in one `content.store-batch` to rank 0 (ours: [u32 len][blob]... -> digests;
 * modules/content/batch.ts) instead of one message each. A broker without it (flux-core's:
 * ENOSYS), or a batch refused as a whole, falls back to one content.store per blob, so each
 * blob gets its own answer. Rank 0 is where a store ends up in any case (ranks > 0 write
 * through), so skipping the local rank's cache loses nothing.
 */
class StoreBatcher {
  private queue: { data: Buffer; resolve: (d: Buffer) => void; reject: (e: unknown) => void }[] = [];
  private bytes = 0;
  private scheduled = false;
  private batchOk = true;

  constructor(private readonly h: Flux, private readonly digestSize: number) {}

  store(data: Buffer): Promise<Buffer> {
    if (!this.batchOk) return this.single(data);
    return new Promise((resolve, reject) => {
      this.queue.push({ data, resolve, reject });
      this.bytes += data.length;
      if (this.queue.length >= BATCH_COUNT || this.bytes >= BATCH_BYTES) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private async single(data: Buffer): Promise<Buffer> {
    const d = await this.h.rpc('content.store', data).getRaw();
    if (!d) throw new FluxError(errno.EPROTO);
    return d;
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    this.bytes = 0;
    if (batch.length === 0) return;
    const perBlob = (): void => {
      for (const b of batch) this.single(b.data).then(b.resolve, b.reject);
    };
    if (batch.length === 1 || !this.batchOk) {
      perBlob();
      return;
    }
    this.h.rpc('content.store-batch', encodeBlobBatch(batch.map((b) => b.data)), { nodeid: 0 }).getRaw().then((digests) => {
      const n = this.digestSize;
      if (!digests || digests.length !== n * batch.length) throw new FluxError(errno.EPROTO);
      batch.forEach((b, i) => b.resolve(digests.subarray(i * n, (i + 1) * n)));
    }).catch((e: unknown) => {
      if (e instanceof FluxError && e.errnum === errno.ENOSYS) this.batchOk = false;
      perBlob();
    });
  }
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
