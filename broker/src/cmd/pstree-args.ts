/**
 * flux-pstree's options, parsed as Python's argparse does (options anywhere, `--opt=VAL` or
 * `--opt VAL`, unique prefixes of long options, bundled short flags); usage errors exit 2.
 */
import { tryParseJobId, type JobId } from '../common/libjob/jobid';
import { Exit, errln, out } from './cli';

export interface PstreeArgs {
  all: boolean;
  count: number;
  filter: string;
  /** -a, -c or -f was given (they do nothing with JOBIDs). */
  filtered: boolean;
  extended: boolean;
  truncate: boolean;
  level: number;
  parentIds: boolean;
  noHeader: boolean;
  combine: boolean;
  label?: string;
  parentLabel?: string;
  detailFormat?: string;
  details?: string;
  compact: boolean;
  ascii: boolean;
  skipRoot?: boolean;
  jobids: Array<{ id: JobId; orig: string }>;
}

interface Opt {
  long: string;
  short?: string;
  arg?: string;
  help: string;
}

const OPTS: Opt[] = [
  { long: 'all', short: 'a', help: 'Include all jobs for current user in all states' },
  { long: 'count', short: 'c', arg: 'N', help: 'Limit to N jobs per instance (default 1000)' },
  { long: 'filter', short: 'f', arg: 'STATE|RESULT', help: 'list jobs with specific job state or result' },
  { long: 'extended', short: 'x', help: 'print extended details before tree output' },
  { long: 'long', short: 'l', help: 'do not truncate long lines to terminal width' },
  { long: 'level', short: 'L', arg: 'N', help: 'only descend N levels' },
  { long: 'parent-ids', short: 'p', help: 'include jobids in parent labels' },
  { long: 'no-header', short: 'n', help: 'Suppress header with -x, --extended' },
  { long: 'no-combine', short: 'X', help: 'disable combination of identical children' },
  { long: 'label', short: 'o', arg: 'FORMAT', help: "change label format (default='{name}')" },
  { long: 'parent-label', arg: 'FORMAT', help: 'change label format for parent only' },
  { long: 'detail-format', arg: 'FORMAT', help: 'specify output format for extended details (implies -x, --extended)' },
  { long: 'details', short: 'd', arg: 'NAME', help: 'Select a named extended details format (default,resources,progress,stats)' },
  { long: 'compact', short: 'C', help: 'Use compact tree connectors' },
  { long: 'ascii', help: 'Use ASCII character tree connectors' },
  { long: 'skip-root', arg: '[yes|no]', help: "suppress or include the enclosing instance in output. Default is 'no' unless the -x, --extended or -d, --details options are used." },
];

const PROG = 'flux-pstree';

function usageLine(): string {
  const parts = OPTS.map((o) => {
    const flag = o.short ? `-${o.short}` : `--${o.long}`;
    return o.arg ? `[${flag} ${o.arg}]` : `[${flag}]`;
  });
  return `usage: ${PROG} [-h] ${parts.join(' ')} [JOBID ...]`;
}

function usageError(msg: string): never {
  errln(usageLine());
  errln(`${PROG}: error: ${msg}`);
  throw new Exit(2);
}

function help(): never {
  const lines = [usageLine(), '', 'positional arguments:', '  JOBID                 Limit output to specific jobids', '', 'options:',
    '  -h, --help            show this help message and exit'];
  for (const o of OPTS) {
    const flags = `${o.short ? `-${o.short}, ` : ''}--${o.long}${o.arg ? `=${o.arg}` : ''}`;
    lines.push(flags.length <= 20 ? `  ${flags.padEnd(22)}${o.help}` : `  ${flags}\n${' '.repeat(24)}${o.help}`);
  }
  out.write(lines.join('\n') + '\n');
  throw new Exit(0);
}

function int(o: Opt, v: string): number {
  if (!/^[-+]?\d+$/.test(v.trim())) usageError(`argument ${o.short ? `-${o.short}/` : ''}--${o.long}: invalid int value: '${v}'`);
  return Number(v);
}

export function parsePstreeArgs(argv: string[]): PstreeArgs {
  const a: PstreeArgs = {
    all: false, count: 1000, filter: 'running', filtered: false, extended: false, truncate: true, level: 999,
    parentIds: false, noHeader: false, combine: true, compact: false, ascii: false, jobids: [],
  };
  const set = (o: Opt, v: string): void => {
    switch (o.long) {
      case 'all': a.all = true; a.filtered = true; break;
      case 'count': a.count = int(o, v); a.filtered = true; break;
      case 'filter': a.filter = v; a.filtered = true; break;
      case 'extended': a.extended = true; break;
      case 'long': a.truncate = false; break;
      case 'level': a.level = int(o, v); break;
      case 'parent-ids': a.parentIds = true; break;
      case 'no-header': a.noHeader = true; break;
      case 'no-combine': a.combine = false; break;
      case 'label': a.label = v; break;
      case 'parent-label': a.parentLabel = v; break;
      case 'detail-format': a.detailFormat = v; break;
      case 'details': a.details = v; break;
      case 'compact': a.compact = true; break;
      case 'ascii': a.ascii = true; break;
      default:
        // flux-core's YesNoAction raises outside argparse: the tool's ERROR line, exit 1
        if (v !== 'yes' && v !== 'no') {
          errln(`${PROG}: ERROR: --skip-root requires either 'yes' or 'no'`);
          throw new Exit(1);
        }
        a.skipRoot = v === 'yes';
    }
  };
  const free: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const s = argv[i];
    if (s === '-h' || s === '--help') help();
    if (s === '--') {
      free.push(...argv.slice(i + 1));
      break;
    }
    if (s.startsWith('--')) {
      const eq = s.indexOf('=');
      const name = eq >= 0 ? s.slice(2, eq) : s.slice(2);
      const hits = OPTS.filter((o) => o.long.startsWith(name));
      const o = hits.find((x) => x.long === name) ?? (hits.length === 1 ? hits[0] : undefined);
      if (!o) usageError(hits.length > 1 ? `ambiguous option: --${name} could match ${hits.map((x) => `--${x.long}`).join(', ')}` : `unrecognized arguments: ${s}`);
      if (!o.arg) {
        if (eq >= 0) usageError(`argument --${o.long}: ignored explicit argument '${s.slice(eq + 1)}'`);
        set(o, '');
      } else if (eq >= 0) set(o, s.slice(eq + 1));
      else if (i + 1 < argv.length) set(o, argv[++i]);
      else usageError(`argument ${o.short ? `-${o.short}/` : ''}--${o.long}: expected one argument`);
      continue;
    }
    if (s.startsWith('-') && s.length > 1 && !/^-\d/.test(s)) {
      for (let j = 1; j < s.length; j++) {
        const o = OPTS.find((x) => x.short === s[j]);
        if (!o) usageError(`unrecognized arguments: ${s}`);
        if (!o.arg) {
          set(o, '');
          continue;
        }
        const rest = s.slice(j + 1);
        if (rest) set(o, rest.startsWith('=') ? rest.slice(1) : rest);
        else if (i + 1 < argv.length) set(o, argv[++i]);
        else usageError(`argument -${o.short}/--${o.long}: expected one argument`);
        break;
      }
      continue;
    }
    free.push(s);
  }
  for (const f of free) {
    const id = tryParseJobId(f);
    if (id === undefined) usageError(`argument JOBID: invalid JobID value: '${f}'`);
    a.jobids.push({ id, orig: f });
  }
  return a;
}
