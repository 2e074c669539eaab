/**
 * `flux submit` and `flux run`: build a jobspec from the command line
 * (libjob/jobspec-cli.ts, flux-core's options), sign it ("none") and hand it
 * to job-ingest. submit prints each job's F58 id (`--cc`/`--bcc` submit one
 * copy per id in the set, `{cc}` in the command replaced; `--wait` waits for
 * the jobs and exits with the largest exit code); run attaches to the job:
 * its output, exceptions, and its exit code as run's own. `--dry-run` prints
 * the jobspec instead of submitting it.
 */
import { readFileSync } from 'node:fs';
import { decodeIdset, isIdset } from '../common/libidset/idset';
import { jobspecFromCommandLine } from '../common/libjob/jobspec-cli';
import { encodeF58, type JobId } from '../common/libjob/jobid';
import { idJson, jsonPayload, payloadJson } from '../common/libjob/rpc-json';
import { FLAG_WAITABLE, waitStatusExitCode } from '../common/libjob/states';
import { Optparse, has, last, type OptionSpec, type ParsedOptions } from '../common/liboptparse/optparse';
import { Exit, die, open, out, parseOrExit } from './cli';
import { attachJob, errMsg, lookupJobKey, submitJobspec } from './job-common';
import { forwardStdin } from './job-stdin';
import { parseEventlog } from '../common/libjob/states';

const COMMON: OptionSpec[] = [
  { name: 'ntasks', key: 'n', hasArg: 1, arginfo: 'N', usage: 'Number of tasks to start' },
  { name: 'cores-per-task', key: 'c', hasArg: 1, arginfo: 'N', usage: 'Number of cores to allocate per task' },
  { name: 'gpus-per-task', key: 'g', hasArg: 1, arginfo: 'N', usage: 'Number of GPUs to allocate per task' },
  { name: 'nodes', key: 'N', hasArg: 1, arginfo: 'N', usage: 'Number of nodes to allocate' },
  { name: 'exclusive', key: 'x', usage: 'With -N, make allocation exclusive' },
  { name: 'cores', hasArg: 1, arginfo: 'N', usage: 'Request a total number of cores' },
  { name: 'tasks-per-node', hasArg: 1, arginfo: 'N', usage: 'Force number of tasks per node' },
  { name: 'tasks-per-core', hasArg: 1, arginfo: 'N', usage: 'Force number of tasks per core' },
  { name: 'gpus-per-node', hasArg: 1, arginfo: 'N', usage: 'Request a number of GPUs per node with --nodes' },
  { name: 'time-limit', key: 't', hasArg: 1, arginfo: 'MIN|FSD', usage: 'Time limit in minutes when no units provided, otherwise in Flux standard duration, e.g. 30s, 2d, 1.5h' },
  { name: 'queue', key: 'q', hasArg: 1, arginfo: 'NAME', usage: 'Submit a job to a specific named queue' },
  { name: 'urgency', hasArg: 1, arginfo: 'N', usage: 'Set job urgency (0-31), hold=0, default=16, expedite=31' },
  { name: 'job-name', hasArg: 1, arginfo: 'NAME', usage: 'Set an optional name for job to NAME' },
  { name: 'cwd', hasArg: 1, arginfo: 'DIR', usage: 'Set job working directory' },
  { name: 'setopt', key: 'o', hasArg: 1, arginfo: 'OPT', usage: 'Set shell option OPT. An optional value is supported with OPT=VAL (default VAL=1) (multiple use OK)' },
  { name: 'setattr', key: 'S', hasArg: 1, arginfo: 'ATTR', usage: 'Set job attribute ATTR. An optional value is supported with ATTR=VAL (default VAL=1) (multiple use OK)' },
  { name: 'env', hasArg: 1, arginfo: 'RULE', usage: 'Control how environment variables are exported (multiple use OK)' },
  { name: 'env-remove', hasArg: 1, arginfo: 'PATTERN', usage: 'Remove environment variables matching PATTERN (multiple use OK)' },
  { name: 'env-file', hasArg: 1, arginfo: 'FILE', usage: 'Read a set of environment rules from FILE (multiple use OK)' },
  { name: 'dependency', hasArg: 1, arginfo: 'DEP', usage: 'Set an RFC 26 dependency URI (multiple use OK)' },
  { name: 'input', hasArg: 1, arginfo: 'FILENAME', usage: 'Redirect job stdin from FILENAME' },
  { name: 'output', hasArg: 1, arginfo: 'TEMPLATE', usage: 'Redirect job stdout to TEMPLATE' },
  { name: 'error', hasArg: 1, arginfo: 'TEMPLATE', usage: 'Redirect job stderr to TEMPLATE' },
  { name: 'label-io', key: 'l', usage: 'Add rank labels to stdout, stderr lines' },
  { name: 'unbuffered', key: 'u', usage: 'Disable buffering of output' },
  { name: 'flags', hasArg: 1, arginfo: 'FLAGS', usage: 'Set comma separated list of job submission flags (waitable, debug, novalidate)' },
  { name: 'dry-run', usage: "Don't actually submit job, just emit jobspec" },
];

const SUBMIT_ONLY: OptionSpec[] = [
  { name: 'cc', hasArg: 1, arginfo: 'IDSET', usage: 'Replicate job for each ID in IDSET. (FLUX_JOB_CC=ID will be set for each job submitted)' },
  { name: 'bcc', hasArg: 1, arginfo: 'IDSET', usage: 'Like --cc, but FLUX_JOB_CC is not set' },
  { name: 'wait', usage: 'Wait for all jobs to complete' },
  { name: 'watch', usage: 'Display output from all jobs. Implies --wait' },
  { name: 'quiet', usage: 'Do not print jobid to stdout on submission' },
];

function all(o: ParsedOptions, name: string): string[] {
  return o.values.get(name) ?? [];
}

function build(prog: string, o: ParsedOptions, command: string[], env: Record<string, string | undefined>): { jobspec: Record<string, unknown>; text: string } {
  try {
    const envRules = [...all(o, 'env'), ...all(o, 'env-remove').map((p) => `-${p}`), ...all(o, 'env-file').map((f) => `^${f}`)];
    return jobspecFromCommandLine({
      command,
      ntasks: last(o, 'ntasks'),
      nodes: last(o, 'nodes'),
      coresPerTask: last(o, 'cores-per-task'),
      gpusPerTask: last(o, 'gpus-per-task'),
      exclusive: has(o, 'exclusive'),
      cores: last(o, 'cores'),
      tasksPerNode: last(o, 'tasks-per-node'),
      tasksPerCore: last(o, 'tasks-per-core'),
      gpusPerNode: last(o, 'gpus-per-node'),
      timeLimit: last(o, 'time-limit'),
      cwd: last(o, 'cwd'),
      processCwd: process.cwd(),
      environ: env,
      env: envRules.length > 0 ? envRules : undefined,
      readFile: (p) => readFileSync(p, 'utf8'),
      jobName: last(o, 'job-name'),
      queue: last(o, 'queue'),
      setopt: all(o, 'setopt'),
      setattr: all(o, 'setattr'),
      dependency: o.values.has('dependency') ? all(o, 'dependency') : undefined,
      input: last(o, 'input'),
      output: last(o, 'output'),
      error: last(o, 'error'),
      labelIo: has(o, 'label-io'),
      unbuffered: has(o, 'unbuffered'),
    });
  } catch (e) {
    die(prog, `ERROR: ${errMsg(e)}`);
  }
}

function urgencyOf(prog: string, o: ParsedOptions): number {
  const u = last(o, 'urgency');
  if (u === undefined) return 16;
  const n = u === 'hold' ? 0 : u === 'expedite' ? 31 : u === 'default' ? 16 : Number(u);
  if (!Number.isInteger(n)) die(prog, `ERROR: --urgency: invalid int value '${u}'`);
  return n;
}

function flagsOf(prog: string, o: ParsedOptions): number {
  let flags = 0;
  for (const f of (last(o, 'flags') ?? '').split(',').filter(Boolean)) {
    if (f === 'waitable') flags |= FLAG_WAITABLE;
    else if (f === 'debug') flags |= 2;
    else if (f === 'novalidate') flags |= 8;
    else die(prog, `ERROR: Unknown submit flag: ${f}`);
  }
  return flags;
}

async function submitOne(prog: string, h: Awaited<ReturnType<typeof open>>, text: string, urgency: number, flags: number): Promise<JobId> {
  try {
    return await submitJobspec(h, text, urgency, flags);
  } catch (e) {
    die(prog, `ERROR: ${errMsg(e)}`);
  }
}

export async function submit(argv: string[]): Promise<void> {
  const prog = 'flux-submit';
  const parser = new Optparse(prog, [...COMMON, ...SUBMIT_ONLY], '[OPTIONS...] COMMAND [ARGS...]');
  const o = parseOrExit(parser, argv);
  if (o.args.length === 0) die(prog, 'ERROR: job command and arguments are missing');
  const ccText = last(o, 'cc') ?? last(o, 'bcc');
  let ccs: (number | undefined)[] = [undefined];
  if (ccText !== undefined) {
    try {
      ccs = decodeIdset(ccText);
    } catch {
      die(prog, `ERROR: --cc/bcc: invalid idset '${ccText}'`);
    }
  }
  const urgency = urgencyOf(prog, o);
  let flags = flagsOf(prog, o);
  if (has(o, 'wait')) flags |= FLAG_WAITABLE;
  const specs = ccs.map((cc) => {
    const env: Record<string, string | undefined> = { ...process.env };
    if (cc !== undefined && last(o, 'cc') !== undefined) env.FLUX_JOB_CC = String(cc);
    const cmd = cc === undefined ? o.args : o.args.map((a) => a.replaceAll('{cc}', String(cc)));
    return build(prog, o, cmd, env).text;
  });
  if (has(o, 'dry-run')) {
    for (const t of specs) out.write(`${t}\n`);
    return;
  }
  const h = await open(prog);
  try {
    const ids: JobId[] = [];
    // submitted in order with up to `window` in flight (job-ingest batches what arrives
    // together); ids print in submission order
    const window = 128;
    const inflight: Promise<JobId>[] = [];
    const launch = (): void => {
      const p = submitJobspec(h, specs[inflight.length], urgency, flags);
      p.catch(() => {}); // awaited in order below; a failure is reported there
      inflight.push(p);
    };
    while (inflight.length < Math.min(window, specs.length)) launch();
    for (let i = 0; i < specs.length; i++) {
      let id: JobId;
      try {
        id = await inflight[i];
      } catch (e) {
        die(prog, `ERROR: ${errMsg(e)}`);
      }
      if (inflight.length < specs.length) launch();
      ids.push(id);
      if (!has(o, 'quiet')) out.write(`${encodeF58(id)}\n`);
    }
    if (has(o, 'watch')) {
      // each job's output in submission order (those still running are followed live),
      // exit code the largest of theirs, as with --wait
      await out.flush();
      let rc = 0;
      for (const id of ids) rc = Math.max(rc, await attachJob(h, id, { labelIo: has(o, 'label-io') }));
      if (rc !== 0) throw new Exit(rc);
    } else if (has(o, 'wait')) {
      let rc = 0;
      await out.flush();
      await Promise.all(ids.map(async (id) => {
        try {
          await h.rpc('job-manager.wait', jsonPayload({ id: idJson(id) })).response().then((m) => payloadJson(m));
          const evs = parseEventlog(await lookupJobKey(h, id, 'eventlog'));
          const fin = evs.find((e) => e.name === 'finish');
          const code = typeof fin?.context?.status === 'number' ? waitStatusExitCode(fin.context.status) : evs.some((e) => e.name === 'exception' && e.context?.severity === 0) ? 1 : 0;
          rc = Math.max(rc, code);
        } catch (e) {
          process.stderr.write(`${prog}: ${encodeF58(id)}: ${errMsg(e)}\n`);
          rc = Math.max(rc, 1);
        }
      }));
      if (rc !== 0) throw new Exit(rc);
    }
  } finally {
    h.close();
  }
}

export async function run(argv: string[]): Promise<void> {
  const prog = 'flux-run';
  const parser = new Optparse(prog, COMMON, '[OPTIONS...] COMMAND [ARGS...]');
  const o = parseOrExit(parser, argv);
  if (o.args.length === 0) die(prog, 'ERROR: job command and arguments are missing');
  // flux-core's run: --input=IDSET names the tasks stdin goes to (not a file); with a file,
  // the job reads that and our stdin is left alone.
  const input = last(o, 'input');
  let stdinRanks: string | undefined = 'all';
  if (input !== undefined && isIdset(input)) {
    stdinRanks = input;
    o.values.delete('input');
  } else if (input !== undefined) stdinRanks = undefined;
  const { text } = build(prog, o, o.args, { ...process.env });
  if (has(o, 'dry-run')) {
    out.write(`${text}\n`);
    return;
  }
  const h = await open(prog);
  h.ref();
  let code: number;
  try {
    const id = await submitOne(prog, h, text, urgencyOf(prog, o), flagsOf(prog, o));
    // Ctrl-C: forward SIGINT to the tasks; twice within 2 s cancels the job.
    let lastInt = 0;
    process.on('SIGINT', () => {
      const now = Date.now();
      if (now - lastInt < 2000) {
        process.stderr.write('flux-job: cancelling job\n');
        h.rpc('job-manager.raise', jsonPayload({ id: idJson(id), type: 'cancel', severity: 0, note: 'interrupted by ctrl-C' })).response().catch(() => undefined);
      } else {
        process.stderr.write('flux-job: one more ctrl-C within 2s to cancel or ctrl-Z to detach\n');
        h.rpc('job-manager.kill', jsonPayload({ id: idJson(id), signum: 2 })).response().catch(() => undefined);
      }
      lastInt = now;
    });
    const fwd = stdinRanks === undefined ? undefined : forwardStdin(h, id, stdinRanks, (msg) => {
      process.stderr.write(`flux-job: ${msg}\n`);
      process.exit(1);
    });
    try {
      code = await attachJob(h, id, { labelIo: has(o, 'label-io') });
    } finally {
      fwd?.stop();
    }
  } finally {
    h.close();
  }
  await out.flush();
  if (code !== 0) throw new Exit(code);
}
