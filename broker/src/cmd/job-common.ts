/**
 * What the job commands share: submitting a signed jobspec to job-ingest,
 * parsing job id arguments, reading a job's KVS data, and attaching to a job
 * (its eventlog and its output, as `flux job attach` / `flux run` do).
 */
import { errno, FluxError } from '../common/libflux/errno';
import type { Flux } from '../common/libflux/handle';
import { encodeF58, jobKvsKey, parseJobId, type JobId } from '../common/libjob/jobid';
import { idField, idJson, jsonPayload, payloadJson } from '../common/libjob/rpc-json';
import { signNone } from '../common/libjob/sign';
import { decodeEvent, waitStatusExitCode, type JobEvent } from '../common/libjob/states';
import { ioData, type IoObject } from '../common/libsubprocess/ioencode';
import { FLUX_KVS_WAITCREATE, FLUX_KVS_WATCH, FLUX_KVS_WATCH_APPEND, lookup, watch } from '../common/libkvs/client';

/** job-ingest.submit of a jobspec's JSON text; returns the new job's id. */
export async function submitJobspec(h: Flux, text: string, urgency: number, flags: number): Promise<JobId> {
  const J = signNone(text, process.getuid?.() ?? 0);
  const r = payloadJson<{ id?: unknown }>(await h.rpc('job-ingest.submit', jsonPayload({ J, urgency, flags })).response());
  return idField(r.id);
}

/** A job id argument in any encoding; flux-core's message when it is none. */
export function jobIdArg(prog: string, s: string): JobId {
  try {
    return parseJobId(s);
  } catch {
    throw new FluxError(errno.EINVAL, `${prog}: error parsing jobid: "${s}"`);
  }
}

export async function lookupJobKey(h: Flux, id: JobId, key: string): Promise<string> {
  return (await lookup(h, jobKvsKey(id, key), { namespace: 'primary' })).string();
}

/** Entries of a job eventlog as they are appended (waiting for it to exist); stop by returning true. */
export async function followEventlog(h: Flux, id: JobId, key: string, cb: (ev: JobEvent, line: string) => boolean | void): Promise<void> {
  const w = watch(h, jobKvsKey(id, key), { namespace: 'primary', flags: FLUX_KVS_WATCH | FLUX_KVS_WAITCREATE | FLUX_KVS_WATCH_APPEND });
  for await (const v of w) {
    for (const line of v.string().split('\n')) {
      if (line === '') continue;
      const ev = decodeEvent(line);
      if (ev && cb(ev, line) === true) {
        w.cancel();
        return;
      }
    }
  }
}

export interface AttachOptions {
  labelIo?: boolean;
  /** Called once the job id is known to be running etc.; signals go to the job from here. */
  quiet?: boolean;
}

/**
 * Follow a job to its end: print its output (stdout/stderr, `-l`: `TASK: ` per line) and its
 * exceptions, return the exit code flux run / flux job attach exit with.
 */
export async function attachJob(h: Flux, id: JobId, opts: AttachOptions = {}): Promise<number> {
  let status: number | undefined;
  let fatal = false;
  let t0: number | undefined;
  let seen = 0;
  const lineStart = new Map<string, boolean>();
  const printEntry = (line: string): void => {
    const ev = decodeEvent(line);
    if (!ev || ev.name !== 'data' || !ev.context) return;
    const io = ev.context as unknown as IoObject;
    const data = ioData(io);
    if (data.length === 0) return;
    const stream = io.stream === 'stderr' ? process.stderr : process.stdout;
    if (!opts.labelIo) {
      stream.write(data);
      return;
    }
    const key = `${io.stream}\0${io.rank}`;
    let text = '';
    for (const part of data.toString('utf8').split(/(?<=\n)/)) {
      if (lineStart.get(key) !== false) text += `${io.rank}: `;
      text += part;
      lineStart.set(key, part.endsWith('\n'));
    }
    stream.write(text);
  };
  let outputWatch: ReturnType<typeof watch> | undefined;
  let outputDone: Promise<void> | undefined;
  const startOutput = (): void => {
    if (outputWatch) return;
    const w = watch(h, jobKvsKey(id, 'guest.output'), { namespace: 'primary', flags: FLUX_KVS_WATCH | FLUX_KVS_WAITCREATE | FLUX_KVS_WATCH_APPEND });
    outputWatch = w;
    outputDone = (async () => {
      try {
        for await (const v of w) {
          for (const line of v.string().split('\n')) {
            if (line === '') continue;
            seen++;
            printEntry(line);
          }
        }
      } catch {
        // the watch ends when canceled
      }
    })();
  };
  await followEventlog(h, id, 'eventlog', (ev) => {
    if (t0 === undefined) t0 = ev.timestamp;
    const c = ev.context ?? {};
    if (ev.name === 'start' || ev.name === 'alloc') startOutput();
    else if (ev.name === 'finish' && typeof c.status === 'number') status = c.status;
    else if (ev.name === 'exception') {
      const sev = typeof c.severity === 'number' ? c.severity : 0;
      if (sev === 0) fatal = true;
      process.stderr.write(`${(ev.timestamp - t0).toFixed(3)}s: job.exception type=${String(c.type)} severity=${sev} ${typeof c.note === 'string' ? c.note : ''}`.trimEnd() + '\n');
    }
    return ev.name === 'clean';
  });
  if (outputWatch) {
    outputWatch.cancel();
    await outputDone;
    // whatever the watch had not delivered yet
    try {
      const lines = (await lookupJobKey(h, id, 'guest.output')).split('\n').filter((l) => l !== '');
      for (const line of lines.slice(seen)) printEntry(line);
    } catch {
      // no output at all
    }
  }
  if (status === undefined) return fatal ? 1 : 0;
  const code = waitStatusExitCode(status);
  if (code !== 0 && !opts.quiet) {
    const sig = status & 0x7f;
    if (sig) process.stderr.write(`flux-job: task(s) terminated by signal ${sig}\n`);
    else process.stderr.write(`flux-job: task(s) exited with exit code ${code}\n`);
  }
  return code;
}

export { encodeF58, idJson };

/** An error's text as a service gave it (or strerror when it gave none). */
export function errMsg(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
