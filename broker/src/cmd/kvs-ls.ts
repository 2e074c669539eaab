/**
 * `flux kvs dir` and `flux kvs ls`, as flux-kvs.c's cmd_dir/cmd_ls: dir prints `key = value`
 * lines (cut to the width with "..."), `key.` for directories and `key -> target` for links;
 * ls mimics ls(1) with columns fit to the terminal, `-1`, `-F`, `-d` and `-R`.
 */
import { FluxError, errno, strerror } from '../common/libflux/errno';
import type { Flux } from '../common/libflux/handle';
import {
  FLUX_KVS_READDIR, FLUX_KVS_TREEOBJ, KVSDir, lookup, type KvsLookupResult, type LookupOptions,
} from '../common/libkvs/client';
import { compareKeysUtf8 } from '../common/libkvs/jansson';
import * as treeobj from '../common/libkvs/treeobj';
import type { TreeObj } from '../common/libkvs/treeobj';
import type { ParsedOptions } from '../common/liboptparse/optparse';
import { Exit, errln, out } from './cli';
import {
  NS_OPT, dieErr, dieMsg, hasOpt, intOpt, openHandle, opt, optparser, parseSub, windowWidth, writeBytes, type Sub,
} from './kvs-common';
import { dirLineDir, dirLineSymlink, kvLine, lsColumns } from './kvs-format';

export const DIR: Sub = {
  name: 'dir',
  usage: '[-N ns] [-R] [-d] [-w COLS] [-a treeobj] [key]',
  doc: 'Display all keys under directory',
  options: [
    NS_OPT,
    { name: 'recursive', key: 'R', usage: 'Recursively display keys under subdirectories' },
    { name: 'directory', key: 'd', usage: 'List directory entries and not values' },
    { name: 'width', key: 'w', hasArg: 1, arginfo: '', usage: 'Set output width to COLS.  0 means no limit' },
    { name: 'at', key: 'a', hasArg: 1, arginfo: '', usage: 'Lookup relative to RFC 11 snapshot reference' },
  ],
};

export const LS: Sub = {
  name: 'ls',
  usage: '[-N ns] [-R] [-d] [-F] [-w COLS] [-1] [key...]',
  doc: 'List directory',
  options: [
    NS_OPT,
    { name: 'recursive', key: 'R', usage: 'List directory recursively' },
    { name: 'directory', key: 'd', usage: 'List directory instead of contents' },
    { name: 'width', key: 'w', hasArg: 1, arginfo: '', usage: 'Set output width to COLS.  0 means no limit' },
    { name: '1', key: '1', usage: 'Force one entry per line' },
    { name: 'classify', key: 'F', usage: 'Append indicator (one of .@) to entries' },
  ],
};

function termWidth(w: number): number {
  return windowWidth(w, process.stdout.isTTY === true, process.stdout.columns, process.env);
}

/** dump_kvs_dir(): one directory's lines, descending into subdirectories with -R. */
async function dumpDir(dir: KVSDir, maxcol: number, recursive: boolean, namesOnly: boolean): Promise<void> {
  const lookupOpts = (flags: number): LookupOptions =>
    dir.opts.atRoot !== undefined ? { flags, atRoot: dir.opts.atRoot } : { flags, namespace: dir.opts.namespace };
  for (const name of dir.keys()) {
    const key = dir.keyAt(name);
    const ent = dir.treeobjOf(name);
    if (ent === undefined) continue;
    if (ent.type === 'symlink') {
      const link = treeobj.getSymlink(ent);
      out.write(dirLineSymlink(key, link.target, link.namespace));
    } else if (ent.type === 'dir' || ent.type === 'dirref') {
      if (!recursive) {
        out.write(dirLineDir(key));
        continue;
      }
      let sub: KVSDir;
      try {
        sub = (await lookup(dir.h, key, lookupOpts(FLUX_KVS_READDIR))).dir();
      } catch (e) {
        dieErr(key, e);
      }
      if (sub.size === 0) out.write(dirLineDir(key));
      else await dumpDir(sub, maxcol, recursive, namesOnly);
    } else if (namesOnly) {
      out.write(`${key}\n`);
    } else {
      let data: Buffer;
      try {
        // an inline val is already here; a valref has to be fetched
        data = ent.type === 'val' ? treeobj.decodeVal(ent) : (await lookup(dir.h, key, lookupOpts(0))).raw();
      } catch (e) {
        dieErr(key, e);
      }
      const line = kvLine(key, data, maxcol);
      if (line.every((b) => b < 0x80)) out.write(line.toString('latin1'));
      else await writeBytes(line);
    }
  }
}

export async function cmdDir(argv: string[]): Promise<void> {
  const p = optparser(DIR);
  const o = parseSub(p, argv);
  const maxcol = termWidth(intOpt(p, o, 'width', -1));
  if (o.args.length > 1) dieMsg('dir: specify zero or one directory');
  const key = o.args[0] ?? '.';
  const h = await openHandle();
  const at = opt(o, 'at');
  let dir: KVSDir;
  try {
    dir = await KVSDir.open(h, key, at !== undefined ? { atRoot: at } : { namespace: opt(o, 'namespace') });
  } catch (e) {
    dieErr(key, e);
  }
  await dumpDir(dir, maxcol, hasOpt(o, 'recursive'), hasOpt(o, 'directory'));
  h.close();
}

interface LsState {
  h: Flux;
  o: ParsedOptions;
  ns: string | undefined;
  width: number;
  dirs: string[];
  singles: string[];
}

/**
 * categorize_key(): directories to expand go to `dirs`, everything else (decorated with -F)
 * to `singles`. A trailing "." demands a directory. Errors are printed as `KEY: strerror`
 * without the program name (flux-kvs uses fprintf there) and make the exit status 1.
 */
async function categorize(st: LsState, key: string): Promise<boolean> {
  const { o } = st;
  let nkey = key;
  let requireDir = false;
  while (nkey.length > 1 && nkey.endsWith('.')) {
    nkey = nkey.slice(0, -1);
    requireDir = true;
  }
  let obj: TreeObj;
  try {
    obj = (await lookup(st.h, nkey, { namespace: st.ns, flags: FLUX_KVS_TREEOBJ })).treeobj;
  } catch (e) {
    errln(`${nkey}: ${e instanceof FluxError ? e.strerror : String(e)}`);
    return false;
  }
  const classify = hasOpt(o, 'classify');
  if (obj.type === 'dir' || obj.type === 'dirref') {
    if (hasOpt(o, 'directory')) st.singles.push(classify ? `${nkey}.` : nkey);
    else st.dirs.push(nkey);
  } else if (requireDir) {
    errln(`${nkey}: ${strerror(errno.ENOTDIR)}`);
    return false;
  } else if (obj.type === 'symlink') {
    const name = classify ? `${nkey}@` : nkey;
    if (classify || hasOpt(o, 'directory')) {
      st.singles.push(name);
    } else {
      // categorize_link(): a link to a directory is listed as that directory
      let r: KvsLookupResult | undefined;
      try {
        r = await lookup(st.h, nkey, { namespace: st.ns });
      } catch (e) {
        if (!(e instanceof FluxError) || (e.errnum !== errno.ENOENT && e.errnum !== errno.EISDIR)) dieErr(nkey, e);
        (e.errnum === errno.EISDIR ? st.dirs : st.singles).push(name);
      }
      if (r) st.singles.push(name);
    }
  } else {
    st.singles.push(nkey);
  }
  st.singles.sort(compareKeysUtf8);
  st.dirs.sort(compareKeysUtf8);
  return true;
}

/** list_kvs_dir(): a directory's columns, then (with -R) each subdirectory's, labelled. */
async function listDir(st: LsState, key: string, label: boolean, vspace: boolean): Promise<void> {
  let dir: KVSDir;
  try {
    dir = await KVSDir.open(st.h, key, { namespace: st.ns });
  } catch (e) {
    dieErr(key, e);
  }
  if (label) out.write(`${vspace ? '\n' : ''}${key}:\n`);
  const classify = hasOpt(st.o, 'classify');
  const names = dir.keys().map((n) => (!classify ? n : dir.isDir(n) ? `${n}.` : dir.isSymlink(n) ? `${n}@` : n));
  out.write(lsColumns(names, st.width, Math.max(0, ...dir.keys().map((n) => Buffer.byteLength(n)))));
  if (hasOpt(st.o, 'recursive')) {
    for (const n of dir.keys()) if (dir.isDir(n)) await listDir(st, dir.keyAt(n), label, true);
  }
}

export async function cmdLs(argv: string[]): Promise<void> {
  const p = optparser(LS);
  const o = parseSub(p, argv);
  let width = termWidth(intOpt(p, o, 'width', -1));
  if (hasOpt(o, '1')) width = 1;
  const h = await openHandle();
  const st: LsState = { h, o, ns: opt(o, 'namespace'), width, dirs: [], singles: [] };
  let ok = true;
  for (const key of o.args.length > 0 ? o.args : ['.']) {
    if (!(await categorize(st, key))) ok = false;
  }
  let label = false;
  let vspace = false;
  if (st.singles.length > 0) {
    out.write(lsColumns(st.singles, width));
    label = true;
    vspace = true;
  }
  if (hasOpt(o, 'recursive') || st.dirs.length > 1) label = true;
  for (const key of st.dirs) {
    await listDir(st, key, label, vspace);
    vspace = true;
  }
  h.close();
  if (!ok) throw new Exit(1);
}
