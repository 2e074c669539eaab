/**
 * `flux ion-resource`: the front end of sched-fluxion-resource's RPCs, with
 * flux-sched 0.54's sub-commands and output (fluxion-ion-resource.txt):
 *
 *   match allocate|allocate_with_satisfiability|allocate_orelse_reserve|
 *         without_allocating|without_allocating_future|satisfiability JOBSPEC
 *   info JOBID, cancel JOBID, find [--format F] [-q] CRITERIA, status,
 *   set-status PATH up|down, stats, stats-cancel, params
 *
 * Errors print as flux-sched's Python does (`OSError: error(16): Device or
 * resource busy`, exit status the errno; `FileNotFoundError: error(2): ...`, 3).
 * A jobspec may be JSON or YAML-free JSON only (no PyYAML here).
 */
import * as fs from 'node:fs';
import { FluxError, strerror, errno } from '../common/libflux/errno';
import { parseJobId } from '../common/libjob/jobid';
import { jsonPayload } from '../common/libjob/rpc-json';
import { MATCH_CMDS } from '../common/libfluxion/match-cmd';
import { Exit, errln, open, out } from './cli';

const PROG = 'flux-ion-resource.py';
const SVC = 'sched-fluxion-resource';
const SUBCMDS = ['match', 'update', 'info', 'stats', 'stats-cancel', 'cancel', 'partial-cancel', 'find', 'status', 'set-status', 'set-property', 'remove-property', 'get-property', 'ns-info', 'params', 'add-subgraph', 'remove-subgraph'];

/** Python's json.dumps layout: `, ` and `: ` separators, non-ASCII kept. */
export function pyDumps(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : 'null';
  if (typeof v === 'string' || typeof v === 'boolean') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(pyDumps).join(', ')}]`;
  return `{${Object.entries(v as Record<string, unknown>).map(([k, x]) => `${JSON.stringify(k)}: ${pyDumps(x)}`).join(', ')}}`;
}

const col = (s: string): string => s.padEnd(20) + ' ';

function isoLocal(sec: number): string {
  const d = new Date(sec * 1000);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

function fail(e: unknown): never {
  const n = e instanceof FluxError ? e.errnum : (e as { errnum?: number }).errnum ?? errno.EIO;
  const msg = e instanceof FluxError ? (e.hasText ? e.message : strerror(n)) : e instanceof Error ? e.message : String(e);
  if (n === errno.ENOENT) {
    errln(`FileNotFoundError: error(2): ${msg}`);
    throw new Exit(3);
  }
  errln(`OSError: error(${n}): ${msg}`);
  throw new Exit(n);
}

function usage(sub?: string): string {
  if (sub === 'match') {
    return `usage: ${PROG} match [-h]\n${' '.repeat(PROG.length + 14)}{${MATCH_CMDS.join(',')}}\n${' '.repeat(PROG.length + 14)}...\n`;
  }
  return `usage: ${PROG} [-h] [-v]\n${' '.repeat(PROG.length + 8)}{${SUBCMDS.join(',')}}\n${' '.repeat(PROG.length + 8)}...\n`;
}

const HELP = `
Front-end command for sched-fluxion-resource module for testing. Provide 4
sub-commands. For sub-command usage, ${PROG} <sub-command> --help

options:
  -h, --help            show this help message and exit
  -v, --verbose         be verbose

Available Commands:
  match                 Find the best matching resources for a jobspec.
  info                  Print info on a single job.
  stats                 Print overall performance statistics.
  stats-cancel          Clear overall performance statistics.
  cancel                Cancel an allocated or reserved job.
  find                  Find resources matching with a criteria.
  status                Display resource status.
  set-status            Set up/down status of a resource vertex.
  params                Display the module's parameter values.
`;

function argError(msg: string, sub?: string): never {
  process.stderr.write(usage(sub));
  errln(`${PROG}${sub ? ` ${sub}` : ''}: error: ${msg}`);
  throw new Exit(2);
}

function jobid(s: string | undefined, sub: string): bigint {
  if (s === undefined) argError('the following arguments are required: Jobid', sub);
  try {
    return parseJobId(s);
  } catch {
    argError(`argument Jobid: invalid value: '${s}'`, sub);
  }
}

function jobHeader(): string {
  return `${col('JOBID')}${col('STATUS')}${col('AT')}${'OVERHEAD (Secs)'.padEnd(20)}\n`;
}

function jobLine(id: unknown, status: string, at: number, overhead: number): string {
  return `${col(String(id))}${col(status)}${col(isoLocal(at))}${String(overhead).padEnd(20)}\n`;
}

export async function ionResource(argv: string[]): Promise<void> {
  const args = argv.filter((a) => a !== '-v' && a !== '--verbose');
  const sub = args[0];
  if (sub === '-h' || sub === '--help') {
    out.write(usage() + HELP);
    return;
  }
  if (sub === undefined) {
    process.stderr.write(usage());
    errln('');
    errln('A subcommand is required.');
    throw new Exit(1);
  }
  if (!SUBCMDS.includes(sub)) argError(`argument subcommand: invalid choice: '${sub}' (choose from ${SUBCMDS.map((s) => `'${s}'`).join(', ')})`);
  const rest = args.slice(1);
  if (rest.includes('-h') || rest.includes('--help')) {
    out.write(`${usage(sub)}\n`);
    return;
  }
  const h = await open(PROG);
  try {
    const rpc = async <T>(method: string, payload: unknown): Promise<T> => {
      try {
        return await h.rpc(`${SVC}.${method}`, jsonPayload(payload), { nodeid: 0 }).get<T>();
      } catch (e) {
        fail(e);
      }
    };
    switch (sub) {
      case 'match': {
        const cmd = rest[0];
        if (!cmd || !(MATCH_CMDS as string[]).includes(cmd)) argError(cmd ? `argument {${MATCH_CMDS.join(',')}}: invalid choice: '${cmd}'` : 'A subcommand is required', 'match');
        const file = rest[1];
        if (file === undefined) argError('the following arguments are required: Jobspec', `match ${cmd}`);
        let jobspec: string;
        try {
          jobspec = fs.readFileSync(file, 'utf8');
        } catch {
          fail(new FluxError(errno.ENOENT, 'No such file or directory'));
        }
        let js: unknown;
        try {
          js = JSON.parse(jobspec);
        } catch {
          fail(new FluxError(errno.EINVAL, 'jobspec is not JSON'));
        }
        const r = await rpc<{ jobid: unknown; status: string; at: number; overhead: number; R: string }>('match', { cmd, jobspec: js });
        if (cmd === 'satisfiability') {
          out.write(`${'='.repeat(80)}\nSatisfiable request\n${'='.repeat(80)}\n`);
          return;
        }
        out.write(jobHeader() + jobLine(r.jobid, r.status, r.at, r.overhead));
        out.write(`${'='.repeat(80)}\nMATCHED RESOURCES:\n${pyDumps(JSON.parse(r.R))}\n\n`);
        return;
      }
      case 'info': {
        const r = await rpc<{ jobid: unknown; status: string; at: number; overhead: number }>('info', { jobid: jobid(rest[0], 'info') });
        out.write(jobHeader() + jobLine(r.jobid, r.status, r.at, r.overhead));
        return;
      }
      case 'cancel':
        await rpc('cancel', { jobid: jobid(rest[0], 'cancel') });
        return;
      case 'stats': {
        const r = await rpc<Record<string, unknown>>('stats-get', {});
        const m = r.match as { succeeded: Record<string, unknown>; failed: Record<string, unknown> };
        out.write(`Num. of Vertices:  ${String(r.V)}\nNum. of Edges:  ${String(r.E)}\nNum. of Vertices by Rank:  ${pyDumps(r.by_rank)}\n`);
        out.write(`Num. of Vertices by Type:  ${pyDumps(r.by_type)}\n`);
        out.write(`Graph Load Time:  ${String(r['load-time'])}\nGraph Upime:  ${String(r['graph-uptime'])}\nTime Since Stats Reset:  ${String(r['time-since-reset'])}\n`);
        const st = (x: Record<string, unknown>): string => Object.entries(x.stats as Record<string, number>).map(([k, v]) => `${k}=${v}`).join(' ');
        out.write(`Num. of Jobs Matched:  ${String(m.succeeded.njobs)}\nMatch Succeeded Stats (Secs):  ${st(m.succeeded)}\n`);
        out.write(`Num. of Jobs Failed:  ${String(m.failed.njobs)}\nMatch Failed Stats (Secs):  ${st(m.failed)}\n`);
        return;
      }
      case 'stats-cancel':
        await rpc('stats-clear', {});
        return;
      case 'find': {
        let format: string | undefined;
        let quiet = false;
        const pos: string[] = [];
        for (let i = 0; i < rest.length; i++) {
          if (rest[i] === '-q' || rest[i] === '--quiet') quiet = true;
          else if (rest[i] === '--format') format = rest[++i];
          else if (rest[i].startsWith('--format=')) format = rest[i].slice(9);
          else pos.push(rest[i]);
        }
        if (pos.length === 0) argError('the following arguments are required: Criteria', 'find');
        const criteria = pos.join(' ');
        const r = await rpc<{ R: unknown }>('find', { criteria, ...(format ? { format } : {}) });
        if (!quiet) out.write(`CRITERIA\n'${criteria}'\n${'='.repeat(80)}\nMATCHED RESOURCES:\n`);
        out.write(`${pyDumps(r.R)}\n`);
        return;
      }
      case 'status': {
        const r = await rpc<Record<string, unknown>>('status', {});
        out.write(`${pyDumps(r)}\n`);
        return;
      }
      case 'set-status': {
        if (rest.length < 2 || !['up', 'down'].includes(rest[1])) argError('the following arguments are required: resource_path, status (up|down)', 'set-status');
        await rpc('set-status', { resource_path: rest[0], status: rest[1] });
        return;
      }
      case 'params': {
        const r = await rpc<{ params: string }>('params', {});
        out.write(`${pyDumps({ params: JSON.parse(r.params) as unknown })}\n`);
        return;
      }
      default:
        fail(new FluxError(errno.ENOSYS, `${sub}: not supported by this sched-fluxion-resource`));
    }
  } finally {
    h.close();
  }
}
