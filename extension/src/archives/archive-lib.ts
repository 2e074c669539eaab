/**
 * Flux archives (RFC 37, flux-archive(1)) from the extension, with the library code the CLI
 * uses: the array of filerefs at `archive.NAME` in the primary namespace, large files as blobs
 * in the content store. Listing and extraction decode with libfilemap and write with the CLI's
 * Extractor (same safety rules: the whole archive checked first, nothing through a symlink);
 * creation builds the same filerefs as `flux archive create` (files up to 1 KiB inline,
 * larger ones as 1 MiB blobs stored with `content.store`) and commits them in one transaction.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FluxError, errno } from '../../../broker/src/common/libflux/errno';
import type { Flux } from '../../../broker/src/common/libflux/handle';
import { blobrefHash, digestToBlobref, isHashName, type HashName } from '../../../broker/src/common/libcontent/blobref';
import * as kvs from '../../../broker/src/common/libkvs/client';
import type { JsonValue } from '../../../broker/src/common/libkvs/jansson';
import {
  decodeFileref, filerefBlobvec, filerefDir, filerefEmpty, filerefSmall, filerefSymlink,
  type BlobvecEntry, type Entry, type FileStat, type Fileref,
} from '../../../broker/src/common/libfilemap/fileref';
import { UnsafePathError, placeEntries } from '../../../broker/src/common/libfilemap/pathsafe';
import { Extractor } from '../../../broker/src/cmd/archive-write';

export const ARCHIVE_DIR = 'archive';
const NS = kvs.KVS_PRIMARY_NAMESPACE;
const SMALL_FILE_THRESHOLD = 1024;
const CHUNKSIZE = 1024 * 1024;

export interface ArchiveSummary {
  name: string;
  entries: Entry[];
  files: number;
  bytes: number;
}

export type Report = (message: string, fraction?: number) => void;

/** The archives under `archive.` (the `NAME_blobs` directories that keep blobs are not archives). */
export async function listArchives(h: Flux): Promise<ArchiveSummary[]> {
  let dir: kvs.KVSDir;
  try {
    dir = await kvs.KVSDir.open(h, ARCHIVE_DIR, { namespace: NS });
  } catch (e) {
    if (e instanceof FluxError && e.errnum === errno.ENOENT) return [];
    throw e;
  }
  const names = dir.files();
  return Promise.all(names.map((name) => readArchive(h, name)));
}

export async function readArchive(h: Flux, name: string): Promise<ArchiveSummary> {
  const key = `${ARCHIVE_DIR}.${name}`;
  let value: unknown;
  try {
    value = (await kvs.lookup(h, key, { namespace: NS })).json();
  } catch (e) {
    throw new FluxError(e instanceof FluxError ? e.errnum : errno.EIO, `KVS lookup ${key}: ${e instanceof Error ? e.message : String(e)}`);
  }
  let entries: Entry[];
  if (Array.isArray(value)) entries = value.map((o: unknown) => decodeFileref(o));
  else if (typeof value === 'object' && value !== null) entries = Object.entries(value).map(([k, o]) => decodeFileref(o, k));
  else throw new FluxError(errno.EINVAL, `${key}: not an RFC 37 archive`);
  const files = entries.filter((e) => e.kind === 'file');
  return { name, entries, files: files.length, bytes: files.reduce((n, e) => n + (e.size ?? e.inline?.length ?? 0), 0) };
}

/** `flux archive extract -n NAME -C DIR [--overwrite]`: every entry, checked first, written safely. */
export async function extractArchive(h: Flux, name: string, dir: string, overwrite: boolean, report?: Report): Promise<number> {
  const root = await fs.promises.realpath(dir);
  if (!(await fs.promises.stat(root)).isDirectory()) throw new FluxError(errno.ENOTDIR, `${dir}: ${new FluxError(errno.ENOTDIR).message}`);
  const { entries } = await readArchive(h, name);
  let placed;
  try {
    placed = placeEntries(entries);
  } catch (e) {
    if (e instanceof UnsafePathError) throw new FluxError(errno.EINVAL, e.message);
    throw e;
  }
  const x = new Extractor(h, root, overwrite);
  let i = 0;
  for (const p of placed) {
    report?.(p.entry.path, 1 / placed.length);
    await x.extract(p);
    i++;
  }
  await x.finish();
  return i;
}

/** `flux archive remove -n NAME`: archive.NAME and archive.NAME_blobs in one commit. */
export async function removeArchive(h: Flux, name: string): Promise<void> {
  const key = `${ARCHIVE_DIR}.${name}`;
  try {
    await kvs.lookup(h, key, { namespace: NS, flags: kvs.FLUX_KVS_TREEOBJ });
  } catch {
    throw new FluxError(errno.ENOENT, `${key} does not exist`);
  }
  await kvs.commit(h, new kvs.KvsTxn().unlink(key).unlink(`${key}_blobs`), { namespace: NS });
  try {
    await h.rpc('content.mmap-remove', { tag: name }, { nodeid: 0 }).response();
  } catch {
    // no mmap support (ENOSYS): nothing can have been mapped
  }
}

export async function archiveExists(h: Flux, name: string): Promise<boolean> {
  try {
    await kvs.lookup(h, `${ARCHIVE_DIR}.${name}`, { namespace: NS, flags: kvs.FLUX_KVS_TREEOBJ });
    return true;
  } catch (e) {
    if (e instanceof FluxError && e.errnum === errno.ENOENT) return false;
    throw e;
  }
}

function statOf(st: fs.Stats): FileStat {
  return { mode: st.mode, size: st.size, mtime: Math.floor(st.mtimeMs / 1000), ctime: Math.floor(st.ctimeMs / 1000) };
}

interface CreateCtx {
  h: Flux;
  hash: HashName;
  base: string;
  archive: JsonValue[];
  report?: Report;
}

async function storeBlob(ctx: CreateCtx, data: Buffer, blobref: string, p: string): Promise<void> {
  let digest: Buffer | undefined;
  try {
    digest = await ctx.h.rpc('content.store', data).getRaw();
  } catch (e) {
    throw new FluxError(e instanceof FluxError ? e.errnum : errno.EIO, `${p}: error storing blob: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!digest || digestToBlobref(ctx.hash, digest) !== blobref) throw new FluxError(errno.EPROTO, `${p}: error storing blob: digest mismatch`);
}

async function addFile(ctx: CreateCtx, p: string): Promise<void> {
  const full = path.resolve(ctx.base, p);
  ctx.report?.(p);
  const st = await fs.promises.lstat(full);
  const fst = statOf(st);
  let ref: Fileref;
  if (st.isSymbolicLink()) ref = filerefSymlink(p, await fs.promises.readlink(full), fst);
  else if (st.isDirectory()) ref = filerefDir(p, fst);
  else if (!st.isFile()) throw new FluxError(errno.EINVAL, `${p}: unsupported file type`);
  else if (st.size === 0) ref = filerefEmpty(p, fst);
  else {
    const fh = await fs.promises.open(full, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    try {
      if (st.size <= SMALL_FILE_THRESHOLD) {
        const data = Buffer.alloc(st.size);
        const { bytesRead } = await fh.read(data, 0, st.size, 0);
        if (bytesRead < st.size) throw new FluxError(errno.EIO, `${p}: short read`);
        ref = filerefSmall(p, data, fst);
      } else {
        const blobs: BlobvecEntry[] = [];
        for (let off = 0; off < st.size; off += CHUNKSIZE) {
          const len = Math.min(CHUNKSIZE, st.size - off);
          const buf = Buffer.allocUnsafe(len);
          const { bytesRead } = await fh.read(buf, 0, len, off);
          if (bytesRead < len) throw new FluxError(errno.EIO, `${p}: short read`);
          const blobref = blobrefHash(ctx.hash, buf);
          await storeBlob(ctx, buf, blobref, p);
          blobs.push([off, len, blobref]);
        }
        ref = filerefBlobvec(p, blobs, fst);
      }
    } finally {
      await fh.close();
    }
  }
  ctx.archive.push(ref as JsonValue);
}

/** Directories depth first, contents before the directory itself (as flux archive create walks). */
async function walk(ctx: CreateCtx, p: string): Promise<void> {
  const full = path.resolve(ctx.base, p);
  for (const name of (await fs.promises.readdir(full)).sort()) {
    const child = path.join(p, name);
    const st = await fs.promises.lstat(path.resolve(ctx.base, child));
    if (st.isDirectory()) await walk(ctx, child);
    else await addFile(ctx, child);
  }
  await addFile(ctx, p);
}

/**
 * `flux archive create -n NAME -C BASE [--overwrite] PATH...`: PATHs are relative to BASE.
 * Without `overwrite` an existing archive is refused with flux's message (`archive.NAME: key exists`).
 */
export async function createArchive(h: Flux, name: string, base: string, paths: string[], overwrite: boolean, report?: Report): Promise<number> {
  if (!/^[^.\s/][^\s/]*$/.test(name) || name.includes('.')) throw new FluxError(errno.EINVAL, `${name}: invalid archive name (no dots, slashes or spaces)`);
  const key = `${ARCHIVE_DIR}.${name}`;
  if (await archiveExists(h, name)) {
    if (!overwrite) throw new FluxError(errno.EEXIST, `${key}: key exists`);
    await removeArchive(h, name);
  }
  let hash = 'sha1';
  try {
    hash = await h.getattr('content.hash');
  } catch {
    // flux-core falls back to sha1
  }
  if (!isHashName(hash)) throw new FluxError(errno.EINVAL, `unknown content.hash ${hash}`);
  const ctx: CreateCtx = { h, hash, base, archive: [], report };
  for (const p of paths) {
    let st: fs.Stats;
    try {
      st = await fs.promises.lstat(path.resolve(base, p));
    } catch (e) {
      throw new FluxError(FluxError.fromNode(e).errnum, `${p}: ${FluxError.fromNode(e).message}`);
    }
    if (st.isDirectory()) await walk(ctx, p);
    else await addFile(ctx, p);
  }
  await kvs.commit(h, new kvs.KvsTxn().putJson(key, ctx.archive), { namespace: NS });
  return ctx.archive.length;
}
