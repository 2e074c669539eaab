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
import { errno, FluxError, strerror } from '../common/libflux/errno';
import type { Flux, Rpc } from '../common/libflux/handle';
import { FLAG_NORESPONSE, FLAG_STREAMING, getJson } from '../common/libflux/message';
import { Optparse, has, last } from '../common/liboptparse/optparse';
import { Exit, die, errText, errln, open, parseOrExit, usageExit } from './cli';
import { ExitSummary, encodeIdsetBrackets, filterRanks, parseJobid } from './exec-summary';
import { attach } from './exec-attach';
import { ioData, ioEncode, type IoObject } from '../common/libsubprocess/ioencode';
import type { CmdObject } from '../broker/rexec-cmd';

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

// --- the command ---------------------------------------------------------------


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
      const io = ioEncode('stdin', '0', chunk, false);
      for (const t of targets) {
        if (t.state !== 'init' && t.state !== 'running') continue;
        sendWrite(t, io);
        if (t.credits !== undefined) t.credits -= chunk.length;
      }
    }
  };
  const closeStdin = (): void => {
    const io = ioEncode('stdin', '0', undefined, true);
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
            if (noinput) sendWrite(t, ioEncode('stdin', '0', undefined, true));
            else if (stdinEof) sendWrite(t, ioEncode('stdin', '0', undefined, true));
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
