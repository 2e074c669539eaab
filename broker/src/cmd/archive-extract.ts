/**
 * `flux archive list [-n NAME] [-l] [--raw] [PATTERN]` and `flux archive extract [-n NAME] [-C DIR]
 * [-t] [--overwrite] [--waitcreate[=FSD]] [-v] [PATTERN]`: read archive.NAME from the local
 * broker's KVS, filter it with fnmatch(PATTERN), then print or extract it (archive-write.ts).
 *
 * Extraction validates the whole archive before writing anything (pathsafe.ts), so a hostile
 * archive is refused with nothing written; blobs come from the local broker's content cache
 * (content.load to this rank), so a blob crosses each TBON link once however many ranks extract.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FluxError, errno } from '../common/libflux/errno';
import type { Flux } from '../common/libflux/handle';
import * as kvs from '../common/libkvs/client';
import { janssonDumps, type JsonValue } from '../common/libkvs/jansson';
import { has, last } from '../common/liboptparse/optparse';
import { parseFsd } from '../common/libutil/fsd';
import { decodeFileref, prettyPrint, type Entry } from '../common/libfilemap/fileref';
import { UnsafePathError, fnmatch, placeEntries } from '../common/libfilemap/pathsafe';
import { Exit, die, errText, errln, open, out, usageExit } from './cli';
import { errMessage } from '../common/libfilemap/archive-errors';
import { archiveName, archiveNamespace, verbosity, type Invocation } from './archive';
import { Extractor } from './archive-write';
import { runOrdered } from '../common/libfilemap/pool';

/** Archive entries extracted at once. */
const EXTRACT_WIDTH = 32;

function pattern(inv: Invocation): string | undefined {
  if (inv.o.args.length > 1) usageExit(inv.parser);
  return inv.o.args[0];
}

/** apply_glob(): keep the entries whose path matches; say so when none does. */
function applyGlob(prog: string, archive: unknown, pat: string | undefined): unknown {
  if (pat === undefined || !Array.isArray(archive)) return archive;
  const kept = archive.filter((e: unknown) => {
    const p = (e as { path?: unknown } | null)?.path;
    return typeof p === 'string' && fnmatch(pat, p);
  });
  if (kept.length === 0) errln(`${prog}: No files matched pattern '${pat}'`);
  return kept;
}

async function fetchArchive(h: Flux, prog: string, key: string, ns: string, waitcreate?: number): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const lookup = kvs.lookup(h, key, { namespace: ns, flags: waitcreate !== undefined ? kvs.FLUX_KVS_WAITCREATE : 0 });
    let r: kvs.KvsLookupResult;
    if (waitcreate !== undefined && Number.isFinite(waitcreate) && waitcreate >= 0) {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new FluxError(errno.ETIMEDOUT)), waitcreate * 1000);
      });
      try {
        r = await Promise.race([lookup, timeout]);
      } catch (e) {
        if (e instanceof FluxError && e.errnum === errno.ETIMEDOUT) die(prog, `${key}: key was not created within timeout window`);
        throw e;
      }
    } else r = await lookup;
    return r.json();
  } catch (e) {
    if (e instanceof Exit) throw e;
    die(prog, `KVS lookup ${key}: ${errMessage(e)}`);
  } finally {
    if (timer) clearTimeout(timer);
  }
}

export async function list(inv: Invocation): Promise<void> {
  const pat = pattern(inv);
  const key = `archive.${archiveName(inv)}`;
  const h = await open(inv.prog);
  try {
    const archive = applyGlob(inv.prog, await fetchArchive(h, inv.prog, key, archiveNamespace(inv)), pat);
    if (!Array.isArray(archive)) return;
    for (const e of archive as unknown[]) {
      // --raw: one compact object per line (flux-core 0.88 runs them together without newlines).
      if (has(inv.o, 'raw')) out.write(`${janssonDumps(e as JsonValue, { compact: true })}\n`);
      else out.write(`${prettyPrint(e, has(inv.o, 'long'))}\n`);
    }
  } finally {
    h.close();
  }
}

/** The archive's entries, decoded: the RFC 37 array, or its dictionary form (key = path). */
function decodeAll(prog: string, archive: unknown): Entry[] {
  try {
    if (Array.isArray(archive)) return archive.map((o: unknown) => decodeFileref(o));
    if (typeof archive === 'object' && archive !== null) return Object.entries(archive).map(([k, o]) => decodeFileref(o, k));
  } catch (e) {
    die(prog, errMessage(e));
  }
  die(prog, 'error decoding archive: not an RFC 37 array or object');
}

export async function extract(inv: Invocation): Promise<void> {
  const { o, prog } = inv;
  const pat = pattern(inv);
  const key = `archive.${archiveName(inv)}`;
  const ns = archiveNamespace(inv);
  let waitcreate: number | undefined;
  if (has(o, 'waitcreate')) {
    const arg = last(o, 'waitcreate') ?? '';
    try {
      waitcreate = arg === '' ? -1 : parseFsd(arg);
    } catch {
      die(prog, `could not parse --waitcreate timeout: ${new FluxError(errno.EINVAL).strerror}`);
    }
  }
  let verbose: number;
  try {
    verbose = verbosity(o);
  } catch {
    die(inv.parser.prog, "Option 'verbose' requires an integer argument");
  }
  const dir = last(o, 'directory');
  let root = process.cwd();
  if (dir !== undefined) {
    try {
      // Resolved once: the -C directory may itself be a symlink the user chose; below it, none is followed.
      root = await fs.promises.realpath(path.resolve(dir));
      if (!(await fs.promises.stat(root)).isDirectory()) throw new FluxError(errno.ENOTDIR);
    } catch (e) {
      die(prog, `chdir ${dir}: ${errText(FluxError.fromNode(e))}`);
    }
  }
  const h = await open(prog);
  try {
    const archive = applyGlob(prog, await fetchArchive(h, prog, key, ns, waitcreate), pat);
    if (has(o, 'list-only')) {
      if (!Array.isArray(archive)) return;
      for (const e of archive as unknown[]) out.write(`${prettyPrint(e, has(o, 'verbose'))}\n`);
      return;
    }
    const entries = decodeAll(prog, archive);
    let placed;
    try {
      placed = placeEntries(entries);
    } catch (e) {
      if (e instanceof UnsafePathError) die(prog, e.message);
      throw e;
    }
    const x = new Extractor(h, root, has(o, 'overwrite'));
    // Many entries at once (their blob loads overlap), started in archive order; entries with
    // the same path wait for each other, so the last one in the archive still wins.
    const busy = new Map<string, Promise<void>>();
    try {
      await runOrdered(placed.length, EXTRACT_WIDTH, async (i) => {
        const p = placed[i];
        if (verbose > 0) errln(p.entry.path);
        const before = busy.get(p.rel);
        const mine = (before ?? Promise.resolve()).catch(() => undefined).then(() => x.extract(p));
        busy.set(p.rel, mine);
        try {
          await mine;
        } finally {
          if (busy.get(p.rel) === mine) busy.delete(p.rel);
        }
      });
      await x.finish();
    } catch (e) {
      die(prog, errMessage(e));
    }
  } finally {
    h.close();
  }
}
