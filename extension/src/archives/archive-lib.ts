/**
 * Flux archives (RFC 37, flux-archive(1)) from the extension, with the library code the CLI
 * uses: the array of filerefs at `archive.NAME` in the primary namespace, large files as blobs
 * in the content store. Listing and extraction decode with libfilemap and write with the CLI's
 * Extractor (same safety rules: the whole archive checked first, nothing through a symlink);
 * creation and removal are the command's own library (libfilemap/archive-create.ts).
 */
import * as fs from 'node:fs';
import { FluxError, errno } from '../../../broker/src/common/libflux/errno';
import type { Flux } from '../../../broker/src/common/libflux/handle';
import * as kvs from '../../../broker/src/common/libkvs/client';
import { decodeFileref, type Entry } from '../../../broker/src/common/libfilemap/fileref';
import { createArchive as createArchiveLib } from '../../../broker/src/common/libfilemap/archive-create';
import { unlinkArchive, unmapArchive } from '../../../broker/src/common/libfilemap/archive-admin';
import { ArchiveError } from '../../../broker/src/common/libfilemap/archive-errors';
import { UnsafePathError, placeEntries } from '../../../broker/src/common/libfilemap/pathsafe';
import { Extractor } from '../../../broker/src/cmd/archive-write';

export const ARCHIVE_DIR = 'archive';
const NS = kvs.KVS_PRIMARY_NAMESPACE;

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

/** `flux archive remove -n NAME`: archive.NAME and archive.NAME_blobs in one commit, its files unmapped. */
export async function removeArchive(h: Flux, name: string): Promise<void> {
  const warnings: string[] = [];
  try {
    await unlinkArchive(h, NS, name, false, (m) => warnings.push(m));
    await unmapArchive(h, name, (m) => warnings.push(m));
  } catch (e) {
    if (e instanceof ArchiveError) throw new FluxError(errno.ENOENT, e.message);
    throw e;
  }
  if (warnings.length > 0) throw new FluxError(errno.EIO, warnings.join('; '));
}

/**
 * `flux archive create -n NAME -C BASE [--overwrite] [--mmap] PATH...` through the same library
 * as the command (libfilemap/archive-create.ts): PATHs relative to BASE; without `overwrite` an
 * existing archive is refused with flux's message (`archive.NAME: key exists`).
 */
export async function createArchive(h: Flux, name: string, base: string, paths: string[], opts: { overwrite?: boolean; mmap?: boolean }, report?: Report): Promise<number> {
  if (!/^[^.\s/][^\s/]*$/.test(name) || name.includes('.')) throw new FluxError(errno.EINVAL, `${name}: invalid archive name (no dots, slashes or spaces)`);
  try {
    return await createArchiveLib(h, {
      name, namespace: NS, base, paths, overwrite: opts.overwrite, mmap: opts.mmap, onFile: (p) => report?.(p),
    });
  } catch (e) {
    if (e instanceof ArchiveError) throw new FluxError(errno.EINVAL, e.message);
    throw e;
  }
}
