/**
 * job-exec (rank 0): runs a job's tasks on its allocated ranks through each
 * rank's `rexec` service (RFC 42), as flux-core's job shells would, and
 * reports to job-manager on the stream of its `job-exec.start {id}` request:
 *   {type:"start"}                      every task started
 *   {type:"exception", data:{type,severity,note}}   start failure, time limit
 *   {type:"finish", data:{status}}      every task exited: the largest exit code
 *                                       (128+signal for a signaled task) as a wait status
 *   {type:"release", data:{ranks:"all",final:true}}, then ENODATA
 *
 * Tasks: the jobspec's slots laid out over R's ranks (cores per rank ÷ cores
 * per slot), `count.per_slot` tasks per slot or `count.total` spread over the
 * ranks; task ids in rank order. Each task gets the jobspec's environment and
 * cwd plus FLUX_JOB_ID (F58), FLUX_JOB_SIZE, FLUX_JOB_NNODES, FLUX_TASK_RANK,
 * FLUX_TASK_LOCAL_ID, FLUX_JOB_NODELIST. Output goes to the `guest.output`
 * eventlog (RFC 24: a `header`, then `data` entries {stream, rank, data|eof}),
 * progress to `guest.exec.eventlog` (init, starting, complete, done).
 *
 *   job-exec.exception {id,type,severity}   fatal: SIGTERM the tasks, SIGKILL after kill-timeout (5 s)
 *   job-exec.kill {id,signum}               signal the tasks
 * A jobspec with `attributes.system.exec.test` runs no process (testexec.ts).
 */
import * as fs from 'node:fs';
import { errno, FluxError } from '../../common/libflux/errno';
import { FLAG_STREAMING, getJson } from '../../common/libflux/message';
import { encodeF58, jobKvsKey, type JobId } from '../../common/libjob/jobid';
import { parseJson, type JsonValue } from '../../common/libjob/json';
import { unwrapSigned } from '../../common/libjob/sign';
import { idField, idJson, payloadJson, respondJson } from '../../common/libjob/rpc-json';
import { encodeEvent, makeEvent } from '../../common/libjob/states';
import { Rlist } from '../../common/librlist/rlist';
import { TestExecutor, testConf } from './testexec';
import { ioEncode, type IoObject } from '../../common/libsubprocess/ioencode';
import { FLUX_KVS_APPEND, KvsTxn } from '../../common/libkvs/txn';
import type { Responder } from '../../broker/service';
import type { ModuleMain } from '../../module/runtime';
import { armDeadline } from '../../common/libjob/deadline';
import { OutputFile, jobIo, type JobIo } from './job-io';
import { StdinWriter, handleStdin, type StdinTarget } from './job-stdin';


const REXEC_STDOUT = 1;
const REXEC_STDERR = 2;
const REXEC_WRITE_CREDIT = 8;
const KILL_TIMEOUT_MS = 5000;

export interface TaskPlacement {
  rank: number;
  /** Global task rank. */
  id: number;
  /** Index among the tasks on its rank. */
  localid: number;
}

/** Where each task runs: slots from R's cores (slot_size cores each), per_slot tasks per slot or total spread. */
export function placeTasks(jobspec: Record<string, JsonValue>, R: Rlist): TaskPlacement[] {
  const tasks = (jobspec.tasks as JsonValue[] | undefined)?.[0] as Record<string, JsonValue> | undefined;
  const count = (tasks?.count ?? {}) as Record<string, JsonValue>;
  const slotSize = slotCores(jobspec.resources);
  const nodeSlots = slotsPerNode(jobspec.resources);
  const perRank: number[] = [];
  if (typeof count.total === 'number') {
    const n = R.ranks.length;
    const base = Math.floor(count.total / n);
    const extra = count.total % n;
    R.ranks.forEach((_, i) => perRank.push(base + (i < extra ? 1 : 0)));
  } else {
    const per = typeof count.per_slot === 'number' ? count.per_slot : 1;
    // with a node level, each node holds the slot count under it (whole nodes may hold more cores)
    for (const r of R.ranks) perRank.push((nodeSlots ?? Math.max(1, Math.floor(r.cores.length / slotSize))) * per);
  }
  const out: TaskPlacement[] = [];
  let id = 0;
  R.ranks.forEach((r, i) => {
    for (let l = 0; l < perRank[i]; l++) out.push({ rank: r.rank, id: id++, localid: l });
  });
  return out;
}

/** The slot count under a top-level node vertex, or undefined without one. */
function slotsPerNode(resources: JsonValue | undefined): number | undefined {
  const top = Array.isArray(resources) ? resources[0] : undefined;
  if (typeof top !== 'object' || top === null || Array.isArray(top) || top.type !== 'node') return undefined;
  const slot = (Array.isArray(top.with) ? top.with : []).find((v) => typeof v === 'object' && v !== null && !Array.isArray(v) && v.type === 'slot');
  const count = (slot as Record<string, JsonValue> | undefined)?.count;
  return typeof count === 'number' ? count : 1;
}

/** Cores per slot in a resources list (1 when there is no core vertex under the slot). */
function slotCores(resources: JsonValue | undefined): number {
  const walk = (list: JsonValue | undefined, inSlot: boolean): number | undefined => {
    if (!Array.isArray(list)) return undefined;
    for (const v of list) {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) continue;
      const o = v as Record<string, JsonValue>;
      if (inSlot && o.type === 'core' && typeof o.count === 'number') return o.count;
      const found = walk(o.with, inSlot || o.type === 'slot');
      if (found !== undefined) return found;
    }
    return undefined;
  };
  return walk(resources, false) ?? 1;
}

/** RFC 34 taskmap of a placement: runs of nodes with the same task count, `[first node, nodes, tasks per node, 1]`. */
export function taskmap(placement: TaskPlacement[], R: Rlist): number[][] {
  const perNode = R.ranks.map((r) => placement.filter((t) => t.rank === r.rank).length);
  const map: number[][] = [];
  perNode.forEach((ppn, i) => {
    const last = map.at(-1);
    if (last && last[2] === ppn && last[0] + last[1] === i) last[1]++;
    else map.push([i, 1, ppn, 1]);
  });
  return map;
}

/** A task's wait status to the job shell's exit code: its exit code, or 128+signal. */
export function taskExitCode(status: number): number {
  const sig = status & 0x7f;
  return sig ? 128 + sig : (status >> 8) & 0xff;
}

interface Task extends TaskPlacement {
  pid: number;
  started: boolean;
  done: boolean;
  status: number;
  stdin: StdinWriter;
}

interface ExecJob {
  id: JobId;
  /** Hostname of each rank of the allocation. */
  hosts: Map<number, string>;
  r: Responder;
  tasks: Task[];
  killTimer?: NodeJS.Timeout;
  /** Calls the time limit off. */
  cancelLimit?: () => void;
  killed: boolean;
  finished: boolean;
  /** Where stdout/stderr go when not to guest.output, and the file stdin comes from. */
  io: JobIo;
  files: Map<string, OutputFile>;
  /** The job shell's service (`<userid>-shell-<id>`): its `.stdin` method feeds the tasks. */
  service: string;
  stdin: StdinTarget;
}

/** The --input file's bytes (read once per job by each task's start; small files expected). */
function readInput(p: string): Promise<Buffer | undefined> {
  return fs.promises.readFile(p).catch(() => undefined);
}

export const mod_main: ModuleMain = (ctx, args) => {
  if (args.length > 0) throw new FluxError(errno.EINVAL, `unknown option: ${args[0]}`);
  const h = ctx.h;
  const jobs = new Map<JobId, ExecJob>();
  // jobs with attributes.system.exec.test run no process (testexec.ts)
  const testexec = new TestExecutor(ctx);
  /** Fatal exceptions that arrived before their job's start was set up. */
  const early = new Set<JobId>();

  // KVS appends, batched; flushed() resolves once everything appended so far is committed.
  let txn: KvsTxn | undefined;
  let chain: Promise<void> = Promise.resolve();
  const flushSoon = (): void => {
    chain = chain.then(async () => {
      if (!txn) return;
      const t = txn;
      txn = undefined;
      await h.rpc('kvs.commit', { namespace: 'primary', flags: 0, ops: t.toOps() }).get()
        .catch((e: unknown) => ctx.log('err', `commit: ${e instanceof Error ? e.message : String(e)}`));
    });
  };
  const append = (key: string, line: string): void => {
    if (!txn) {
      txn = new KvsTxn();
      setImmediate(flushSoon);
    }
    txn.put(key, `${line}\n`, FLUX_KVS_APPEND);
  };
  const flushed = async (): Promise<void> => {
    flushSoon();
    await chain;
  };
  const lookup = async (key: string): Promise<string> => {
    const r = await h.rpc('kvs.lookup', { key, namespace: 'primary', flags: 0 }).get<{ val?: { data?: string } }>();
    if (typeof r.val?.data !== 'string') throw new FluxError(errno.EPROTO, `${key} is not a value`);
    return Buffer.from(r.val.data, 'base64').toString('utf8');
  };

  // Answers that can no longer be sent (the module is being removed) are only logged.
  const quiet = (e: unknown): void => {
    if (!h.isClosed) ctx.log('err', e instanceof Error ? e.message : String(e));
  };

  const signalTasks = (job: ExecJob, signum: number): void => {
    for (const t of job.tasks) {
      if (!t.started || t.done || t.pid <= 0) continue;
      h.rpc('rexec.kill', { pid: t.pid, signum }, { nodeid: t.rank }).get().catch(() => undefined);
    }
  };
  const terminate = (job: ExecJob, signum: number): void => {
    job.killed = true;
    signalTasks(job, signum);
    job.killTimer ??= setTimeout(() => signalTasks(job, 9), KILL_TIMEOUT_MS);
  };
  const exception = (job: ExecJob, type: string, note: string): void => {
    respondJson(job.r, { id: idJson(job.id), type: 'exception', data: { type, severity: 0, note } });
  };

  const finish = async (job: ExecJob): Promise<void> => {
    if (job.finished) return;
    job.finished = true;
    clearTimeout(job.killTimer);
    job.cancelLimit?.();
    await Promise.all([...job.files.values()].map((f) => f.close()));
    const status = Math.max(0, ...job.tasks.map((t) => taskExitCode(t.status))) << 8;
    const eventlog = jobKvsKey(job.id, 'guest.exec.eventlog');
    append(eventlog, encodeEvent(makeEvent('complete', { status })));
    append(eventlog, encodeEvent(makeEvent('done')));
    await flushed();
    const id = idJson(job.id);
    respondJson(job.r, { id, type: 'finish', data: { status } });
    respondJson(job.r, { id, type: 'release', data: { ranks: 'all', final: true } });
    job.r.respondError(errno.ENODATA);
    jobs.delete(job.id);
    h.rpc('service.remove', { service: job.service }).get().catch(() => undefined);
  };

  const runTask = (job: ExecJob, t: Task, cmd: Record<string, unknown>, onStarted: () => void): void => {
    const output = jobKvsKey(job.id, 'guest.output');
    const rpc = h.rpc('rexec.exec', { cmd, flags: REXEC_STDOUT | REXEC_STDERR | REXEC_WRITE_CREDIT, local_flags: 0 }, { nodeid: t.rank, flags: FLAG_STREAMING });
    void (async () => {
      try {
        for await (const m of rpc) {
          const r = getJson<{ type?: unknown; pid?: unknown; status?: unknown; io?: IoObject; channels?: { stdin?: unknown } }>(m);
          if (r.type === 'add-credit') {
            if (typeof r.channels?.stdin === 'number') t.stdin.addCredit(r.channels.stdin);
          } else if (r.type === 'started') {
            t.pid = typeof r.pid === 'number' ? r.pid : -1;
            t.started = true;
            onStarted();
            if (job.killed) signalTasks(job, 15);
            // stdin: the --input file, else whatever <service>.stdin brings (job-stdin.ts)
            t.stdin.attach(rpc.matchtag);
            if (job.io.stdin) t.stdin.write((await readInput(job.io.stdin)) ?? Buffer.alloc(0), true);
          } else if (r.type === 'output' && r.io) {
            const io = r.io;
            const data = typeof io.data === 'string' ? Buffer.from(io.data, io.encoding === 'base64' ? 'base64' : 'utf8') : undefined;
            // --output/--error: to the file (unless it could not be opened: then, as without).
            const to = io.stream === 'stdout' ? job.io.stdout : io.stream === 'stderr' ? job.io.stderr : undefined;
            const file = to ? job.files.get(to.path) : undefined;
            if (to && file && !file.failed) {
              if (data && data.length > 0) file.write(t.id, io.stream, data, to.label);
              continue;
            }
            const rec = ioEncode(io.stream, String(t.id), data, io.eof === true);
            append(output, encodeEvent(makeEvent('data', rec as unknown as Record<string, JsonValue>)));
          } else if (r.type === 'finished') {
            t.stdin.close();
            t.status = typeof r.status === 'number' ? r.status : 0;
            const sig = t.status & 0x7f;
            append(jobKvsKey(job.id, 'guest.exec.eventlog'), encodeEvent(makeEvent('shell.task-exit', {
              localid: t.localid, rank: t.id, state: 'Exited', pid: t.pid, wait_status: t.status, signaled: sig, exitcode: sig ? 128 + sig : (t.status >> 8) & 0xff,
            })));
          }
        }
      } catch (e) {
        const text = e instanceof Error ? e.message : String(e);
        if (!t.started) {
          t.status = 127 << 8;
          t.started = true;
          onStarted();
          exception(job, 'exec', `task ${t.id} (rank ${t.rank}): start failed: ${text}`);
          terminate(job, 15);
        } else {
          // the rank's broker is gone (or its rexec failed): the job cannot go on
          t.status = t.status || (1 << 8);
          if (!job.killed) {
            exception(job, 'exec', `lost contact with job shell on broker ${job.hosts.get(t.rank) ?? '?'} (rank ${t.rank}): ${text}`);
            terminate(job, 15);
          }
        }
      }
      t.done = true;
      t.stdin.close();
      if (job.tasks.every((x) => x.done)) await finish(job);
    })().catch((e: unknown) => quiet(e));
  };

  ctx.serve('job-exec.start', async (r) => {
    const req = payloadJson<{ id?: unknown; userid?: number }>(r.msg);
    const id = idField(req.id);
    if (jobs.has(id)) throw new FluxError(errno.EEXIST, 'job is already running');
    const J = await lookup(jobKvsKey(id, 'J'));
    const jobspec = parseJson(unwrapSigned(J).payload.toString('utf8')) as Record<string, JsonValue>;
    const test = testConf(jobspec);
    if (test) {
      testexec.start(r, id, req.userid ?? 0, test);
      return;
    }
    const Robj = JSON.parse(await lookup(jobKvsKey(id, 'R'))) as { execution?: { expiration?: number } };
    const R = Rlist.fromR(Robj);
    const placement = placeTasks(jobspec, R);
    const tasks: Task[] = placement.map((p) => ({ ...p, pid: -1, started: false, done: false, status: 0, stdin: new StdinWriter(h, p.rank) }));
    const service = `${req.userid ?? 0}-shell-${encodeF58(id, { ascii: true })}`;
    const job: ExecJob = {
      id, r, hosts: new Map(R.ranks.map((x) => [x.rank, x.hostname])), tasks,
      killed: false, finished: false, io: {}, files: new Map(), service,
      stdin: { userid: req.userid ?? 0, writers: new Map(tasks.map((t) => [t.id, t.stdin])), fromFile: false },
    };
    jobs.set(id, job);
    if (early.delete(id)) terminate(job, 15);
    const sys = ((jobspec.attributes as Record<string, JsonValue> | undefined)?.system ?? {}) as Record<string, JsonValue>;
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries((sys.environment ?? {}) as Record<string, JsonValue>)) if (typeof v === 'string') env[k] = v;
    const cwd = typeof sys.cwd === 'string' ? sys.cwd : undefined;
    job.io = jobIo(jobspec, id, cwd);
    job.stdin.fromFile = job.io.stdin !== undefined;
    // The shell service exists before shell.init names it (attach sends stdin once it reads that).
    await h.rpc('service.add', { service }).get();
    ctx.serve(`${service}.stdin`, (sr) => handleStdin(sr, jobs.get(id)?.stdin));
    for (const f of [job.io.stdout, job.io.stderr]) if (f && !job.files.has(f.path)) job.files.set(f.path, new OutputFile(f.path));
    const command = (((jobspec.tasks as JsonValue[])[0] as Record<string, JsonValue>).command as JsonValue[]).map(String);
    const eventlog = jobKvsKey(id, 'guest.exec.eventlog');
    append(eventlog, encodeEvent(makeEvent('init')));
    append(eventlog, encodeEvent(makeEvent('starting')));
    const n = job.tasks.length;
    append(eventlog, encodeEvent(makeEvent('shell.init', { service: `${req.userid ?? 0}-shell-${encodeF58(id, { ascii: true })}`, 'leader-rank': ctx.rank, size: R.ranks.length })));
    append(eventlog, encodeEvent(makeEvent('shell.start', { taskmap: { version: 1, map: taskmap(placement, R) } })));
    append(jobKvsKey(id, 'guest.output'), encodeEvent(makeEvent('header', {
      version: 1, encoding: { stdout: 'UTF-8', stderr: 'UTF-8' }, count: { stdout: n, stderr: n }, options: {},
    })));
    const hosts = R.nodelist();
    let started = 0;
    const onStarted = (): void => {
      if (++started === n) respondJson(r, { id: idJson(id), type: 'start', data: {} });
    };
    const exp = Robj.execution?.expiration ?? 0;
    if (exp > 0) {
      job.cancelLimit = armDeadline(exp, () => {
        exception(job, 'timeout', 'resource allocation expired');
        terminate(job, 14);
      });
    }
    for (const t of job.tasks) {
      const taskEnv: Record<string, string> = {
        ...env,
        FLUX_JOB_ID: encodeF58(id),
        FLUX_JOB_SIZE: String(n),
        FLUX_JOB_NNODES: String(R.ranks.length),
        FLUX_JOB_NODELIST: hosts,
        FLUX_TASK_RANK: String(t.id),
        FLUX_TASK_LOCAL_ID: String(t.localid),
      };
      const cmd: Record<string, unknown> = { cmdline: command, env: taskEnv, opts: {}, channels: [] };
      if (cwd !== undefined) cmd.cwd = cwd;
      runTask(job, t, cmd, onStarted);
    }
  });

  ctx.serve('job-exec.exception', (r) => {
    const req = payloadJson<{ id?: unknown; severity?: unknown }>(r.msg);
    if (req.severity !== 0) return;
    const id = idField(req.id);
    const job = jobs.get(id);
    // a job whose start is still reading its J and R: killed as soon as it is set up
    if (job) terminate(job, 15);
    else if (!testexec.kill(id, 15)) early.add(id);
  });

  ctx.serve('job-exec.kill', (r) => {
    const req = payloadJson<{ id?: unknown; signum?: unknown }>(r.msg);
    const job = jobs.get(idField(req.id));
    const signum = typeof req.signum === 'number' ? req.signum : 15;
    if (!job) {
      if (testexec.kill(idField(req.id), signum)) return respondJson(r, {});
      throw new FluxError(errno.ENOENT, 'job is not running');
    }
    signalTasks(job, signum);
    respondJson(r, {});
  });

  // Unloading (rc3, or flux module remove) ends running jobs: an exception, their tasks
  // killed, and their finish and release reported while we still can (bounded wait).
  ctx.onShutdown(async () => {
    testexec.shutdown();
    const running = [...jobs.values()];
    for (const job of running) {
      exception(job, 'exec', 'job-exec module is unloading');
      terminate(job, 9);
    }
    const deadline = Date.now() + 3000;
    while (running.some((j) => !j.finished) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
    await flushed();
  });
};
