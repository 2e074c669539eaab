/**
 * `flux archive create|remove|extract|list` (flux-archive(1), RFC 37) and its old name
 * `flux filemap map|unmap|get|list`: this file holds the option tables, help texts, dispatch and
 * `remove`; create is in archive-create.ts, list/extract in archive-extract.ts (writing files in
 * archive-write.ts), each loaded only when run.
 *
 * The archive is a JSON array of RFC 37 filerefs at `archive.NAME` in the primary namespace (the
 * caller's with --no-force-primary); large files are blobs in the content store named by the
 * filerefs, with `archive.NAME_blobs.<i>` valrefs keeping them through a restart (--preserve).
 */
import { FluxError, errno } from '../common/libflux/errno';
import type { Flux } from '../common/libflux/handle';
import * as kvs from '../common/libkvs/client';
import {
  archiveExists, requireOwner as libRequireOwner, unlinkArchive as libUnlinkArchive, unmapArchive as libUnmapArchive,
} from '../common/libfilemap/archive-admin';
import { ArchiveError } from '../common/libfilemap/archive-errors';
import { Optparse, has, last, type OptionSpec, type ParsedOptions } from '../common/liboptparse/optparse';
import { Exit, die, errln, open, out, parseOrExit, usageExit } from './cli';

export const PROG = 'flux-archive';
export const DEFAULT_NAME = 'main';
export const FILEMAP_WARNING = '⚠️This command is deprecated.⚠️   Use flux-archive(1) instead.';

const NAME = (verb: string): OptionSpec => ({ name: 'name', key: 'n', hasArg: 1, arginfo: 'NAME', usage: `${verb} archive NAME (default main)` });
const NO_FORCE_PRIMARY: OptionSpec = { name: 'no-force-primary', usage: 'Do not force archive to be in the primary KVS namespace' };
// flux filemap's -T/--tags: a hidden alias for --name in every table, as in flux-core.
const TAGS: OptionSpec = { name: 'tags', key: 'T', hasArg: 1, arginfo: 'TAG', usage: 'alias for --name', hidden: true };

interface Sub {
  usage: string;
  doc: string;
  options: OptionSpec[];
}

const SUBS: Record<'create' | 'remove' | 'extract' | 'list', Sub> = {
  create: {
    usage: '[-n NAME] [-C DIR] [--preserve] PATH ...',
    doc: 'Create a KVS file archive',
    options: [
      NAME('Write to'),
      NO_FORCE_PRIMARY,
      { name: 'directory', key: 'C', hasArg: 1, arginfo: 'DIR', usage: 'Change to DIR before reading files' },
      { name: 'verbose', key: 'v', hasArg: 2, arginfo: 'LEVEL', usage: 'Increase output detail.' },
      { name: 'overwrite', usage: 'Overwrite existing archive' },
      { name: 'append', usage: 'Append to existing archive' },
      { name: 'preserve', usage: 'Preserve data over Flux restart' },
      { name: 'mmap', usage: 'Use mmap(2) to map file content' },
      { name: 'chunksize', hasArg: 1, arginfo: 'N[KMG]', usage: 'Limit blob size to N bytes with 0=unlimited (default 1M)', hidden: true },
      { name: 'small-file-threshold', hasArg: 1, arginfo: 'N[KMG]', usage: 'Adjust the maximum size of a "small file" in bytes (default 1K)', hidden: true },
      TAGS,
      { name: 'disable-mmap', usage: 'map subcommand no longer implies mmap', hidden: true },
    ],
  },
  remove: {
    usage: '[-n NAME] [-f]',
    doc: 'Remove a KVS file archive',
    options: [NAME('Remove'), NO_FORCE_PRIMARY, { name: 'force', key: 'f', usage: 'Ignore a nonexistent archive' }, TAGS],
  },
  extract: {
    usage: '[-n NAME] [--overwrite] [-C DIR] [PATTERN]',
    doc: 'Extract KVS file archive contents',
    options: [
      NAME('Read from'),
      { name: 'verbose', key: 'v', hasArg: 2, arginfo: 'LEVEL', usage: 'Show filenames on stderr' },
      { name: 'directory', key: 'C', hasArg: 1, arginfo: 'DIR', usage: 'Change to DIR before extracting' },
      { name: 'overwrite', usage: 'Overwrite existing files when extracting' },
      { name: 'waitcreate', hasArg: 2, arginfo: 'FSD', usage: 'Wait for KVS archive key to appear (timeout optional)' },
      NO_FORCE_PRIMARY,
      { name: 'list-only', key: 't', usage: 'List table of contents without extracting' },
      TAGS,
    ],
  },
  list: {
    usage: '[-n NAME] [PATTERN]',
    doc: 'List KVS file archive contents',
    options: [
      NAME('Read from'),
      NO_FORCE_PRIMARY,
      { name: 'long', key: 'l', usage: 'Show file type, mode, size' },
      { name: 'raw', usage: 'Show raw RFC 37 file system object without decoding' },
      TAGS,
    ],
  },
};

type Verb = keyof typeof SUBS;

/** What a subcommand needs besides its options: which command line it came from. */
export interface Invocation {
  o: ParsedOptions;
  parser: Optparse;
  /** `map`, `unmap`, `get`: the deprecated flux filemap verbs. */
  filemapVerb?: string;
  /** Error prefix: flux-archive, or flux for flux filemap (which never sets its own). */
  prog: string;
}

function topUsage(): string {
  const verbs = Object.keys(SUBS) as Verb[];
  const lines = verbs.map((v, i) => `${i === 0 ? 'Usage:' : '   or:'} flux archive ${v} ${SUBS[v].usage}`);
  lines.push('Flux KVS file archive utility', '  -h, --help             Display this message.');
  return lines.join('\n') + '\n';
}

function parser(cmd: string, verb: Verb, visible: boolean): Optparse {
  const s = SUBS[verb];
  return new Optparse(`${cmd} ${visible ? verb : ''}`.trim(), s.options, visible ? s.usage : '[OPTIONS]', 25, visible ? s.doc : undefined);
}

async function runVerb(verb: Verb, inv: Invocation): Promise<void> {
  switch (verb) {
    case 'create':
      return (await import('./archive-create.js')).create(inv);
    case 'remove':
      return remove(inv);
    case 'extract':
      return (await import('./archive-extract.js')).extract(inv);
    case 'list':
      return (await import('./archive-extract.js')).list(inv);
  }
}

export async function archive(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  if (sub === '-h' || sub === '--help') {
    out.write(topUsage());
    return;
  }
  if (sub === undefined || !(sub in SUBS)) {
    errln(sub === undefined ? 'flux archive: missing subcommand' : `flux archive: Unknown subcommand: ${sub}`);
    process.stderr.write(topUsage());
    throw new Exit(1);
  }
  const verb = sub as Verb;
  const p = parser('flux archive', verb, true);
  const o = parseOrExit(p, rest);
  if (has(o, 'tags') || (verb === 'create' && has(o, 'disable-mmap'))) {
    // flux-core: the filemap-only options print the usage unless used through flux filemap.
    if (verb !== 'list') usageExit(p);
    errln(FILEMAP_WARNING);
  }
  await runVerb(verb, { o, parser: p, prog: PROG });
}

const FILEMAP_VERBS: Record<string, Verb> = { map: 'create', unmap: 'remove', get: 'extract', list: 'list' };

/** `flux filemap`: flux-core's old name, with hidden subcommands and a deprecation warning. */
export async function filemap(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  const usage = `Usage: flux filemap [OPTIONS]\n${FILEMAP_WARNING}\n  -h, --help             Display this message.\n`;
  if (sub === '-h' || sub === '--help') {
    out.write(usage);
    return;
  }
  const verb = sub !== undefined ? FILEMAP_VERBS[sub] : undefined;
  if (sub === undefined || verb === undefined) {
    errln(sub === undefined ? 'flux filemap: missing subcommand' : `flux filemap: Unknown subcommand: ${sub}`);
    process.stderr.write(usage);
    throw new Exit(1);
  }
  const p = parser(`flux filemap ${sub}`, verb, false);
  const o = parseOrExit(p, rest);
  if (sub !== 'list' || has(o, 'tags')) errln(FILEMAP_WARNING);
  await runVerb(verb, { o, parser: p, filemapVerb: sub, prog: 'flux' });
}

/** The archive name: --name, with flux filemap also -T/--tags (which wins, as in flux-core). */
export function archiveName(inv: Invocation): string {
  const name = last(inv.o, 'name');
  if (inv.filemapVerb !== undefined || inv.o.values.has('tags')) return last(inv.o, 'tags') ?? name ?? DEFAULT_NAME;
  return name ?? DEFAULT_NAME;
}

/** The namespace: primary unless --no-force-primary (then $FLUX_KVS_NAMESPACE or primary). */
export function archiveNamespace(inv: Invocation): string {
  return has(inv.o, 'no-force-primary') ? kvs.defaultNamespace() : kvs.KVS_PRIMARY_NAMESPACE;
}

/** -v / -vv / --verbose=N, as optparse_get_int() reads an optional-argument option. */
export function verbosity(o: ParsedOptions): number {
  let v = 0;
  for (const a of o.values.get('verbose') ?? []) {
    if (/^v*$/.test(a)) v += 1 + a.length;
    else if (/^-?\d+$/.test(a)) v = Number(a);
    else throw new FluxError(errno.EINVAL);
  }
  return v;
}

/** The library's checks with the command's way out: `PROG: message` and exit 1. */
async function orDie<T>(prog: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (e) {
    if (e instanceof ArchiveError) die(prog, e.message);
    throw e;
  }
}

export function requireOwner(h: Flux, prog: string, what: string): Promise<void> {
  return orDie(prog, () => libRequireOwner(h, what));
}

export function unlinkArchive(h: Flux, prog: string, ns: string, name: string, force: boolean): Promise<void> {
  return orDie(prog, () => libUnlinkArchive(h, ns, name, force, (m) => errln(`${prog}: ${m}`)));
}

export function unmapArchive(h: Flux, prog: string, name: string): Promise<void> {
  return libUnmapArchive(h, name, (m) => errln(`${prog}: ${m}`));
}

async function remove(inv: Invocation): Promise<void> {
  if (inv.o.args.length > 0) usageExit(inv.parser);
  const name = archiveName(inv);
  const ns = archiveNamespace(inv);
  const h = await open(inv.prog);
  try {
    // The owner check and the existence check together, then the unlink and the unmap together
    // (independent; each is a round trip): what is left of `remove` is mostly starting Node.
    const force = has(inv.o, 'force');
    const exists = force ? undefined : archiveExists(h, ns, name);
    await requireOwner(h, inv.prog, 'remove');
    // (a missing archive is fatal before anything is unmapped, as in flux-core)
    if (exists && !(await exists)) die(inv.prog, `archive.${name} does not exist`);
    await Promise.all([unlinkArchive(h, inv.prog, ns, name, true), unmapArchive(h, inv.prog, name)]);
  } finally {
    h.close();
  }
}
