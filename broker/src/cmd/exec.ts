/**
 * `flux exec [OPTIONS] COMMAND...`: run COMMAND on broker ranks through their
 * `rexec` service (RFC 42), as flux-core's flux-exec does: output copied to
 * our stdout/stderr (optionally labelled `RANK: `), stdin broadcast to every
 * target within the credits each one granted, SIGINT/SIGTERM forwarded with
 * `rexec.kill`, a summary of failures per idset on stderr (`[1-3]: Exit 2`),
 * and the exit code flux-core computes (the largest remote code, 128+signal,
 * 126/127/68/1 for launch failures).
 */
import * as os from 'node:os';
import { isUtf8 } from 'node:buffer';
import { errno, FluxError, strerror } from '../common/libflux/errno';
import type { Flux, Rpc } from '../common/libflux/handle';
import { FLAG_NORESPONSE, FLAG_STREAMING, getJson } from '../common/libflux/message';
import { decodeIdset, encodeIdset } from '../common/libidset/idset';
import { Optparse, has, last } from '../common/liboptparse/optparse';
import { Exit, die, errText, errln, open, parseOrExit, usageExit } from './cli';

const PROG = 'flux-exec';

/** RFC 42 exec flags. */
const REXEC_STDOUT = 1;
const REXEC_STDERR = 2;
const REXEC_WRITE_CREDIT = 8;
const REXEC_WAITABLE = 16;

/** Time within which a third Ctrl-C ends flux exec (flux-core's INTERRUPT_MILLISECS). */
const INTERRUPT_MS = 1000;

class ExecOptparse extends Optparse {
  // liboptparse keeps the two spaces inside a usage text; our wrapper folds them.
  override usage(): string {
    const pad = ' '.repeat(25);
    return super.usage()
      .replace('Specify target ranks. Default', 'Specify target ranks.  Default')
      .replace(`JOBID and service\n${pad}name to`, `JOBID and\n${pad}service name to`);
  }
}

const OPTIONS = new ExecOptparse(PROG, [
  { name: 'rank', key: 'r', hasArg: 1, arginfo: 'IDSET', usage: 'Specify target ranks.  Default is "all"' },
  { name: 'exclude', key: 'x', hasArg: 1, arginfo: 'IDSET', usage: 'Exclude ranks from target.' },
  { name: 'bg', usage: 'Run process in background and exit' },
  { name: 'waitable', usage: 'Process remains a zombie until exit status is collected' },
  { name: 'attach', usage: 'Attach to a running background process (arg is pid or label)' },
  { name: 'label', hasArg: 1, arginfo: 'LABEL', usage: 'Set a remote process label.' },
  { name: 'dir', key: 'd', hasArg: 1, arginfo: 'PATH', usage: 'Set the working directory to PATH' },
  { name: 'label-io', key: 'l', usage: 'Label lines of output with the source RANK' },
  { name: 'noinput', key: 'n', usage: 'Redirect stdin from /dev/null' },
  { name: 'verbose', key: 'v', usage: 'Run with more verbosity.' },
  { name: 'quiet', key: 'q', usage: 'Suppress extraneous output.' },
  { name: 'service', hasArg: 1, arginfo: 'NAME', hidden: true, usage: 'Override service name (default: rexec).' },
  { name: 'setopt', hasArg: 1, arginfo: 'NAME=VALUE', hidden: true, usage: 'Set subprocess option NAME to VALUE (multiple use ok)' },
  { name: 'stdin-flow', hasArg: 1, arginfo: 'on|off', hidden: true, usage: 'Forcibly enable or disable stdin flow control' },
  { name: 'with-imp', usage: "Run args under 'flux-imp run'" },
  { name: 'jobid', key: 'j', hasArg: 1, arginfo: 'JOBID', usage: 'Set target ranks to nodes assigned to JOBID and service name to job shell exec service' },
], '[OPTIONS]...');

// --- pure parts (unit tested) ------------------------------------------------

/** An idset as flux-core's idset_encode(RANGE|BRACKETS) writes it: brackets only around more than one id. */
export function encodeIdsetBrackets(ids: Iterable<number>): string {
  const set = [...new Set(ids)];
  const s = encodeIdset(set);
  return set.length > 1 ? `[${s}]` : s;
}

/** glibc's strsignal() texts. */
const SIGNAL_TEXT: Record<number, string> = {
  1: 'Hangup', 2: 'Interrupt', 3: 'Quit', 4: 'Illegal instruction', 5: 'Trace/breakpoint trap',
  6: 'Aborted', 7: 'Bus error', 8: 'Floating point exception', 9: 'Killed', 10: 'User defined signal 1',
  11: 'Segmentation fault', 12: 'User defined signal 2', 13: 'Broken pipe', 14: 'Alarm clock',
  15: 'Terminated', 16: 'Stack fault', 17: 'Child exited', 18: 'Continued', 19: 'Stopped (signal)',
  20: 'Stopped', 21: 'Stopped (tty input)', 22: 'Stopped (tty output)', 23: 'Urgent I/O condition',
  24: 'CPU time limit exceeded', 25: 'File size limit exceeded', 26: 'Virtual timer expired',
  27: 'Profiling timer expired', 28: 'Window changed', 29: 'I/O possible', 30: 'Power failure',
  31: 'Bad system call',
};

export function strsignal(signum: number): string {
  if (SIGNAL_TEXT[signum]) return SIGNAL_TEXT[signum];
  if (signum >= 32 && signum <= 64) return `Real-time signal ${signum - 32}`;
  return `Unknown signal ${signum}`;
}

/**
 * What a wait status means for flux exec: the exit code it counts (128+signal
 * for a signal) and the summary key for a failure (`Exit N` or the signal's
 * name), undefined for success.
 */
export function exitOf(status: number): { code: number; key: string | undefined } {
  const sig = status & 0x7f;
  if (sig === 0) {
    const code = (status >> 8) & 0xff;
    return { code, key: code > 0 ? `Exit ${code}` : undefined };
  }
  if (sig === 0x7f) return { code: 0, key: undefined }; // stopped: not an ending
  return { code: 128 + sig, key: strsignal(sig) };
}

/** Exit code for a process that could not be launched (bash's convention, as flux-core uses it). */
export function launchFailureCode(errnum: number): number {
  if (errnum === errno.EPERM || errnum === errno.EACCES) return 126;
  if (errnum === errno.ENOENT) return 127;
  if (errnum === errno.EHOSTUNREACH) return 68; // EX_NOHOST
  return 1;
}

/**
 * flux-core's filter_ranks(): `include` ("all" or an idset of indices into
 * `ranks`) and `exclude` (ranks, or indices when `relative`). Throws the
 * message flux-exec exits with.
 */
export function filterRanks(ranks: number[], include: string, exclude: string | undefined, relative: boolean): number[] {
  let inc: number[] | undefined;
  if (include !== 'all') {
    try {
      inc = decodeIdset(include);
    } catch {
      throw new FluxError(errno.EINVAL, `failed to decode idset '${include}': ${strerror(errno.EINVAL)}`);
    }
    if (inc.length > 0 && inc[inc.length - 1] >= ranks.length) {
      throw new FluxError(errno.EINVAL, `One or more invalid --ranks specified: ${include}`);
    }
  }
  let exc = new Set<number>();
  if (exclude !== undefined) {
    try {
      exc = new Set(decodeIdset(exclude));
    } catch {
      throw new FluxError(errno.EINVAL, `error decoding --exclude idset: ${strerror(errno.EINVAL)}`);
    }
  }
  const incSet = inc ? new Set(inc) : undefined;
  return ranks.filter((r, n) => !exc.has(relative ? n : r) && (!incSet || incSet.has(n)));
}

const MASK64 = (1n << 64n) - 1n;
/** The first zhashx table sizes (czmq's primes table) that a handful of keys can reach. */
const PRIMES = [3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 43, 47, 53, 59, 61, 103, 107, 109, 113, 127, 229, 233, 239, 241, 251, 487, 491, 499, 503, 509, 997, 1009, 1013, 1019, 1021];

/**
 * flux-exec keeps its failure sets in a czmq zhashx and prints them in that
 * table's iteration order, which is neither insertion nor sorted order. This
 * models the table (Bernstein hash, prime sizes, growth on load and on long
 * chains, new items at the head of their bucket) so the summary lines come out
 * in the order flux-core prints them.
 */
export class ZhashxOrder<V> {
  private primeIndex = 0;
  private chainLimit = 1;
  private size = 0;
  private buckets: { key: string; value: V }[][] = Array.from({ length: PRIMES[0] }, () => []);
  private cached = 0;

  private static hash(key: string): bigint {
    let h = 0n;
    for (const b of Buffer.from(key, 'utf8')) {
      const c = BigInt.asUintN(64, BigInt(b >= 128 ? b - 256 : b));
      h = ((33n * h) & MASK64) ^ c;
    }
    return h;
  }

  private limit(): number {
    return PRIMES[this.primeIndex];
  }

  private rehash(newIndex: number): void {
    const limit = PRIMES[newIndex];
    const nb: { key: string; value: V }[][] = Array.from({ length: limit }, () => []);
    for (const bucket of this.buckets) {
      for (const item of bucket) nb[Number(ZhashxOrder.hash(item.key) % BigInt(limit))].unshift(item);
    }
    this.buckets = nb;
    this.primeIndex = newIndex;
  }

  /** s_item_lookup(): also grows the table when the chain walked was too long. */
  private find(key: string): { key: string; value: V } | undefined {
    this.cached = Number(ZhashxOrder.hash(key) % BigInt(this.limit()));
    const bucket = this.buckets[this.cached];
    let len = 0;
    let found: { key: string; value: V } | undefined;
    for (const item of bucket) {
      if (item.key === key) {
        found = item;
        break;
      }
      len++;
    }
    if (len > this.chainLimit) {
      this.rehash(this.primeIndex + 5);
      this.cached = Number(ZhashxOrder.hash(key) % BigInt(this.limit()));
    }
    return found;
  }

  /** zhashx_lookup(). */
  get(key: string): V | undefined {
    return this.find(key)?.value;
  }

  /** zhashx_insert() followed by zhashx_freefn(), as flux-exec does. */
  insert(key: string, value: V): void {
    if (this.size >= Math.floor((this.limit() * 75) / 100)) {
      this.rehash(this.primeIndex + 5);
      this.chainLimit += 1;
    }
    if (this.find(key)) return;
    this.buckets[this.cached].unshift({ key, value });
    this.size++;
    this.find(key); // zhashx_freefn's lookup
  }

  /** zhashx_first()/zhashx_next() order. */
  entries(): [string, V][] {
    const out: [string, V][] = [];
    for (const bucket of this.buckets) for (const item of bucket) out.push([item.key, item.value]);
    return out;
  }
}

/** The stderr summary of failed ranks, one line per exit code or signal. */
export class ExitSummary {
  private readonly sets = new ZhashxOrder<Set<number>>();
  code = 0;

  /** A process completed with this wait status. */
  completed(rank: number, status: number): void {
    const { code, key } = exitOf(status);
    if (code > this.code) this.code = code;
    if (key === undefined) return;
    let set = this.sets.get(key);
    if (!set) {
      set = new Set();
      this.sets.insert(key, set);
    }
    set.add(rank);
  }

  /** A process could not be launched (or its rank was lost). */
  failed(errnum: number): void {
    const code = launchFailureCode(errnum);
    if (code > this.code) this.code = code;
  }

  lines(): string[] {
    return this.sets.entries().map(([key, set]) => `${encodeIdsetBrackets(set)}: ${key}`);
  }
}

// --- the command ---------------------------------------------------------------

interface CmdObject {
  cwd?: string;
  label?: string;
  cmdline: string[];
  env: Record<string, string>;
  opts: Record<string, string>;
  channels: string[];
}

interface IoObject {
  stream: string;
  rank: string;
  encoding?: string;
  data?: string;
  eof?: boolean;
}

function ioEncode(stream: string, data: Buffer | undefined, eof: boolean): IoObject {
  let io: IoObject = { stream, rank: '0' };
  if (data && data.length > 0) {
    io = isUtf8(data) ? { stream, rank: '0', data: data.toString('utf8') } : { stream, rank: '0', encoding: 'base64', data: data.toString('base64') };
  }
  if (eof) io.eof = true;
  return io;
}

function ioData(io: IoObject): Buffer {
  if (typeof io.data !== 'string') return Buffer.alloc(0);
  return io.encoding === 'base64' ? Buffer.from(io.data, 'base64') : Buffer.from(io.data, 'utf8');
}

type TargetState = 'init' | 'running' | 'exited' | 'failed';

interface Target {
  rank: number;
  rpc: Rpc | undefined;
  pid: number;
  state: TargetState;
  everStarted: boolean;
  /** Stdin credits left; undefined once it no longer takes input. */
  credits: number | undefined;
  status: number;
  /** Per stream: the next byte starts a line (for -l). */
  lineStart: Record<string, boolean>;
}

/** flux-core's jobid forms: decimal, hex, dotted hex, F58 (ƒ or f prefix). */
function parseJobid(s: string): number | undefined {
  const F58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
  let v: bigint | undefined;
  if (/^\d+$/.test(s)) v = BigInt(s);
  else if (/^0x[0-9a-fA-F]+$/.test(s)) v = BigInt(s);
  else if (/^[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}$/.test(s)) v = BigInt(`0x${s.replace(/\./g, '')}`);
  else if (/^(ƒ|f)[1-9A-HJ-NP-Za-km-z]+$/.test(s)) {
    v = 0n;
    for (const c of s.replace(/^(ƒ|f)/, '')) v = v * 58n + BigInt(F58.indexOf(c));
  }
  if (v === undefined || v > MASK64) return undefined;
  return Number(v);
}

/** `--jobid`: the job's ranks and its shell's rexec service, or flux-core's error. */
async function jobTargets(h: Flux, jobid: string): Promise<never> {
  const id = parseJobid(jobid);
  if (id === undefined) die(PROG, `error parsing jobid: "${jobid}"`);
  let job: { state?: unknown; ranks?: unknown };
  try {
    job = (await h.rpc('job-list.list-id', { id, attrs: ['ranks', 'state'] }).get<{ job: { state?: unknown; ranks?: unknown } }>()).job;
  } catch (e) {
    // No job-list service here yet: no job can be found, which flux-core reports this way.
    if (e instanceof FluxError && (e.errnum === errno.ENOENT || e.errnum === errno.ENOSYS)) die(PROG, `job ${jobid} not found`);
    die(PROG, `unable to get info for job ${jobid}: ${errText(e)}`);
  }
  const RUN = 8;
  if (job.state !== RUN) die(PROG, `job ${jobid} is not currently running`);
  // The job shell's rexec service (shell.init event of guest.exec.eventlog) does not exist yet.
  die(PROG, `failed to get shell.init event for ${jobid}`);
}

export async function exec(argv: string[]): Promise<void> {
  const o = parseOrExit(OPTIONS, argv);
  if (o.args.length === 0) usageExit(OPTIONS);
  const verbose = has(o, 'verbose');
  const labelIo = has(o, 'label-io');
  const t0 = process.hrtime.bigint();
  const since = (): string => (Number(process.hrtime.bigint() - t0) / 1e6).toFixed(6);

  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  delete env.FLUX_PROXY_REMOTE;
  const cmd: CmdObject = { cmdline: [...o.args], env, opts: {}, channels: [] };
  const label = last(o, 'label');
  if (label !== undefined) {
    if (label === '') die(PROG, `failed to set label: ${strerror(errno.EINVAL)}`);
    cmd.label = label;
  }
  const cwd = last(o, 'dir') ?? process.cwd();
  if (cwd !== 'none') cmd.cwd = cwd;
  for (const arg of o.values.get('setopt') ?? []) {
    const eq = arg.indexOf('=');
    if (eq < 0) die(PROG, `error handling '${arg}' option: ${strerror(errno.EINVAL)}`);
    cmd.opts[arg.slice(0, eq)] = arg.slice(eq + 1);
  }

  const h = await open(PROG);
  let size: number;
  try {
    size = Number(await h.getattr('size'));
  } catch (e) {
    die(PROG, `flux_get_size: ${errText(e)}`);
  }

  if (has(o, 'with-imp')) {
    let imp: unknown;
    try {
      const conf = await h.rpc('config.get', {}).get<{ exec?: { imp?: unknown } }>();
      imp = conf.exec?.imp;
    } catch (e) {
      errln(`error fetching config object: ${errText(e)}`);
    }
    // flux-imp is not part of this project: without exec.imp configured this is where it ends.
    if (typeof imp !== 'string') die(PROG, '--with-imp: exec.imp path not found in config');
    cmd.cmdline.unshift(imp, 'run');
  }

  // flux-core lets systemd commands reach the owner's user bus (flux-core#5901).
  try {
    const owner = await h.getattr('security.owner');
    if (cmd.env.DBUS_SESSION_BUS_ADDRESS === undefined) cmd.env.DBUS_SESSION_BUS_ADDRESS = `unix:path=/run/user/${owner}/bus`;
  } catch (e) {
    die(PROG, `failed to fetch security.owner attribute: ${errText(e)}`);
  }

  const jobid = last(o, 'jobid');
  if (jobid !== undefined) await jobTargets(h, jobid);
  let ranks: number[];
  try {
    ranks = filterRanks(Array.from({ length: size }, (_, i) => i), last(o, 'rank') ?? 'all', last(o, 'exclude'), false);
  } catch (e) {
    die(PROG, e instanceof Error ? e.message : String(e));
  }
  if (ranks.length === 0) die(PROG, 'No targets specified');
  const service = last(o, 'service') ?? 'rexec';
  const argv0 = cmd.cmdline[0];

  if (has(o, 'attach')) {
    await attach(h, service, ranks, o.args[0], { labelIo, quiet: has(o, 'quiet'), verbose });
    return;
  }

  if (has(o, 'bg')) {
    const flags = has(o, 'waitable') ? REXEC_WAITABLE : 0;
    let code = 0;
    await Promise.all(ranks.map(async (rank) => {
      try {
        const r = await h.rpc(`${service}.exec`, { cmd, flags, local_flags: 0 }, { nodeid: rank }).get<{ pid?: unknown }>();
        process.stdout.write(`${rank}: ${String(r.pid)}\n`);
      } catch (e) {
        errln(`${PROG}: Error: rank ${rank}: ${argv0}: ${e instanceof Error ? e.message : String(e)}`);
        code = 1;
      }
    }));
    h.close();
    if (code) throw new Exit(code);
    return;
  }

  if (verbose) errln(`${since()}ms: Starting ${argv0} on ${encodeIdsetBrackets(ranks)}`);

  let flow = service !== 'sdexec';
  const stdinFlow = last(o, 'stdin-flow');
  if (stdinFlow !== undefined) {
    if (stdinFlow === 'off') flow = false;
    else if (stdinFlow === 'on') flow = true;
    else die(PROG, 'Set --stdin-flow to on or off');
  }
  const flags = REXEC_STDOUT | REXEC_STDERR | (flow ? REXEC_WRITE_CREDIT : 0) | (has(o, 'waitable') ? REXEC_WAITABLE : 0);
  const noinput = has(o, 'noinput');
  const summary = new ExitSummary();
  const hanging = new Set(ranks);
  let started = 0;
  let exited = 0;
  const targets: Target[] = ranks.map((rank) => ({
    rank, rpc: undefined, pid: -1, state: 'init', everStarted: false, credits: flow ? 0 : undefined, status: 0, lineStart: { stdout: true, stderr: true },
  }));

  const sendWrite = (t: Target, io: IoObject): void => {
    if (!t.rpc) return;
    try {
      h.rpc(`${service}.write`, { matchtag: t.rpc.matchtag, io }, { nodeid: t.rank, flags: FLAG_NORESPONSE });
    } catch {
      // connection gone: the stream's end reports it
    }
  };

  // --- stdin: read only when every target started and all have credits ----------
  const stdin = process.stdin;
  let stdinOn = !noinput;
  let stdinEof = false;
  const minCredits = (): number => {
    if (!flow) return Number.MAX_SAFE_INTEGER;
    let min: number | undefined;
    for (const t of targets) if (t.credits !== undefined && (min === undefined || t.credits < min)) min = t.credits;
    return min ?? 0;
  };
  const pump = (): void => {
    while (stdinOn && started === targets.length && exited < targets.length) {
      const min = minCredits();
      if (min <= 0) return;
      let chunk = stdin.read() as Buffer | null;
      if (chunk === null) return;
      if (chunk.length > min) {
        stdin.unshift(chunk.subarray(min));
        chunk = chunk.subarray(0, min);
      }
      const io = ioEncode('stdin', chunk, false);
      for (const t of targets) {
        if (t.state !== 'init' && t.state !== 'running') continue;
        sendWrite(t, io);
        if (t.credits !== undefined) t.credits -= chunk.length;
      }
    }
  };
  const closeStdin = (): void => {
    const io = ioEncode('stdin', undefined, true);
    for (const t of targets) if (t.state === 'init' || t.state === 'running') sendWrite(t, io);
  };
  if (stdinOn) {
    stdin.on('readable', pump);
    stdin.on('end', () => {
      stdinEof = true;
      stdinOn = false;
      closeStdin();
    });
    stdin.on('error', () => {
      stdinOn = false;
    });
  }
  const stateChanged = (): void => {
    if (stdinOn) pump();
    if (exited === targets.length && stdinOn) {
      stdinOn = false;
      stdin.pause();
    }
  };

  // --- output ------------------------------------------------------------------
  // stdout is gathered until the responses at hand are handled (one write for many lines, as
  // C stdio buffers it when not a terminal); stderr goes out at once, unbuffered as in C.
  let pendingOut: Buffer[] = [];
  let pendingBytes = 0;
  const flushOut = (): void => {
    if (pendingOut.length === 0) return;
    const b = pendingOut.length === 1 ? pendingOut[0] : Buffer.concat(pendingOut);
    pendingOut = [];
    pendingBytes = 0;
    process.stdout.write(b);
  };
  const emit = (stream: string, b: Buffer): void => {
    if (stream === 'stderr') {
      process.stderr.write(b);
      return;
    }
    if (pendingOut.length === 0) setImmediate(flushOut);
    pendingOut.push(b);
    pendingBytes += b.length;
    if (pendingBytes >= 65536) flushOut();
  };
  const write = (t: Target, stream: string, data: Buffer): void => {
    if (!labelIo) {
      emit(stream, data);
      return;
    }
    // One label per line, wherever the server cut its records.
    const prefix = Buffer.from(`${t.rank}: `);
    const parts: Buffer[] = [];
    let start = 0;
    while (start < data.length) {
      if (t.lineStart[stream]) parts.push(prefix);
      const nl = data.indexOf(0x0a, start);
      const end = nl < 0 ? data.length : nl + 1;
      parts.push(data.subarray(start, end));
      t.lineStart[stream] = nl >= 0;
      start = end;
    }
    emit(stream, Buffer.concat(parts));
  };

  const fail = (t: Target, errnum: number, text: string): void => {
    if (t.state === 'failed' || t.state === 'exited') return;
    if (!t.everStarted) started++;
    exited++;
    t.state = 'failed';
    t.credits = undefined;
    hanging.delete(t.rank);
    errln(`${PROG}: Error: rank ${t.rank}: ${argv0}: ${text}`);
    summary.failed(errnum);
    stateChanged();
  };

  const run = async (t: Target): Promise<void> => {
    const rpc = h.rpc(`${service}.exec`, { cmd, flags, local_flags: 0 }, { nodeid: t.rank, flags: FLAG_STREAMING });
    t.rpc = rpc;
    let finished = false;
    try {
      for await (const m of rpc) {
        const r = getJson<{ type?: unknown; pid?: unknown; status?: unknown; io?: IoObject; channels?: Record<string, unknown> }>(m);
        switch (r.type) {
          case 'add-credit':
            if (t.credits !== undefined && typeof r.channels?.stdin === 'number') t.credits += r.channels.stdin;
            stateChanged();
            break;
          case 'started':
            t.pid = typeof r.pid === 'number' ? r.pid : -1;
            t.state = 'running';
            t.everStarted = true;
            started++;
            if (noinput) sendWrite(t, ioEncode('stdin', undefined, true));
            else if (stdinEof) sendWrite(t, ioEncode('stdin', undefined, true));
            stateChanged();
            break;
          case 'output':
            if (r.io && typeof r.io.stream === 'string') {
              const data = ioData(r.io);
              if (data.length > 0) write(t, r.io.stream, data);
            }
            break;
          case 'finished':
            finished = true;
            t.status = typeof r.status === 'number' ? r.status : 0;
            if (t.state === 'running' || t.state === 'init') {
              t.state = 'exited';
              t.credits = undefined;
              exited++;
              stateChanged();
            }
            break;
          default:
            break; // 'stopped' and anything newer: nothing to do
        }
      }
      // ENODATA: the stream ended; without `finished` first that breaks RFC 42.
      if (!finished) {
        fail(t, errno.EPROTO, strerror(errno.EPROTO));
        return;
      }
      hanging.delete(t.rank);
      summary.completed(t.rank, t.status);
    } catch (e) {
      const fe = e instanceof FluxError ? e : new FluxError(errno.EPROTO, e instanceof Error ? e.message : String(e));
      if (finished) {
        // Lost after it finished: the status is known.
        hanging.delete(t.rank);
        summary.completed(t.rank, t.status);
        return;
      }
      fail(t, fe.errnum, fe.message);
    }
  };

  // --- signals -----------------------------------------------------------------
  let sigints = 0;
  let lastInt = 0n;
  const onSignal = (signame: 'SIGINT' | 'SIGTERM'): void => {
    const signum = os.constants.signals[signame];
    if (signame === 'SIGINT' && sigints >= 2 && Number(process.hrtime.bigint() - lastInt) / 1e6 < INTERRUPT_MS) {
      flushOut();
      errln(`${encodeIdsetBrackets(hanging)}: command still running at exit`);
      process.exit(1);
    }
    if (verbose) errln(`sending signal ${signum} to ${started - exited} running processes`);
    for (const t of targets) {
      if (t.state !== 'running') continue;
      h.rpc(`${service}.kill`, { pid: t.pid, signum }, { nodeid: t.rank }).response().catch((e: unknown) => {
        if (verbose) errln(`failed to signal rank ${t.rank}: ${errText(e)}`);
      });
    }
    if (signame === 'SIGINT') {
      if (sigints > 0) errln(`interrupt (Ctrl+C) one more time within ${(INTERRUPT_MS / 1000).toFixed(2)} sec to exit`);
      lastInt = process.hrtime.bigint();
      sigints++;
    }
  };
  const onInt = (): void => onSignal('SIGINT');
  const onTerm = (): void => onSignal('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);

  const all = Promise.all(targets.map((t) => run(t)));
  if (verbose) errln(`${since()}ms: Sent all requests`);
  await all;
  flushOut();
  process.off('SIGINT', onInt);
  process.off('SIGTERM', onTerm);
  if (stdinOn) stdin.pause();
  stdin.removeListener('readable', pump);
  h.close();

  if (verbose) errln(`${since()}ms: ${exited} tasks complete with code ${summary.code}`);
  if (!has(o, 'quiet')) for (const line of summary.lines()) errln(line);
  if (summary.code !== 0) throw new Exit(summary.code);
}

/** `--attach PID|LABEL`: follow background processes started with --bg. */
async function attach(h: Flux, service: string, ranks: number[], what: string, opt: { labelIo: boolean; quiet: boolean; verbose: boolean }): Promise<void> {
  const pid = /^\d+$/.test(what) ? Number(what) : 0;
  const payload: Record<string, unknown> = { pid, flags: REXEC_STDOUT | REXEC_STDERR };
  if (!/^\d+$/.test(what)) payload.label = what;
  const summary = new ExitSummary();
  const running = new Map<number, number>();
  const onSignal = (signame: 'SIGINT' | 'SIGTERM'): void => {
    const signum = os.constants.signals[signame];
    for (const [rank, p] of running) h.rpc(`${service}.kill`, { pid: p, signum }, { nodeid: rank }).response().catch(() => {});
  };
  const onInt = (): void => onSignal('SIGINT');
  const onTerm = (): void => onSignal('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  await Promise.all(ranks.map(async (rank) => {
    const lineStart: Record<string, boolean> = { stdout: true, stderr: true };
    let status: number | undefined;
    try {
      for await (const m of h.rpc(`${service}.attach`, payload, { nodeid: rank, flags: FLAG_STREAMING })) {
        const r = getJson<{ type?: unknown; pid?: unknown; status?: unknown; io?: IoObject }>(m);
        if (r.type === 'attached' && typeof r.pid === 'number') running.set(rank, r.pid);
        else if (r.type === 'finished' && typeof r.status === 'number') {
          status = r.status;
          running.delete(rank);
        } else if (r.type === 'output' && r.io) {
          const data = ioData(r.io);
          if (data.length === 0) continue;
          const dest = r.io.stream === 'stderr' ? process.stderr : process.stdout;
          if (!opt.labelIo) dest.write(data);
          else {
            const text = data.toString('latin1');
            let outText = '';
            for (const ch of text.split(/(?<=\n)/)) {
              if (lineStart[r.io.stream]) outText += `${rank}: `;
              outText += ch;
              lineStart[r.io.stream] = ch.endsWith('\n');
            }
            dest.write(Buffer.from(outText, 'latin1'));
          }
        }
      }
      if (status !== undefined) summary.completed(rank, status);
    } catch (e) {
      running.delete(rank);
      errln(`${PROG}: Error: rank ${rank}: ${what}: ${e instanceof Error ? e.message : String(e)}`);
      summary.failed(e instanceof FluxError ? e.errnum : errno.EPROTO);
    }
  }));
  process.off('SIGINT', onInt);
  process.off('SIGTERM', onTerm);
  h.close();
  if (!opt.quiet) for (const line of summary.lines()) errln(line);
  if (summary.code !== 0) throw new Exit(summary.code);
}
