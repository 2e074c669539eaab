/**
 * Writing archive entries under the extraction directory: the on-disk half of the safety rules
 * (the lexical half, checked for the whole archive first, is libfilemap/pathsafe.ts).
 *
 *  - Every parent directory below the root is lstat'ed (once) and must be a real directory: a
 *    symlink there, whether the archive made it or it was already on disk, is refused naming the
 *    entry, so nothing is ever written through a symlink.
 *  - Files are created with O_CREAT|O_EXCL|O_NOFOLLOW: an existing file, or a symlink at that
 *    name, is never opened. Without --overwrite an existing file is left alone and reported with
 *    flux-core's message (`PATH: write: Attempt to overwrite existing file`); entries without data
 *    (empty files, symlinks, directories) that already exist are skipped silently, as libarchive
 *    does for flux-core. With --overwrite the new file is written beside the old one under a
 *    temporary name and renamed over it: the old one (or a symlink) is replaced, never written
 *    through, and ranks extracting into one shared directory each see a whole file.
 *  - Modes (permission bits and sticky; never set-id) and mtimes are restored: files at once
 *    through their descriptor, directories at the end, deepest first, so a read-only directory can
 *    still be filled and its mtime is not disturbed by its contents. A directory that existed before
 *    is not changed without --overwrite (libarchive's rule).
 *  - Blobs are loaded from the local broker (content.load) a few at a time per file, several
 *    files at once (16 MiB of blobs in flight at most), and written at their offsets; holes
 *    between them stay holes, and the file is cut to its recorded size.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FluxError, errno, strerror } from '../common/libflux/errno';
import type { Flux } from '../common/libflux/handle';
import { blobrefToDigest } from '../common/libcontent/blobref';
import type { BlobvecEntry, Entry } from '../common/libfilemap/fileref';
import type { PlacedEntry } from '../common/libfilemap/pathsafe';
import { Limiter } from '../common/libfilemap/pool';

/** Blob loads in flight per file, and their bytes over all files (bounds memory). */
const LOAD_WINDOW = 8;
const LOAD_BYTES = 16 * 1024 * 1024;
/** Files with up to this many bytes of blobs are written with synchronous calls, from memory. */
const SYNC_WRITE_MAX = 256 * 1024;
const PERM_MASK = 0o1777;

function sysError(what: string, e: unknown): FluxError {
  const f = FluxError.fromNode(e);
  return new FluxError(f.errnum, `${what}: ${f.hasText ? f.message : strerror(f.errnum)}`);
}

function codeOf(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | null)?.code;
}

export class Extractor {
  /** Relative paths known to be real directories ('' is the root). */
  private readonly dirs = new Set<string>(['']);
  /** Directories this run created (their modes and mtimes are ours to set). */
  private readonly created = new Set<string>();
  private readonly fixups = new Map<string, Entry>();
  /** Bytes of blobs loading or being written, over every file extracted at once. */
  private readonly loads = new Limiter(LOAD_BYTES);

  constructor(private readonly h: Flux, private readonly root: string, private readonly overwrite: boolean) {}

  private abs(rel: string): string {
    return rel === '' ? this.root : path.join(this.root, rel);
  }

  /** Make sure every parent of the entry is a real directory, creating missing ones. */
  private async parents(p: PlacedEntry): Promise<void> {
    for (let i = 1; i < p.parts.length; i++) {
      const rel = p.parts.slice(0, i).join('/');
      if (this.dirs.has(rel)) continue;
      const abs = this.abs(rel);
      try {
        await fs.promises.mkdir(abs);
        this.created.add(rel);
      } catch (e) {
        if (codeOf(e) !== 'EEXIST') throw sysError(`${p.entry.path}: mkdir ${rel}`, e);
      }
      const st = await fs.promises.lstat(abs);
      if (st.isSymbolicLink()) throw new FluxError(errno.ELOOP, `${p.entry.path}: refusing to extract through symlink ${rel}`);
      if (!st.isDirectory()) throw new FluxError(errno.ENOTDIR, `${p.entry.path}: ${rel}: ${strerror(errno.ENOTDIR)}`);
      this.dirs.add(rel);
    }
  }

  async extract(p: PlacedEntry): Promise<void> {
    await this.parents(p);
    switch (p.entry.kind) {
      case 'dir':
        return this.directory(p);
      case 'symlink':
        return this.symlink(p);
      case 'file':
        return this.file(p);
    }
  }

  private async directory(p: PlacedEntry): Promise<void> {
    if (p.rel === '') return; // the extraction directory itself is the user's, not the archive's
    const abs = this.abs(p.rel);
    try {
      await fs.promises.mkdir(abs, 0o700);
      this.created.add(p.rel);
    } catch (e) {
      if (codeOf(e) !== 'EEXIST') throw sysError(p.entry.path, e);
      const st = await fs.promises.lstat(abs);
      if (!st.isDirectory()) {
        if (!this.overwrite) return;
        // --overwrite: a file or symlink where the archive has a directory is replaced (unlink
        // removes the link itself, never its target).
        try {
          await fs.promises.unlink(abs);
          await fs.promises.mkdir(abs, 0o700);
          this.created.add(p.rel);
        } catch (e2) {
          throw sysError(p.entry.path, e2);
        }
      }
    }
    this.dirs.add(p.rel);
    if (this.created.has(p.rel) || this.overwrite) this.fixups.set(p.rel, p.entry);
  }

  /** A sibling name nobody else uses, for write-then-rename. */
  private tempName(abs: string): string {
    return path.join(path.dirname(abs), `.${path.basename(abs)}.flux-archive-${randomBytes(6).toString('hex')}`);
  }

  /** rename(2) over the target; a directory in the way is removed if empty (libarchive does the same). */
  private async replace(tmp: string, abs: string, entry: Entry): Promise<void> {
    try {
      await fs.promises.rename(tmp, abs);
    } catch (e) {
      try {
        if (codeOf(e) !== 'EISDIR' && codeOf(e) !== 'ENOTEMPTY' && codeOf(e) !== 'EEXIST') throw e;
        await fs.promises.rmdir(abs);
        await fs.promises.rename(tmp, abs);
      } catch (e2) {
        await fs.promises.rm(tmp, { force: true });
        throw sysError(entry.path, e2);
      }
    }
  }

  private async symlink(p: PlacedEntry): Promise<void> {
    const e = p.entry;
    const abs = this.abs(p.rel);
    const target = e.target ?? '';
    let at = abs;
    if (this.overwrite) at = this.tempName(abs);
    try {
      await fs.promises.symlink(target, at);
    } catch (err) {
      if (codeOf(err) === 'EEXIST' && !this.overwrite) return;
      throw sysError(e.path, err);
    }
    if (e.mtime !== undefined) await fs.promises.lutimes(at, e.mtime, e.mtime).catch(() => undefined);
    if (this.overwrite) await this.replace(at, abs, e);
  }

  private async file(p: PlacedEntry): Promise<void> {
    const e = p.entry;
    const abs = this.abs(p.rel);
    const at = this.overwrite ? this.tempName(abs) : abs;
    const hasData = (e.inline?.length ?? 0) > 0 || (e.blobs?.length ?? 0) > 0;
    const c = fs.constants;
    const flags = c.O_WRONLY | c.O_CREAT | c.O_EXCL | c.O_NOFOLLOW;
    const refused = (err: unknown): FluxError | undefined => {
      if (codeOf(err) === 'EEXIST' && !this.overwrite) {
        if (!hasData) return undefined;
        return new FluxError(errno.EEXIST, `${e.path}: write: Attempt to overwrite existing file`);
      }
      return sysError(e.path, err);
    };
    if ((e.blobs ?? []).reduce((n, b) => n + b[1], 0) <= SYNC_WRITE_MAX) {
      // A small file: created, written and closed with plain system calls (a few KiB cost less
      // than a trip through libuv's thread pool, which is what 1,000 small files waited on).
      let fd: number;
      try {
        fd = fs.openSync(at, flags, 0o600);
      } catch (err) {
        const r = refused(err);
        if (r) throw r;
        return;
      }
      try {
        const pieces = e.blobs ? await this.loadAll(e.path, e.blobs) : [];
        let end = 0;
        if (e.inline && e.inline.length > 0) {
          writeAllSync(fd, e.inline, 0, e.path);
          end = e.inline.length;
        }
        for (const [offset, data] of pieces) {
          writeAllSync(fd, data, offset, e.path);
          end = Math.max(end, offset + data.length);
        }
        const size = e.size ?? end;
        if (size !== end) fs.ftruncateSync(fd, size);
        fs.fchmodSync(fd, e.mode & PERM_MASK);
        if (e.mtime !== undefined) fs.futimesSync(fd, e.mtime, e.mtime);
      } catch (err) {
        fs.closeSync(fd);
        if (this.overwrite) fs.rmSync(at, { force: true });
        throw err instanceof FluxError ? err : sysError(e.path, err);
      }
      fs.closeSync(fd);
      if (this.overwrite) await this.replace(at, abs, e);
      return;
    }
    let fh: fs.promises.FileHandle;
    try {
      fh = await fs.promises.open(at, flags, 0o600);
    } catch (err) {
      const r = refused(err);
      if (r) throw r;
      return;
    }
    try {
      let end = 0;
      if (e.inline && e.inline.length > 0) {
        await writeAll(fh, e.inline, 0, e.path);
        end = e.inline.length;
      }
      if (e.blobs) end = Math.max(end, await this.blobs(fh, e.path, e.blobs));
      const size = e.size ?? end;
      if (size !== end) await fh.truncate(size);
      await fh.chmod(e.mode & PERM_MASK);
      if (e.mtime !== undefined) await fh.utimes(e.mtime, e.mtime);
    } catch (err) {
      await fh.close().catch(() => undefined);
      if (this.overwrite) await fs.promises.rm(at, { force: true });
      throw err instanceof FluxError ? err : sysError(e.path, err);
    }
    await fh.close();
    if (this.overwrite) await this.replace(at, abs, e);
  }

  /** The blobs of a small file, in memory: [offset, data] each (LOAD_WINDOW loads in flight). */
  private async loadAll(p: string, blobs: BlobvecEntry[]): Promise<[number, Buffer][]> {
    const out: [number, Buffer][] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < blobs.length) {
        const b = blobs[next++];
        out.push([b[0], await this.load(p, b)]);
      }
    };
    const results = await Promise.allSettled(Array.from({ length: Math.min(LOAD_WINDOW, blobs.length) }, () => worker()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    return out;
  }

  /** extract_blob()'s load: one blob from the local broker, checked for size. */
  private async load(p: string, [offset, size, blobref]: BlobvecEntry): Promise<Buffer> {
    let data: Buffer | undefined;
    try {
      data = (await this.h.rpc('content.load', blobrefToDigest(blobref)).getRaw()) ?? Buffer.alloc(0);
    } catch (err) {
      const f = err instanceof FluxError ? err : FluxError.fromNode(err);
      throw new FluxError(f.errnum, `${p}: error loading offset=${offset} size=${size} from ${blobref}: ${f.hasText ? f.message : f.strerror}`);
    }
    if (data.length !== size) {
      throw new FluxError(errno.EPROTO, `${p}: error loading offset=${offset} size=${size} from ${blobref}: unexpected size ${data.length}`);
    }
    return data;
  }

  /** extract_blob() for each blob, LOAD_WINDOW loads in flight; returns the end of the data. */
  private async blobs(fh: fs.promises.FileHandle, p: string, blobs: BlobvecEntry[]): Promise<number> {
    let next = 0;
    let end = 0;
    const worker = async (): Promise<void> => {
      while (next < blobs.length) {
        const [offset, size, blobref] = blobs[next++];
        await this.loads.acquire(size);
        try {
          await writeAll(fh, await this.load(p, [offset, size, blobref]), offset, p);
        } finally {
          this.loads.release(size);
        }
        end = Math.max(end, offset + size);
      }
    };
    const workers = Array.from({ length: Math.min(LOAD_WINDOW, blobs.length) }, () => worker());
    const results = await Promise.allSettled(workers);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    return end;
  }

  /** Directory modes and mtimes, deepest first; never through a symlink. */
  async finish(): Promise<void> {
    const rels = [...this.fixups.keys()].sort((a, b) => b.split('/').length - a.split('/').length);
    for (const rel of rels) {
      const e = this.fixups.get(rel) as Entry;
      const abs = this.abs(rel);
      const st = await fs.promises.lstat(abs).catch(() => undefined);
      if (!st?.isDirectory()) continue;
      try {
        await fs.promises.chmod(abs, e.mode & PERM_MASK);
        if (e.mtime !== undefined) await fs.promises.utimes(abs, e.mtime, e.mtime);
      } catch (err) {
        throw sysError(e.path, err);
      }
    }
  }
}

async function writeAll(fh: fs.promises.FileHandle, data: Buffer, offset: number, p: string): Promise<void> {
  let done = 0;
  while (done < data.length) {
    let n: number;
    try {
      ({ bytesWritten: n } = await fh.write(data, done, data.length - done, offset + done));
    } catch (err) {
      throw sysError(`${p}: write`, err);
    }
    if (n === 0) throw new FluxError(errno.EIO, `${p}: write: short write`);
    done += n;
  }
}

function writeAllSync(fd: number, data: Buffer, offset: number, p: string): void {
  let done = 0;
  while (done < data.length) {
    let n: number;
    try {
      n = fs.writeSync(fd, data, done, data.length - done, offset + done);
    } catch (err) {
      throw sysError(`${p}: write`, err);
    }
    if (n === 0) throw new FluxError(errno.EIO, `${p}: write: short write`);
    done += n;
  }
}
