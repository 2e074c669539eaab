/**
 * `flux pstree [OPTIONS] [JOBID...]`: flux-core 0.88's flux-pstree(1) for this instance: the
 * enclosing instance as `.` and its jobs under it (from job-list: running ones by default, `-a`
 * every state, `-f STATES|RESULTS`), identical jobs combined (`4*[sleep]`, `-X` not), labels
 * from `-o/--label` and `--parent-label` formats (`{name}`, `{name}:{status_abbrev}` with -a),
 * a details column before the tree (`-x`, `-d default`, `--detail-format`), box, compact (`-C`)
 * or ASCII (`--ascii`) connectors, lines cut at the terminal width unless `-l`.
 * Our jobs are never Flux instances themselves, so the tree has one level under the root;
 * the instance-only detail formats (resources, progress, stats) are refused for now.
 */
import * as os from 'node:os';
import { FLAG_STREAMING } from '../common/libflux/message';
import { idJson, jsonPayload, payloadJson } from '../common/libjob/rpc-json';
import { STATE_RUN, resultFromString, stateFromString } from '../common/libjob/states';
import { Exit, die, errln, open, out } from './cli';
import { errMsg } from './job-common';
import { formatJobs, type JobRecord } from './jobs-format';
import { Tree, type TreeStyle } from './pstree-tree';
import { parsePstreeArgs, type PstreeArgs } from './pstree-args';

const PROG = 'flux-pstree';

const DETAILS: Record<string, string> = {
  default: '{id.f58:>12} {username:<8.8} {status_abbrev:>2.2} {ntasks:>6h} {nnodes:>6h} {runtime!F:>8h}',
};
const INSTANCE_DETAILS = ['resources', 'progress', 'stats'];

/** One job-list record through a format (the root's id shows as `.`, as flux-core's RootJobID). */
function fmt(format: string, job: JobRecord, root: boolean): string {
  const f = root ? format.replace(/\{id(\.[a-z0-9]+)?(?=[!:}])/g, '{name') : format;
  return formatJobs(f, [job], false)[0] ?? '';
}

/** job-list states/results bits for a `-f` list, as flux-core's JobList filters take them. */
function filterBits(filter: string): { states: number; results: number } {
  let states = 0;
  let results = 0;
  for (const f of filter.split(',').map((s) => s.trim()).filter(Boolean)) {
    const st = f === 'pending' ? 14 : f === 'running' ? 48 : f === 'active' ? 62 : stateFromString(f);
    const rs = resultFromString(f);
    if (st !== undefined) states |= st;
    else if (rs !== undefined) results |= rs;
    else die(PROG, `ERROR: Invalid filter specified: ${f}`);
  }
  return { states, results };
}

function terminalWidth(): number {
  const cols = Number(process.env.COLUMNS);
  if (Number.isInteger(cols) && cols > 0) return cols;
  return process.stdout.isTTY ? process.stdout.columns : 132;
}

export async function pstree(argv: string[]): Promise<void> {
  const a: PstreeArgs = parsePstreeArgs(argv);
  if (a.jobids.length > 0 && a.filtered) errln(`${PROG}: WARNING: filtering options ignored with jobid list`);
  if (a.ascii && a.compact) errln(`${PROG}: CRITICAL: Choose only one of --ascii, --compact`);
  const filter = a.all ? 'pending,running,inactive' : a.filter;

  // Labels: -o sets both; -a shows the state of leaves; -p puts ids before parents.
  let label = a.label;
  let parentLabel = a.parentLabel ?? label;
  if (a.all) {
    label ??= '{name}:{status_abbrev}';
    parentLabel ??= '{name}';
  }
  label ??= '{name}';
  parentLabel ??= '{name}';
  if (a.parentIds) parentLabel = `{id.f58} ${parentLabel}`;
  let prefixFmt: string | undefined;
  if (a.extended || a.details !== undefined || a.detailFormat !== undefined) {
    const details = a.details ?? 'default';
    prefixFmt = a.detailFormat ?? DETAILS[details];
    if (prefixFmt === undefined) {
      if (INSTANCE_DETAILS.includes(details)) die(PROG, `ERROR: --details=${details}: instance details are not supported here`);
      die(PROG, `ERROR: Unknown --details format '${details}'`);
    }
  }
  const skipRoot = a.skipRoot ?? (prefixFmt !== undefined || a.jobids.length > 0);

  const h = await open(PROG);
  let tree: Tree;
  try {
    let rootLabel = '.';
    let rootPrefix = '';
    if (!skipRoot) {
      // The enclosing instance as flux-core mocks it when it is not itself a job.
      const attr = async (n: string): Promise<string> => (await h.rpc('attr.get', { name: n }).get<{ value: string }>()).value;
      const size = Number(await attr('size'));
      const root: JobRecord = {
        id: 0, userid: Number(await attr('security.owner')), state: STATE_RUN, name: '.', ntasks: size, nnodes: size,
        ranks: `0-${size - 1}`,
      };
      try {
        root.t_run = Number(await attr('broker.starttime'));
      } catch {
        // no start time: runtime shows as unset
      }
      rootLabel = fmt(parentLabel, root, true);
      if (prefixFmt !== undefined) rootPrefix = fmt(prefixFmt, root, true);
    }
    tree = new Tree(rootLabel, rootPrefix, a.combine);
    const jobs: JobRecord[] = [];
    if (a.jobids.length > 0) {
      for (const id of a.jobids) {
        try {
          const r = payloadJson<{ job: JobRecord }>(await h.rpc('job-list.list-id', jsonPayload({ id: idJson(id.id), attrs: ['all'] })).response());
          jobs.push(r.job);
        } catch {
          errln(`JobID ${id.orig} unknown`);
        }
      }
    } else {
      // flux-core lists the top level as running jobs when the root is skipped.
      const { states, results } = filterBits(skipRoot ? 'running' : filter);
      const or: Record<string, unknown>[] = [];
      if (states) or.push({ states: [states] });
      if (results) or.push({ results: [results] });
      const constraint = { and: [{ userid: [os.userInfo().uid] }, { or }] };
      const rpc = h.rpc('job-list.list', jsonPayload({ max_entries: a.count, attrs: ['all'], constraint }), { flags: FLAG_STREAMING });
      for await (const m of rpc) jobs.push(...payloadJson<{ jobs: JobRecord[] }>(m).jobs);
    }
    if (a.level >= 0) {
      for (const job of jobs) tree.appendTree(new Tree(fmt(label, job, false), prefixFmt !== undefined ? fmt(prefixFmt, job, false) : ''));
    }
  } catch (e) {
    if (e instanceof Exit) throw e;
    die(PROG, `ERROR: ${errMsg(e)}`);
  } finally {
    h.close();
  }
  const style: TreeStyle = a.compact ? 'compact' : a.ascii ? 'ascii' : 'box';
  if (prefixFmt !== undefined && !a.noHeader) out.write(`${formatJobs(prefixFmt, [], true)[0]}\n`);
  for (const l of tree.render({ style, skipRoot, width: a.truncate ? terminalWidth() : undefined })) out.write(`${l}\n`);
}
