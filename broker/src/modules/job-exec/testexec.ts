/**
 * Test execution, flux-core's `testexec`: a job whose jobspec carries
 * `attributes.system.exec.test` runs no process at all. It "starts" at once
 * and "finishes" when a timer fires, so the scheduling and bookkeeping of
 * thousands of jobs can be measured without spawning them (flux-core's
 * `src/test/throughput.py` submits such jobs). Keys of the test object:
 *   run_duration  FSD; default the job's duration (0: runs until killed)
 *   wait_status   the status reported in `finish` (default 0)
 *   mock_exception "init" (fails before start) or "run" (fails after start)
 *   override      1: start (and, when the run is unlimited, finish) only on
 *                 `job-exec.override {event: "start"|"finish", jobid, status?}`
 * A kill or fatal exception finishes a started test job with the signal as
 * its status, as flux-core's testexec does.
 */
import { errno, FluxError } from '../../common/libflux/errno';
import type { JobId } from '../../common/libjob/jobid';
import type { JsonValue } from '../../common/libjob/json';
import { idField, idJson, payloadJson, respondJson } from '../../common/libjob/rpc-json';
import { parseFsd } from '../../common/libutil/fsd';
import type { Responder } from '../../broker/service';
import type { ModuleContext } from '../../module/runtime';

export interface TestConf {
  runDuration: number;
  waitStatus: number;
  mockException?: string;
  override: boolean;
}

/** The test configuration of a jobspec, undefined when it asks for real execution. */
export function testConf(jobspec: Record<string, JsonValue>): TestConf | undefined {
  const sys = (jobspec.attributes as Record<string, JsonValue> | undefined)?.system as Record<string, JsonValue> | undefined;
  const test = (sys?.exec as Record<string, JsonValue> | undefined)?.test;
  if (test === undefined || test === null || typeof test !== 'object' || Array.isArray(test)) return undefined;
  const duration = typeof sys?.duration === 'number' ? sys.duration : -1;
  let runDuration = duration;
  if (test.run_duration !== undefined) {
    if (typeof test.run_duration !== 'string') throw new FluxError(errno.EINVAL, 'init_testconf: run_duration must be a string');
    try {
      runDuration = parseFsd(test.run_duration);
    } catch {
      throw new FluxError(errno.EINVAL, `Unable to parse run duration: ${test.run_duration}`);
    }
  }
  const int = (k: string): number => {
    const v = test[k];
    if (v === undefined) return 0;
    if (typeof v !== 'number' || !Number.isInteger(v)) throw new FluxError(errno.EINVAL, `init_testconf: ${k} must be an integer`);
    return v;
  };
  const mock = test.mock_exception;
  if (mock !== undefined && typeof mock !== 'string') throw new FluxError(errno.EINVAL, 'init_testconf: mock_exception must be a string');
  return { runDuration, waitStatus: int('wait_status'), override: int('override') !== 0, ...(mock !== undefined ? { mockException: mock } : {}) };
}

export interface TestJobHooks {
  started(): void;
  /** Fatal exception (note in flux-core's words). */
  exception(note: string): void;
  /** The "tasks" are done: report finish with this status (when it ever started), then release. */
  complete(status: number, started: boolean): void;
}

/** One test job: a timer standing in for its tasks. */
export class TestJob {
  running = false;
  private timer: NodeJS.Timeout | undefined;
  private done = false;

  constructor(readonly id: JobId, readonly userid: number, private readonly conf: TestConf, private readonly hooks: TestJobHooks) {}

  /** Begin: fail at init if asked, else start now (or on override) and arm the timer. */
  begin(): void {
    if (this.conf.mockException === 'init') {
      this.hooks.exception('mock initialization exception generated');
      this.finish(0);
      return;
    }
    if (!this.conf.override) this.start();
    if (this.conf.mockException === 'run') this.hooks.exception('mock run exception generated');
  }

  /** `job-exec.override`: start or finish by hand. */
  override(event: string, status: number): void {
    if (!this.conf.override) throw new FluxError(errno.EINVAL, 'Job not in exec override mode');
    if (event === 'start') {
      if (this.running) throw new FluxError(errno.EINVAL, 'Job already running');
      this.start();
    } else if (event === 'finish') {
      if (!this.running) throw new FluxError(errno.EINVAL, 'Job not running');
      this.finish(status);
    } else throw new FluxError(errno.EINVAL, 'Invalid event');
  }

  /** A signal or a fatal exception: a started job finishes with the signal as its status. */
  kill(signum: number): void {
    if (this.running) this.finish(signum);
    else if (!this.done) this.finish(0);
  }

  private start(): void {
    // no duration at all: done almost at once; 0 (unlimited): until killed
    const t = this.conf.runDuration < 0 ? 1e-5 : this.conf.runDuration;
    this.running = true;
    this.hooks.started();
    if (t > 0) this.timer = setTimeout(() => this.finish(this.conf.waitStatus), Math.max(0, t * 1000));
  }

  private finish(status: number): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.timer);
    this.hooks.complete(status, this.running);
  }
}

/** job-exec's test jobs: started from `job-exec.start`, ended by timers, kills and `job-exec.override`. */
export class TestExecutor {
  private readonly jobs = new Map<JobId, TestJob>();

  constructor(ctx: ModuleContext) {
    ctx.serve('job-exec.override', (r) => {
      const req = payloadJson<{ event?: unknown; jobid?: unknown; status?: unknown }>(r.msg);
      if (typeof req.event !== 'string' || req.jobid === undefined) throw new FluxError(errno.EPROTO);
      const job = this.jobs.get(idField(req.jobid));
      if (!job) throw new FluxError(errno.ENOENT, 'Job not found');
      if (r.msg.userid !== job.userid) throw new FluxError(errno.EPERM, 'Permission denied');
      job.override(req.event, typeof req.status === 'number' ? req.status : 0);
      respondJson(r, {});
    });
  }

  /** Run a test job on the stream of its job-exec.start request. */
  start(r: Responder, id: JobId, userid: number, conf: TestConf): void {
    const jid = idJson(id);
    const job = new TestJob(id, userid, conf, {
      started: () => respondJson(r, { id: jid, type: 'start', data: {} }),
      exception: (note) => respondJson(r, { id: jid, type: 'exception', data: { type: 'exec', severity: 0, note } }),
      complete: (status, started) => {
        this.jobs.delete(id);
        if (started) respondJson(r, { id: jid, type: 'finish', data: { status } });
        respondJson(r, { id: jid, type: 'release', data: { ranks: 'all', final: true } });
        r.respondError(errno.ENODATA);
      },
    });
    this.jobs.set(id, job);
    job.begin();
  }

  /** Signal a test job; false when `id` is not one. */
  kill(id: JobId, signum: number): boolean {
    const job = this.jobs.get(id);
    if (!job) return false;
    job.kill(signum);
    return true;
  }

  /** The module is unloading: every test job ends, killed. */
  shutdown(): void {
    for (const job of [...this.jobs.values()]) job.kill(9);
  }
}
