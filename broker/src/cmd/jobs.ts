/**
 * `flux jobs [-a] [-A] [-n] [-u USER] [-f STATES] [-c N] [-o FORMAT] [--json] [JOBID...]`:
 * jobs from job-list, as flux-core's flux-jobs(1) prints them (default:
 * pending and running jobs of the current user; `-a` all states).
 */
import * as os from 'node:os';
import { errno, FluxError } from '../common/libflux/errno';
import { FLAG_STREAMING } from '../common/libflux/message';
import { stringifyJson } from '../common/libjob/json';
import { idJson, jsonPayload, payloadJson } from '../common/libjob/rpc-json';
import { STATE_ACTIVE, STATE_INACTIVE, STATE_PENDING, STATE_RUNNING, resultFromString, stateFromString } from '../common/libjob/states';
import { Optparse, has, last } from '../common/liboptparse/optparse';
import { die, open, out, parseOrExit } from './cli';
import { errMsg, jobIdArg } from './job-common';
import { DEFAULT_FORMAT, formatJobs, type JobRecord } from './jobs-format';

const PROG = 'flux-jobs';
const USERID_ALL = 0xffffffff;

const OPTIONS = new Optparse(PROG, [
  { name: 'all', key: 'a', usage: 'List jobs in all states, including inactive' },
  { name: 'all-users', key: 'A', usage: 'List jobs of all users' },
  { name: 'no-header', key: 'n', usage: 'For default output, do not output column headers' },
  { name: 'user', key: 'u', hasArg: 1, arginfo: 'USER', usage: 'List jobs for a specific username or userid. Specify "all" for all users' },
  { name: 'filter', key: 'f', hasArg: 1, arginfo: 'STATE|RESULT', usage: 'List jobs with specific job state or result' },
  { name: 'count', key: 'c', hasArg: 1, arginfo: 'N', usage: 'Limit output to N jobs (default 1000)' },
  { name: 'format', key: 'o', hasArg: 1, arginfo: 'FORMAT', usage: 'Specify output format using Python\'s string format syntax' },
  { name: 'json', usage: 'Emit data for selected jobs in JSON format' },
], '[OPTIONS] [JOBID ...]');

export async function jobs(argv: string[]): Promise<void> {
  const o = parseOrExit(OPTIONS, argv);
  const count = Number(last(o, 'count') ?? 1000);
  if (!Number.isInteger(count) || count < 0) die(PROG, `ERROR: invalid count '${last(o, 'count')}'`);
  let states = has(o, 'all') ? STATE_ACTIVE | STATE_INACTIVE : STATE_PENDING | STATE_RUNNING;
  let results = 0;
  const filter = last(o, 'filter');
  if (filter !== undefined) {
    states = 0;
    for (const f of filter.split(',').map((s) => s.trim()).filter(Boolean)) {
      const st = stateFromString(f);
      const rs = resultFromString(f);
      if (st !== undefined) states |= st;
      else if (rs !== undefined) results |= rs;
      else die(PROG, `ERROR: Invalid filter specified: ${f}`);
    }
  }
  let userid: number = process.getuid?.() ?? 0;
  const user = last(o, 'user');
  if (has(o, 'all-users') || user === 'all') userid = USERID_ALL;
  else if (user !== undefined) {
    if (/^[0-9]+$/.test(user)) userid = Number(user);
    else if (user === os.userInfo().username) userid = os.userInfo().uid;
    else die(PROG, `ERROR: Invalid user ${user}`);
  }
  const fmt = last(o, 'format') ?? DEFAULT_FORMAT;
  const h = await open(PROG);
  let list: JobRecord[];
  try {
    if (o.args.length > 0) {
      list = [];
      for (const a of o.args) {
        const id = jobIdArg(PROG, a);
        try {
          const r = payloadJson<{ job: JobRecord }>(await h.rpc('job-list.list-id', jsonPayload({ id: idJson(id), attrs: ['all'] })).response());
          list.push(r.job);
        } catch (e) {
          process.stderr.write(`${PROG}: ERROR: ${a}: ${errMsg(e)}\n`);
        }
      }
    } else {
      const or: Record<string, unknown>[] = [];
      if (states) or.push({ states: [states] });
      if (results) or.push({ results: [results] });
      const constraint = { and: [{ userid: [userid] }, { or }] };
      const rpc = h.rpc('job-list.list', jsonPayload({ max_entries: count, attrs: ['all'], constraint }), { flags: FLAG_STREAMING });
      list = [];
      for await (const m of rpc) list.push(...payloadJson<{ jobs: JobRecord[] }>(m).jobs);
    }
  } catch (e) {
    if (e instanceof FluxError && e.errnum === errno.ENOSYS) die(PROG, 'ERROR: job-list service is not loaded');
    die(PROG, `ERROR: ${errMsg(e)}`);
  } finally {
    h.close();
  }
  if (has(o, 'json')) {
    out.write(`${stringifyJson(o.args.length === 1 ? list[0] ?? {} : { jobs: list })}\n`);
    return;
  }
  let lines: string[];
  try {
    lines = formatJobs(fmt, list, !has(o, 'no-header'));
  } catch (e) {
    die(PROG, `ERROR: ${errMsg(e)}`);
  }
  for (const l of lines) out.write(`${l}\n`);
}
