/**
 * What the `flux kvs` subcommands share: option tables in liboptparse's layout, liboptparse's
 * getopt_long parsing and its error wording, the `flux-kvs: WHAT: strerror` error form, terminal width,
 * and printing a commit's result (-O/-b/-s).
 */
import { FluxError, strerror } from '../common/libflux/errno';
import type { Flux } from '../common/libflux/handle';
import { rootTreeobj, type CommitResult } from '../common/libkvs/client';
import { Optparse, UsageError, type OptionSpec, type ParsedOptions } from '../common/liboptparse/optparse';
import { Exit, errln, open, out, usageExit } from './cli';

export const PROG = 'flux-kvs';

/** ENOTEMPTY is not in the shared errno table; flux-kvs unlink reports it. */
const ENOTEMPTY = 39;
export const errnoExtra = { ENOTEMPTY } as const;

export function kvsStrerror(n: number): string {
  return n === ENOTEMPTY ? 'Directory not empty' : strerror(n);
}

/** log_err_exit()'s text for an error: strerror of its errno (the server's own text is not shown). */
export function errnoText(e: unknown): string {
  if (e instanceof FluxError) return kvsStrerror(e.errnum);
  if (e instanceof Error) return e.message;
  return String(e);
}

/** log_err_exit("%s", what): `flux-kvs: WHAT: strerror`, exit 1. */
export function dieErr(what: string, e: unknown): never {
  errln(`${PROG}: ${what}: ${errnoText(e)}`);
  throw new Exit(1);
}

/** log_msg_exit(msg): `flux-kvs: MSG`, exit 1. */
export function dieMsg(msg: string): never {
  errln(`${PROG}: ${msg}`);
  throw new Exit(1);
}

export const NS_OPT: OptionSpec = { name: 'namespace', key: 'N', hasArg: 1, arginfo: '', usage: 'Specify KVS namespace to use.' };

export interface Sub {
  name: string;
  usage: string;
  doc: string;
  options: OptionSpec[];
}

/**
 * liboptparse prints an option's text as written when it fits on the line; the shared
 * Optparse re-wraps words and so loses flux-kvs's double space in "COLS.  0 means no limit".
 * Put such texts back where they fit.
 */
class KvsOptparse extends Optparse {
  override usage(): string {
    let u = super.usage();
    for (const o of this.options) {
      const squeezed = o.usage.split(/\s+/).join(' ');
      if (squeezed !== o.usage && 25 + o.usage.length <= 80) u = u.replace(squeezed, o.usage);
    }
    return u;
  }
}

export function optparser(sub: Sub, prefix = PROG): Optparse {
  return new KvsOptparse(`${prefix} ${sub.name}`, sub.options, sub.usage, 25, sub.doc);
}

/** A usage error with liboptparse's wording; the caller prints both lines and exits 1. */
/** A bad option, worded as flux-kvs words it (liboptparse's getopt message and hint). */
export class KvsUsageError extends UsageError {
  constructor(prog: string, what: string) {
    super(`${prog}: unrecognized option '${what}'`, `Try \`${prog} --help' for more information.`);
  }
}

/**
 * optparse_parse_args(): GNU getopt_long over the subcommand's options, as liboptparse runs it.
 *  - Options and arguments may be mixed (GNU permutation) unless $POSIXLY_CORRECT is set; `--`
 *    ends the options; `-` alone is an argument.
 *  - Long options match exactly or by unique prefix, take their argument after `=` or (when
 *    required) from the next word.
 *  - Every failure is reported the one way liboptparse does: getopt runs silent (opterr 0) and
 *    liboptparse prints "unrecognized option '-K'" with the option's key when getopt names one
 *    (unknown short option, missing argument, argument given to a flag), else the word itself
 *    (unknown or ambiguous long option).
 *  - --help prints the usage and exits 0 the moment it is seen, as its callback does.
 */
export function kvsGetopt(p: Optparse, argv: string[]): ParsedOptions {
  const values = new Map<string, string[]>();
  const args: string[] = [];
  const add = (o: OptionSpec, v: string): void => {
    if (o.name === 'help') {
      process.stderr.write(p.usage());
      throw new Exit(0);
    }
    values.set(o.name, [...(values.get(o.name) ?? []), v]);
  };
  function fail(what: string): never {
    throw new KvsUsageError(p.prog, what);
  }
  const byKey = (k: string): OptionSpec | undefined => p.options.find((o) => o.key === k);
  const posix = process.env.POSIXLY_CORRECT !== undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      args.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('-') || a === '-') {
      if (posix) {
        args.push(...argv.slice(i));
        break;
      }
      args.push(a);
      continue;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = a.slice(2, eq >= 0 ? eq : undefined);
      const exact = p.options.find((o) => o.name === name);
      const hits = exact ? [exact] : p.options.filter((o) => o.name.startsWith(name));
      if (hits.length !== 1) fail(a);
      const o = hits[0];
      const has = o.hasArg ?? 0;
      if (eq >= 0) {
        if (has === 0) fail(`-${o.key ?? ''}`);
        add(o, a.slice(eq + 1));
      } else if (has === 1) {
        if (i + 1 >= argv.length) fail(`-${o.key ?? ''}`);
        add(o, argv[++i]);
      } else {
        add(o, '');
      }
      continue;
    }
    for (let j = 1; j < a.length; j++) {
      const o = byKey(a[j]);
      if (!o) fail(`-${a[j]}`);
      const has = o.hasArg ?? 0;
      if (has === 0) {
        add(o, '');
        continue;
      }
      const rest = a.slice(j + 1);
      if (rest.length > 0) add(o, rest);
      else if (has === 2) add(o, '');
      else if (i + 1 < argv.length) add(o, argv[++i]);
      else fail(`-${a[j]}`);
      break;
    }
  }
  return { values, args };
}

/** Parse a subcommand's argv (after its name) the way flux-kvs does. */
export function parseSub(p: Optparse, argv: string[]): ParsedOptions {
  try {
    return kvsGetopt(p, argv);
  } catch (e) {
    if (e instanceof UsageError) {
      errln(e.message);
      errln(e.hint);
      throw new Exit(1);
    }
    throw e;
  }
}

/** optparse_print_usage() + exit 1, as flux-kvs does for missing arguments (cli.ts's). */
export { usageExit };

export function opt(o: ParsedOptions, name: string): string | undefined {
  const l = o.values.get(name);
  return l ? l[l.length - 1] : undefined;
}

export function hasOpt(o: ParsedOptions, name: string): boolean {
  return o.values.has(name);
}

/** optparse_get_int(): the option as an integer, or `dflt` when absent. */
export function intOpt(p: Optparse, o: ParsedOptions, name: string, dflt: number): number {
  const v = opt(o, name);
  if (v === undefined) return dflt;
  if (!/^[+-]?\d+$/.test(v.trim())) {
    errln(`${p.prog}: Option '${name}' requires an integer argument`);
    throw new Exit(1);
  }
  return Number.parseInt(v, 10);
}

export async function openHandle(): Promise<Flux> {
  return open(PROG);
}

/**
 * get_window_width(): -w COLS wins, then the terminal's width, then $COLUMNS, else 80.
 * 0 means unlimited.
 */
export function windowWidth(width: number, isTTY: boolean, ttyColumns: number | undefined, env: NodeJS.ProcessEnv): number {
  if (width >= 0) return width;
  if (isTTY && ttyColumns !== undefined) return ttyColumns;
  const s = env.COLUMNS;
  if (s !== undefined) {
    const n = Number.parseInt(s, 10);
    if (Number.isFinite(n) && n >= 0) return n;
    // strtol of a non-number is 0: flux-kvs then means "unlimited"
    if (!Number.isFinite(n)) return 0;
  }
  return 80;
}

/**
 * Write bytes as they are (values are bytes, not text: a latin1 or UTF-8 round trip would
 * change them). Whatever `out` buffered goes first, so the order on stdout holds.
 */
export async function writeBytes(b: Uint8Array): Promise<void> {
  if (b.length === 0) return;
  await out.flush();
  await new Promise<void>((resolve) => process.stdout.write(b, () => resolve()));
}

/** commit_finish(): -O prints the root dirref, -b its blobref, -s its sequence. */
export function commitFinish(o: ParsedOptions, r: CommitResult): void {
  if (hasOpt(o, 'treeobj-root')) out.write(`${rootTreeobj(r.rootref)}\n`);
  else if (hasOpt(o, 'blobref')) out.write(`${r.rootref}\n`);
  else if (hasOpt(o, 'sequence')) out.write(`${r.rootseq}\n`);
}

/** Options -O/-b/-s shared by the committing subcommands, worded per command. */
export function rootOutputOptions(what: string): OptionSpec[] {
  return [
    { name: 'treeobj-root', key: 'O', usage: `Output resulting RFC11 root containing ${what}` },
    { name: 'blobref', key: 'b', usage: `Output blobref of root containing ${what}` },
    { name: 'sequence', key: 's', usage: `Output root sequence of root containing ${what}` },
  ];
}
