/**
 * `flux archive create [-n NAME] [-C DIR] [--overwrite|--append] [--preserve] [--mmap]
 * [--chunksize N] [--small-file-threshold N] [--no-force-primary] [-v] PATH...`: the options,
 * then libfilemap/archive-create.ts does the work (the extension's "Create Archive…" calls the
 * same code).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FluxError, errno } from '../common/libflux/errno';
import { has, last } from '../common/liboptparse/optparse';
import { encodeSize, parseSize } from '../common/libfilemap/fileref';
import { createArchive } from '../common/libfilemap/archive-create';
import { ArchiveError } from '../common/libfilemap/archive-errors';
import { die, errln, errText, open, out, usageExit } from './cli';
import { archiveName, archiveNamespace, verbosity, type Invocation } from './archive';

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
  const namespace = archiveNamespace(inv);
  const chunksize = sizeOption(inv, 'chunksize', '1M');
  const threshold = sizeOption(inv, 'small-file-threshold', '1K');
  let verbose: number;
  try {
    verbose = verbosity(o);
  } catch {
    die(inv.parser.prog, "Option 'verbose' requires an integer argument");
  }
  const mmap = has(o, 'mmap') || (inv.filemapVerb === 'map' && !has(o, 'disable-mmap'));
  const h = await open(prog);
  try {
    if (mmap && has(o, 'no-force-primary')) die(prog, '--mmap cannot work with --no-force-primary');
    const dir = last(o, 'directory');
    const base = dir !== undefined ? path.resolve(dir) : process.cwd();
    if (dir !== undefined) {
      try {
        if (!(await fs.promises.stat(base)).isDirectory()) throw new FluxError(errno.ENOTDIR);
      } catch (e) {
        die(prog, `chdir ${dir}: ${errText(FluxError.fromNode(e))}`);
      }
    }
    await createArchive(h, {
      name, namespace, base, paths: o.args, overwrite: has(o, 'overwrite'), append: has(o, 'append'), preserve: has(o, 'preserve'),
      mmap, chunksize, threshold,
      onFile: verbose > 0 ? (p) => out.write(`${p}\n`) : undefined,
      onWarning: (m) => errln(`${prog}: ${m}`),
    });
  } catch (e) {
    if (e instanceof ArchiveError) die(prog, e.message);
    throw e;
  } finally {
    h.close();
  }
}
