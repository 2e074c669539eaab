/**
 * `flux queue list [-q QUEUE,...] [-n]`: flux-core 0.88's default list format
 * (`?:{queuem:<8.8} EN ST TDEFAULT TLIMIT NNODES NCORES NGPUS`): each queue's enabled/started
 * marks, its default and maximum time limits and its job-size ranges from the configuration
 * (`policy.*`, overridden by `queues.NAME.policy.*`), the upper end capped by the resources
 * the instance has (all of resource.R: queue `requires` properties are not applied here).
 * Other `-o` formats are not supported yet.
 */
import type { Flux } from '../common/libflux/handle';
import type { JsonValue } from '../common/libjob/json';
import { Rlist } from '../common/librlist/rlist';
import { parseFsd } from '../common/libutil/fsd';
import { die, out } from './cli';
import { errMsg } from './job-common';
import { fsd } from './jobs-format';
import type { QueueArgs } from './queue';

const PROG = 'flux-queue';
type Conf = Record<string, JsonValue>;

function dig(o: JsonValue | undefined, path: string[]): JsonValue | undefined {
  let cur = o;
  for (const k of path) {
    if (typeof cur !== 'object' || cur === null || Array.isArray(cur)) return undefined;
    cur = cur[k];
  }
  return cur;
}

/** A queue's own policy value, else the instance-wide one. */
function policy(conf: Conf, queue: string | undefined, path: string[]): JsonValue | undefined {
  const own = queue === undefined ? undefined : dig(conf, ['queues', queue, 'policy', ...path]);
  return own ?? dig(conf, ['policy', ...path]);
}

function duration(v: JsonValue | undefined): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    try {
      return parseFsd(v);
    } catch {
      return Infinity;
    }
  }
  return Infinity;
}

/** Python's str() of a limit: ints as ints, unlimited as `inf`. */
function num(v: number): string {
  return Number.isFinite(v) ? String(v) : 'inf';
}

function pad(s: string, w: number, right: boolean): string {
  const len = [...s].length;
  if (len >= w) return s;
  return right ? ' '.repeat(w - len) + s : s + ' '.repeat(w - len);
}

export async function queueList(h: Flux, a: QueueArgs): Promise<void> {
  if (a.format !== undefined && a.format !== 'default') die(PROG, `ERROR: --format=${a.format}: only the default format is supported`);
  let conf: Conf = {};
  let res = { nnodes: 0, ncores: 0, ngpus: 0 };
  try {
    conf = await h.rpc('config.get', {}).get<Conf>();
    const R = (await h.rpc('resource.get', {}, { nodeid: 0 }).get<{ R?: JsonValue }>()).R;
    const rl = Rlist.fromR(typeof R === 'string' ? JSON.parse(R) as JsonValue : R);
    res = { nnodes: rl.nnodes, ncores: rl.ncores, ngpus: rl.ngpus };
  } catch (e) {
    die(PROG, `ERROR: ${errMsg(e)}`);
  }
  const { queues } = await h.rpc('job-manager.queue-list', {}, { nodeid: 0 }).get<{ queues: string[] }>();
  for (const q of a.queues) if (!queues.includes(q)) die(PROG, `ERROR: No such queue: ${q}`);
  const names: Array<string | undefined> = queues.length === 0 ? [undefined] : a.queues.length > 0 ? a.queues : queues;
  const defaultQueue = dig(conf, ['policy', 'jobspec', 'defaults', 'system', 'queue']);
  const tty = process.stdout.isTTY === true;
  const color = (on: boolean): string => (tty ? (on ? '\x1b[01;32m' : '\x1b[01;31m') : '');
  const off = tty ? '\x1b[0;0m' : '';
  const rows: string[][] = [];
  for (const name of names) {
    const st = await h.rpc('job-manager.queue-status', name === undefined ? {} : { name }, { nodeid: 0 }).get<{ enable: boolean; start: boolean }>();
    const range = (key: 'nnodes' | 'ncores' | 'ngpus'): string => {
      const min = policy(conf, name, ['limits', 'job-size', 'min', key]);
      const maxv = policy(conf, name, ['limits', 'job-size', 'max', key]);
      const max = typeof maxv === 'number' && maxv >= 0 ? maxv : Infinity;
      return `${typeof min === 'number' ? min : 0}-${num(Math.min(max, res[key]))}`;
    };
    rows.push([
      name === undefined ? '' : name + (name === defaultQueue ? '*' : ''),
      `${color(st.enable)}${pad(st.enable ? '✔' : '✗', 2, true)}${color(st.enable) ? off : ''}`,
      `${color(st.start)}${pad(st.start ? '✔' : '✗', 2, true)}${color(st.start) ? off : ''}`,
      pad(fsd(duration(policy(conf, name, ['jobspec', 'defaults', 'system', 'duration']))), 8, true),
      pad(fsd(duration(policy(conf, name, ['limits', 'duration']))), 8, true),
      pad(range('nnodes'), 10, true),
      pad(range('ncores'), 10, true),
      pad(range('ngpus'), 10, true),
    ]);
  }
  // `?:` drops the QUEUE column when no queue has a name (the anonymous queue).
  const withQueue = rows.some((r) => r[0] !== '');
  const line = (cells: string[]): string => (withQueue ? [pad([...cells[0]].slice(0, 8).join(''), 8, false), ...cells.slice(1)] : cells.slice(1)).join(' ');
  if (!a.noHeader) out.write(`${line(['QUEUE', 'EN', 'ST', 'TDEFAULT', '  TLIMIT', '    NNODES', '    NCORES', '     NGPUS'])}\n`);
  for (const r of rows) out.write(`${line(r)}\n`);
}
