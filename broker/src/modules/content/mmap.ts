/**
 * Files "mapped" into rank 0's content cache (flux-core's content-mmap), for `flux archive create
 * --mmap`: the blobs of a large file are named in the archive but never copied into the cache or
 * the backing store; rank 0 serves content.load of them by reading the file itself.
 *
 *   content.mmap-add {"path","chunksize","tag"} -> {}     path absolute (EINVAL otherwise)
 *   content.mmap-remove {"tag"} (or {"tags":[...]}) -> {} unknown tags are not an error
 *   content.mmap-list {"tag"|"tags","pattern"?,"blobref"?}  streaming: {"files":[...]}... ENODATA
 *
 * How it works, and why:
 *  - mmap-add cuts the file exactly as `flux archive create` does (libfilemap/blobvec.ts, same
 *    chunksize, the instance's hash) so the blobrefs agree, and records digest -> (file, offset,
 *    size). Reading and hashing go a chunk at a time through asynchronous reads: a 200 MB file
 *    does not hold up the broker's event loop (flux-core mmap(2)s and hashes in one go).
 *  - A chunk larger than the module's blob-size-limit (1 GiB; --chunksize=0 on a big file) is
 *    refused with EFBIG before anything is read: it would be read, and sent, whole.
 *  - Node has no mmap(2): a load reads its range from the file (opened by path, read, closed;
 *    concurrent loads of one blob share the read). Nothing is kept: the page cache does that.
 *  - A mapped file may change. As flux-core does, every load re-hashes what it read and
 *    stat(2)s the file at most every 5 s (the size must not have shrunk); a mismatch, a short
 *    read or a vanished file fails that load with EINVAL "mapped file content has changed"
 *    (flux-core's text). No SIGBUS risk here: we read, we never touch mapped pages.
 *  - Files are grouped by tag (the archive name). A digest found in several files is served
 *    from the first mapped; when a tag is removed the index is rebuilt from what remains, so a
 *    blob shared with a file still mapped stays available (flux-core's "plug cache holes").
 *  - On ranks > 0 the three requests fail with flux-core's texts ("content may only be mmapped
 *    on rank 0"); flux-core itself registers them on rank 0 only, so there they are ENOSYS.
 *  - Loads of mapped blobs carry FLAG_USER1 (flux-core's "ephemeral"): such a blob is in no
 *    backing store, so a cache below that holds it must not answer a store of it (cache.ts).
 *  - mmap-list is not in flux-core 0.88 (newer flux-core has it, with tag arrays); we answer
 *    both `tag` and `tags`. With "blobref":true the list gives the blobref of each serialized
 *    fileref (compact JSON plus its NUL, as flux-core encodes it), and those blobs load too.
 */
import * as fs from 'node:fs';
import { FluxError, errno } from '../../common/libflux/errno';
import { FLAG_STREAMING } from '../../common/libflux/message';
import { blobrefHash, blobrefToDigest, hashRaw, type HashName } from '../../common/libcontent/blobref';
import { ShortReadError, isSparse, readChunks } from '../../common/libfilemap/blobvec';
import { filerefBlobvec, relativePath, type BlobvecEntry, type Fileref } from '../../common/libfilemap/fileref';
import { fnmatch } from '../../common/libfilemap/pathsafe';
import { janssonDumps, type JsonValue } from '../../common/libkvs/jansson';
import type { Responder } from '../../broker/service';

/** flux-core's max_check_age: seconds between stat(2) checks of one mapped file. */
const MAX_CHECK_AGE_MS = 5000;
/** Files read at once for loads (each read opens the file): bounds descriptors and memory. */
const MAX_READS = 16;
const MAX_FILEREFS_PER_RESPONSE = 100;
const MAX_BLOBREFS_PER_RESPONSE = 1000;

export const CHANGED = 'mapped file content has changed';

interface Region {
  fullpath: string;
  /** The file's size when it was mapped: it must not shrink. */
  size: number;
  fileref: Fileref;
  blobs: BlobvecEntry[];
  /** The serialized fileref (JSON + NUL) and its blobref, for mmap-list "blobref":true. */
  filerefData: Buffer;
  filerefBlobref: string;
  lastCheck: number;
}

interface Slot {
  region?: Region;
}

/** The mapped regions of a tag's slots (those still being hashed are not mapped yet). */
function regionsOf(slots: readonly Slot[] | undefined): Region[] {
  return (slots ?? []).flatMap((s) => (s.region ? [s.region] : []));
}

/** Where a digest's bytes are: a range of a mapped file, or a region's serialized fileref. */
export interface Place {
  region: Region;
  offset: number;
  size: number;
  inMemory: boolean;
}

function statOf(st: fs.Stats): { mode: number; size: number; mtime: number; ctime: number } {
  return { mode: st.mode, size: st.size, mtime: Math.floor(st.mtimeMs / 1000), ctime: Math.floor(st.ctimeMs / 1000) };
}

// The callback API through libuv's pool: lighter on this thread than fs.promises' FileHandle.
function openAsync(path: string, flags: number): Promise<number> {
  return new Promise((resolve, reject) => fs.open(path, flags, (err, fd) => (err ? reject(err) : resolve(fd))));
}

function fstatAsync(fd: number): Promise<fs.Stats> {
  return new Promise((resolve, reject) => fs.fstat(fd, (err, st) => (err ? reject(err) : resolve(st))));
}

function readAsync(fd: number, buf: Buffer, at: number, len: number, pos: number): Promise<number> {
  return new Promise((resolve, reject) => fs.read(fd, buf, at, len, pos, (err, n) => (err ? reject(err) : resolve(n))));
}

/** flux-core's check_string_array(): a non-empty array of strings, else EPROTO. */
function tagsOf(req: { tag?: unknown; tags?: unknown }): string[] {
  if (typeof req.tag === 'string') return [req.tag];
  const t = req.tags;
  if (Array.isArray(t) && t.length > 0 && t.every((s) => typeof s === 'string')) return t as string[];
  throw new FluxError(errno.EPROTO);
}

export class ContentMmap {
  /**
   * Tag -> its files in request order. A slot is taken when the request arrives and filled once
   * the file is hashed, so files keep the order their requests came in (a client may send many
   * mmap-adds without waiting) however long each takes.
   */
  private readonly tags = new Map<string, Slot[]>();
  private readonly index = new Map<string, Place>();
  private readonly pending = new Map<string, Promise<Buffer>>();
  private reads = 0;
  private readonly readQueue: (() => void)[] = [];

  /** `blobLimit`: the content module's blob-size-limit; no mapped blob may be larger (loads could not carry it). */
  constructor(private readonly rank: number, private readonly hashName: HashName, private readonly blobLimit = Number.MAX_SAFE_INTEGER) {}

  /** The place of a digest, if a mapped file provides it (rank 0's cache asks before the backing store). */
  lookup(digest: Buffer): Place | undefined {
    return this.index.get(digest.toString('hex'));
  }

  get mappedBlobs(): number {
    return this.index.size;
  }

  // ---- content.mmap-add ----------------------------------------------------------------------

  async add(r: Responder): Promise<void> {
    const req = r.json<{ path?: unknown; chunksize?: unknown; tag?: unknown }>();
    const { path, chunksize, tag } = req;
    if (typeof path !== 'string' || typeof tag !== 'string' || !Number.isInteger(chunksize)) throw new FluxError(errno.EPROTO);
    if (this.rank !== 0) throw new FluxError(errno.EINVAL, 'content may only be mmapped on rank 0');
    if (!path.startsWith('/')) throw new FluxError(errno.EINVAL, 'path must be fully qualified');
    if ((chunksize as number) < 0) throw new FluxError(errno.EINVAL, 'invalid blobvec encoding parameters');
    const slot: Slot = {};
    const list = this.tags.get(tag) ?? [];
    list.push(slot);
    this.tags.set(tag, list);
    try {
      slot.region = await this.createRegion(path, chunksize as number);
    } catch (e) {
      const at = list.indexOf(slot);
      if (at >= 0) list.splice(at, 1);
      if (list.length === 0 && this.tags.get(tag) === list) this.tags.delete(tag);
      throw e;
    }
    // An mmap-remove of the tag that came in meanwhile came after this request: it wins.
    if (this.tags.get(tag) === list && list.includes(slot)) this.indexRegion(slot.region);
    r.respond({});
  }

  /** fileref_create_ex() with the small-file threshold at 0: always a blobvec, or refused. */
  private async createRegion(path: string, chunksize: number): Promise<Region> {
    const c = fs.constants;
    let fd: number;
    try {
      fd = await openAsync(path, c.O_RDONLY | c.O_NOFOLLOW | c.O_NONBLOCK);
    } catch (e) {
      const fe = FluxError.fromNode(e);
      // A symlink (O_NOFOLLOW) is a file type mmap-add does not take.
      if (fe.errnum === errno.ELOOP) throw new FluxError(errno.EINVAL, `${path}: not suitable for mapping`);
      throw new FluxError(fe.errnum, `${path}: ${fe.strerror}`);
    }
    try {
      const st = await fstatAsync(fd);
      if (!st.isFile() || st.size === 0) throw new FluxError(errno.EINVAL, `${path}: not suitable for mapping`);
      // Checked before reading: a chunk is read (and a load answered) whole.
      if (Math.min(chunksize === 0 ? st.size : chunksize, st.size) > this.blobLimit) {
        throw new FluxError(errno.EFBIG, `${path}: chunks would exceed the blob size limit of ${this.blobLimit} bytes`);
      }
      const blobs: BlobvecEntry[] = [];
      try {
        for await (const { offset, data } of readChunks(fd, st.size, chunksize, isSparse(st))) {
          blobs.push([offset, data.length, blobrefHash(this.hashName, data)]);
        }
      } catch (e) {
        if (e instanceof ShortReadError) throw new FluxError(errno.EINVAL, `${path}: short read`);
        const fe = FluxError.fromNode(e);
        throw new FluxError(fe.errnum, `${path}: error creating blobvec array: ${fe.strerror}`);
      }
      // All holes: flux-core makes an empty fileref, which maps nothing.
      if (blobs.length === 0) throw new FluxError(errno.EINVAL, `${path}: not suitable for mapping`);
      const fileref = filerefBlobvec(relativePath(path), blobs, statOf(st));
      const filerefData = Buffer.from(`${janssonDumps(fileref as JsonValue, { compact: true })}\0`);
      return {
        fullpath: path, size: st.size, fileref, blobs, filerefData,
        filerefBlobref: blobrefHash(this.hashName, filerefData), lastCheck: Date.now(),
      };
    } finally {
      fs.close(fd, () => undefined);
    }
  }

  /** Index a region's digests, keeping those another mapped file already provides. */
  private indexRegion(region: Region): void {
    const add = (blobref: string, p: Place): void => {
      const key = blobrefToDigest(blobref).toString('hex');
      if (!this.index.has(key)) this.index.set(key, p);
    };
    add(region.filerefBlobref, { region, offset: 0, size: region.filerefData.length, inMemory: true });
    for (const [offset, size, blobref] of region.blobs) add(blobref, { region, offset, size, inMemory: false });
  }

  // ---- content.mmap-remove -------------------------------------------------------------------

  remove(r: Responder): void {
    const tags = tagsOf(r.json<{ tag?: unknown; tags?: unknown }>());
    if (this.rank !== 0) throw new FluxError(errno.EINVAL, 'content can only be mmapped on rank 0');
    let removed = 0;
    for (const t of tags) if (this.tags.delete(t)) removed++;
    if (removed > 0) {
      this.index.clear();
      for (const list of this.tags.values()) for (const region of regionsOf(list)) this.indexRegion(region);
    }
    r.respond({});
  }

  // ---- content.mmap-list ---------------------------------------------------------------------

  list(r: Responder): void {
    const req = r.json<{ tag?: unknown; tags?: unknown; pattern?: unknown; blobref?: unknown }>();
    const tags = tagsOf(req);
    if (req.pattern !== undefined && typeof req.pattern !== 'string') throw new FluxError(errno.EPROTO);
    if (req.blobref !== undefined && typeof req.blobref !== 'boolean') throw new FluxError(errno.EPROTO);
    if (!(r.msg.flags & FLAG_STREAMING)) throw new FluxError(errno.EPROTO);
    if (this.rank !== 0) throw new FluxError(errno.EINVAL, 'content can only be mmapped on rank 0');
    const pattern = req.pattern as string | undefined;
    const asBlobrefs = req.blobref === true;
    const max = asBlobrefs ? MAX_BLOBREFS_PER_RESPONSE : MAX_FILEREFS_PER_RESPONSE;
    const seen = new Set<string>();
    let files: unknown[] = [];
    for (const t of tags) {
      for (const region of regionsOf(this.tags.get(t))) {
        if (seen.has(region.filerefBlobref)) continue;
        if (pattern !== undefined && !fnmatch(pattern, region.fileref.path as string)) continue;
        seen.add(region.filerefBlobref);
        files.push(asBlobrefs ? region.filerefBlobref : region.fileref);
        if (files.length === max) {
          r.respond({ files });
          files = [];
        }
      }
    }
    if (files.length > 0) r.respond({ files });
    r.respondError(errno.ENODATA);
  }

  /** content.stats-get's "mmap" (flux-core 0.88): {"tags":{TAG:[fullpath...]},"blobs":N}. */
  stats(): Record<string, unknown> {
    const tags: Record<string, string[]> = {};
    for (const [t, list] of this.tags) tags[t] = regionsOf(list).map((reg) => reg.fullpath);
    // flux-core counts the data blobs (its 0.88 cache holds no serialized filerefs)
    let blobs = 0;
    for (const p of this.index.values()) if (!p.inMemory) blobs++;
    return { tags, blobs };
  }

  // ---- loads ---------------------------------------------------------------------------------

  /**
   * The bytes of a mapped blob, checked against its digest; EINVAL "mapped file content has
   * changed" when the file no longer holds them. Concurrent loads of one digest share one read.
   */
  read(digest: Buffer, p: Place): Promise<Buffer> {
    if (p.inMemory) return Promise.resolve(p.region.filerefData);
    const key = digest.toString('hex');
    let pr = this.pending.get(key);
    if (!pr) {
      pr = this.readChecked(digest, p).finally(() => this.pending.delete(key));
      this.pending.set(key, pr);
    }
    return pr;
  }

  private async readChecked(digest: Buffer, p: Place): Promise<Buffer> {
    await this.slot();
    try {
      const reg = p.region;
      if (Date.now() - reg.lastCheck >= MAX_CHECK_AGE_MS) {
        const st = await fs.promises.stat(reg.fullpath).catch(() => undefined);
        if (!st || st.size < reg.size) throw new FluxError(errno.EINVAL, CHANGED);
        reg.lastCheck = Date.now();
      }
      const data = Buffer.allocUnsafe(p.size);
      let fd: number;
      try {
        fd = await openAsync(reg.fullpath, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
      } catch {
        throw new FluxError(errno.EINVAL, CHANGED);
      }
      try {
        let got = 0;
        while (got < p.size) {
          const n = await readAsync(fd, data, got, p.size - got, p.offset + got);
          if (n === 0) throw new FluxError(errno.EINVAL, CHANGED);
          got += n;
        }
      } catch (e) {
        if (e instanceof FluxError) throw e;
        throw new FluxError(errno.EINVAL, CHANGED);
      } finally {
        fs.close(fd, () => undefined);
      }
      if (!hashRaw(this.hashName, data).equals(digest)) throw new FluxError(errno.EINVAL, CHANGED);
      return data;
    } finally {
      this.release();
    }
  }

  private slot(): Promise<void> {
    if (this.reads < MAX_READS) {
      this.reads++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.readQueue.push(resolve));
  }

  private release(): void {
    const next = this.readQueue.shift();
    if (next) next();
    else this.reads--;
  }
}
