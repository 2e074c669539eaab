/**
 * `flux queue status|enable|disable|start|stop|idle|drain|list` as flux-core 0.88's
 * flux-queue(1) has them: the queue named as a free argument (`-q NAME` still taken), `-a/--all`,
 * `--quiet`, `-v/--verbose` (adds job-manager's alloc counts), `-m/--message REASON` and
 * `--nocheckpoint` for disable and stop, `-t/--timeout FSD` for idle and drain. Errors are the
 * Python tool's: `flux-queue: ERROR: start: <text>`, exit 1; usage errors exit 2.
 */
import type { Flux } from '../common/libflux/handle';
import type { JsonValue } from '../common/libjob/json';
import { parseFsd } from '../common/libutil/fsd';
import { Exit, die, errln, open, out } from './cli';
import { errMsg } from './job-common';
import { queueList } from './queue-list';

const PROG = 'flux-queue';
const SUBCOMMANDS = ['list', 'status', 'enable', 'disable', 'start', 'stop', 'drain', 'idle'];

interface Status {
  enable: boolean;
  start: boolean;
  disable_reason?: string;
  stop_reason?: string;
}

/** What a subcommand was given (argparse's namespace). */
export interface QueueArgs {
  queue?: string;
  all: boolean;
  quiet: boolean;
  verbose: boolean;
  nocheckpoint: boolean;
  message?: string;
  timeout: number;
  format?: string;
  noHeader: boolean;
  queues: string[];
}

interface Opt {
  long: string;
  short?: string;
  arg?: string;
  help: string;
}

function optionsOf(cmd: string): Opt[] {
  if (cmd === 'list') {
    return [
      { long: 'queue', short: 'q', arg: 'QUEUE,...', help: 'Include only specified queues in output' },
      { long: 'format', short: 'o', arg: 'FORMAT', help: 'Specify output format using Python\'s string format syntax or a defined format by name (use \'help\' to get a list of names)' },
      { long: 'no-header', short: 'n', help: 'Suppress header output' },
    ];
  }
  if (cmd === 'drain' || cmd === 'idle') {
    const o: Opt[] = [{ long: 'timeout', short: 't', arg: 'DURATION', help: 'timeout after DURATION' }];
    if (cmd === 'idle') o.push({ long: 'quiet', help: 'Only display pending job count if nonzero' });
    return o;
  }
  const o: Opt[] = [{ long: 'queue', short: 'q', arg: 'NAME', help: '' }];
  if (cmd !== 'status') {
    o.push({ long: 'all', short: 'a', help: 'Force command to apply to all queues if none specified' });
    o.push({ long: 'quiet', help: 'Display only errors' });
  }
  o.push({ long: 'verbose', short: 'v', help: 'Display more detail about internal job manager state' });
  if (cmd === 'stop' || cmd === 'disable') {
    const verb = cmd === 'stop' ? 'stopped' : 'disabled';
    o.push({ long: 'nocheckpoint', help: `Do not checkpoint that the queue has been ${verb}` });
    o.push({ long: 'message', short: 'm', arg: 'REASON', help: `Add reason that a queue is ${verb}` });
  }
  return o;
}

function usageLine(cmd: string): string {
  const parts = optionsOf(cmd).filter((o) => o.help !== '').map((o) => {
    const flag = o.short ? `-${o.short}` : `--${o.long}`;
    return o.arg ? `[${flag} ${o.arg}]` : `[${flag}]`;
  });
  const pos = cmd === 'list' || cmd === 'drain' || cmd === 'idle' ? '' : ' [QUEUE]';
  return `usage: ${PROG} ${cmd} [-h] ${parts.join(' ')}${pos}`.replace(/ +$/, '');
}

/** argparse's way out: usage and the error on stderr, exit 2. */
function usageError(cmd: string | undefined, msg: string): never {
  if (cmd === undefined) {
    errln(`usage: ${PROG} [-h] {${SUBCOMMANDS.join(',')}} ...`);
    errln(`${PROG}: error: ${msg}`);
  } else {
    errln(usageLine(cmd));
    errln(`${PROG} ${cmd}: error: ${msg}`);
  }
  throw new Exit(2);
}

function help(cmd: string): never {
  const lines = [usageLine(cmd), ''];
  if (!['list', 'drain', 'idle'].includes(cmd)) lines.push('positional arguments:', `  QUEUE                 Queue to ${cmd}`, '');
  lines.push('options:', '  -h, --help            show this help message and exit');
  for (const o of optionsOf(cmd)) {
    if (o.help === '') continue;
    const flags = `${o.short ? `-${o.short}, ` : ''}--${o.long}${o.arg ? `=${o.arg}` : ''}`;
    lines.push(flags.length <= 20 ? `  ${flags.padEnd(22)}${o.help}` : `  ${flags}\n${' '.repeat(24)}${o.help}`);
  }
  out.write(lines.join('\n') + '\n');
  throw new Exit(0);
}

/** Options anywhere among the arguments, as argparse takes them. */
export function parseQueueArgs(cmd: string, argv: string[]): QueueArgs {
  const opts = optionsOf(cmd);
  const a: QueueArgs = { all: false, quiet: false, verbose: false, nocheckpoint: false, timeout: -1, noHeader: false, queues: [] };
  const free: string[] = [];
  let oldQueue: string | undefined;
  const set = (o: Opt, v: string): void => {
    switch (o.long) {
      case 'queue':
        if (cmd === 'list') a.queues.push(...v.split(',').filter(Boolean));
        else oldQueue = v;
        break;
      case 'all': a.all = true; break;
      case 'quiet': a.quiet = true; break;
      case 'verbose': a.verbose = true; break;
      case 'nocheckpoint': a.nocheckpoint = true; break;
      case 'message': a.message = v; break;
      case 'format': a.format = v; break;
      case 'no-header': a.noHeader = true; break;
      case 'timeout':
        try {
          a.timeout = parseFsd(v);
        } catch {
          usageError(cmd, `argument -t/--timeout: invalid Flux standard duration: '${v}'`);
        }
        break;
      default: break;
    }
  };
  for (let i = 0; i < argv.length; i++) {
    const s = argv[i];
    if (s === '-h' || s === '--help') help(cmd);
    if (s === '--') {
      free.push(...argv.slice(i + 1));
      break;
    }
    if (s.startsWith('--')) {
      const eq = s.indexOf('=');
      const name = eq >= 0 ? s.slice(2, eq) : s.slice(2);
      const hits = opts.filter((o) => o.long === name || o.long.startsWith(name));
      const o = hits.find((h) => h.long === name) ?? (hits.length === 1 ? hits[0] : undefined);
      if (!o) usageError(cmd, hits.length > 1 ? `ambiguous option: ${s}` : `unrecognized arguments: ${s}`);
      if (!o.arg) {
        if (eq >= 0) usageError(cmd, `argument --${o.long}: ignored explicit argument '${s.slice(eq + 1)}'`);
        set(o, '');
      } else if (eq >= 0) set(o, s.slice(eq + 1));
      else if (i + 1 < argv.length) set(o, argv[++i]);
      else usageError(cmd, `argument ${o.short ? `-${o.short}/` : ''}--${o.long}: expected one argument`);
      continue;
    }
    if (s.startsWith('-') && s.length > 1) {
      for (let j = 1; j < s.length; j++) {
        const o = opts.find((x) => x.short === s[j]);
        if (!o) usageError(cmd, `unrecognized arguments: ${s}`);
        if (!o.arg) {
          set(o, '');
          continue;
        }
        const rest = s.slice(j + 1);
        if (rest) set(o, rest);
        else if (i + 1 < argv.length) set(o, argv[++i]);
        else usageError(cmd, `argument -${o.short}/--${o.long}: expected one argument`);
        break;
      }
      continue;
    }
    free.push(s);
  }
  const maxFree = ['list', 'drain', 'idle'].includes(cmd) ? 0 : 1;
  if (free.length > maxFree) usageError(cmd, `unrecognized arguments: ${free.slice(maxFree).join(' ')}`);
  a.queue = free[0];
  if (oldQueue !== undefined) {
    if (a.queue !== undefined) die(PROG, `ERROR: Conflicting queues specified as --queue=${oldQueue} and ${a.queue}`);
    a.queue = oldQueue;
  }
  return a;
}

/** An RPC to job-manager on rank 0; failures print `flux-queue: ERROR: WHAT: text` and exit 1. */
async function jm<T>(h: Flux, what: string, topic: string, payload: Record<string, JsonValue> = {}, timeout = -1): Promise<T> {
  const rpc = h.rpc(topic, payload, { nodeid: 0 });
  let timer: NodeJS.Timeout | undefined;
  try {
    const waits: Array<Promise<T>> = [rpc.get<T>()];
    if (timeout >= 0) {
      waits.push(new Promise<T>((_, reject) => {
        timer = setTimeout(() => reject(new Error('timeout')), timeout * 1000);
      }));
    }
    return await Promise.race(waits);
  } catch (e) {
    return die(PROG, `ERROR: ${what}: ${errMsg(e)}`);
  } finally {
    if (timer) clearTimeout(timer);
  }
}

function enableLine(name: string | undefined, s: Status): string {
  const text = s.enable ? 'Job submission is enabled' : `Job submission is disabled: ${s.disable_reason ?? ''}`;
  return name ? `${name}: ${text}` : text;
}

function startLine(name: string | undefined, s: Status): string {
  const text = s.start ? 'Scheduling is started' : `Scheduling is stopped${s.stop_reason ? `: ${s.stop_reason}` : ''}`;
  return name ? `${name}: ${text}` : text;
}

/** Every queue's status (or the one named, unless -v), as flux-queue's queue_status_get does. */
async function statuses(h: Flux, queue: string | undefined, verbose: boolean): Promise<Array<[string | undefined, Status]>> {
  const list = await jm<{ queues: string[] }>(h, 'list', 'job-manager.queue-list');
  const one = (name?: string): Promise<Status> => jm<Status>(h, 'status', 'job-manager.queue-status', name ? { name } : {});
  const r: Array<[string | undefined, Status]> = [];
  if (queue === undefined || verbose) {
    if (list.queues.length > 0) for (const q of list.queues) r.push([q, await one(q)]);
    else r.push([queue, await one()]);
  } else r.push([queue, await one(queue)]);
  return r;
}

async function allocQuery(h: Flux): Promise<void> {
  const q = await jm<{ queue_length: number; alloc_pending: number; running: number }>(h, 'alloc-query', 'job-manager.alloc-query');
  out.write(`${q.queue_length} alloc requests queued\n${q.alloc_pending} alloc requests pending to scheduler\n${q.running} running jobs\n`);
}

async function run(h: Flux, cmd: string, a: QueueArgs): Promise<void> {
  const target: Record<string, JsonValue> = a.queue !== undefined ? { name: a.queue } : {};
  switch (cmd) {
    case 'status': {
      for (const [n, s] of await statuses(h, a.queue, a.verbose)) out.write(`${enableLine(n, s)}\n${startLine(n, s)}\n`);
      if (a.verbose) await allocQuery(h);
      return;
    }
    case 'enable':
    case 'disable': {
      const enable = cmd === 'enable';
      const payload: Record<string, JsonValue> = { enable, all: a.all, ...target };
      if (!enable) payload.reason = a.message ?? 'disabled by administrator';
      await jm(h, 'enable', 'job-manager.queue-enable', payload);
      if (!a.quiet) for (const [n, s] of await statuses(h, a.queue, a.verbose)) out.write(`${enableLine(n, s)}\n`);
      return;
    }
    case 'start':
    case 'stop': {
      if (a.queue === undefined && !a.all) {
        const list = await jm<{ queues: string[] }>(h, 'list', 'job-manager.queue-list');
        if (list.queues.length > 0) die(PROG, 'ERROR: Named queues are defined. Specify queues or use --all.');
      }
      const payload: Record<string, JsonValue> = { start: cmd === 'start', all: a.all, nocheckpoint: a.nocheckpoint, ...target };
      if (cmd === 'stop' && a.message) payload.reason = a.message;
      await jm(h, 'start', 'job-manager.queue-start', payload);
      if (!a.quiet) {
        for (const [n, s] of await statuses(h, a.queue, a.verbose)) out.write(`${startLine(n, s)}\n`);
        if (a.verbose) await allocQuery(h);
      }
      return;
    }
    case 'drain':
      await jm(h, 'drain', 'job-manager.drain', {}, a.timeout);
      return;
    case 'idle': {
      const r = await jm<{ pending: number }>(h, 'idle', 'job-manager.idle', {}, a.timeout);
      if (!a.quiet || r.pending > 0) out.write(`${r.pending} jobs\n`);
      return;
    }
    default:
      await queueList(h, a);
  }
}

export async function queue(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  if (cmd === '-h' || cmd === '--help') {
    out.write(`usage: ${PROG} [-h] {${SUBCOMMANDS.join(',')}} ...\n\noptions:\n  -h, --help            show this help message and exit\n\nsubcommands:\n  {${SUBCOMMANDS.join(',')}}\n`);
    return;
  }
  if (cmd === undefined) usageError(undefined, 'the following arguments are required: subcommand');
  if (!SUBCOMMANDS.includes(cmd)) usageError(undefined, `argument subcommand: invalid choice: '${cmd}' (choose from ${SUBCOMMANDS.map((s) => `'${s}'`).join(', ')})`);
  const a = parseQueueArgs(cmd, rest);
  const h = await open(PROG);
  try {
    await run(h, cmd, a);
  } finally {
    h.close();
  }
}
