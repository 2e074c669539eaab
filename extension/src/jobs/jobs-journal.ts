/**
 * Every job of the instance, live from job-manager's `events-journal` stream (flux-core 0.88's
 * RPC: each event of each job as `{id, events:[ev], jobspec?, R?}`, the history first, then
 * `{id:-1}`, then new events as they happen). No polling: the Jobs view, its badge and the
 * status bar counts are all read from here. No `vscode` import, so benches and tests can use it.
 */
import type { Flux, Rpc } from '../../../broker/src/common/libflux/handle';
import { FLAG_STREAMING } from '../../../broker/src/common/libflux/message';
import { encodeF58, type JobId } from '../../../broker/src/common/libjob/jobid';
import type { JsonValue } from '../../../broker/src/common/libjob/json';
import { idField, payloadJson } from '../../../broker/src/common/libjob/rpc-json';
import {
  JobStateMachine,
  STATE_INACTIVE,
  STATE_RUNNING,
  decodeEvent,
  type JobEvent,
} from '../../../broker/src/common/libjob/states';
import { Rlist } from '../../../broker/src/common/librlist/rlist';
import { jobspecSummary } from '../../../broker/src/common/libjob/jobspec-summary';
import { encodeIdset } from '../../../broker/src/common/libidset/idset';

export type JobGroup = 'pending' | 'running' | 'inactive';

/** What the view shows of one job. */
export class JobEntry {
  readonly sm = new JobStateMachine();
  readonly f58: string;
  name = '';
  ntasks = 1;
  nnodes: number | undefined;
  ranks: string | undefined;
  command: string[] = [];

  constructor(readonly id: JobId) {
    this.f58 = encodeF58(id);
  }

  get group(): JobGroup {
    const s = this.sm.state;
    if (s & STATE_RUNNING) return 'running';
    if (s === STATE_INACTIVE) return 'inactive';
    return 'pending'; // NEW counts as pending too
  }

  /** Seconds: pending since submit, running since start, inactive: how long it ran (0 if never). */
  runtime(now = Date.now() / 1000): number {
    const sm = this.sm;
    if (this.group === 'pending') return Math.max(0, now - sm.t_submit);
    if (!sm.t_run) return 0;
    const end = this.group === 'running' ? (sm.t_cleanup || now) : (sm.t_cleanup || sm.t_inactive);
    return Math.max(0, end - sm.t_run);
  }

  setJobspec(js: Record<string, JsonValue>): void {
    const sum = jobspecSummary(js);
    this.command = sum.command;
    this.name = sum.name;
    this.ntasks = sum.ntasks;
    if (sum.nnodes > 0) this.nnodes = sum.nnodes;
  }

  setR(R: JsonValue): void {
    try {
      const rl = Rlist.fromR(R);
      this.nnodes = rl.nnodes;
      this.ranks = encodeIdset(rl.ranks.map((r) => r.rank));
    } catch {
      // an R we cannot read: the counts from the jobspec stay
    }
  }
}

export interface JobCounts {
  pending: number;
  running: number;
  inactive: number;
}

type Listener = () => void;

export class JobsJournal {
  private readonly jobs = new Map<JobId, JobEntry>();
  private rpc: Rpc | undefined;
  private handle: Flux | undefined;
  private following: Promise<void> = Promise.resolve();
  private readonly listeners = new Set<Listener>();
  private readonly eventListeners = new Set<(job: JobEntry, ev: JobEvent) => void>();
  private _ready = false;
  private _error: string | undefined;
  /** Journal entries received (tests and the log use it). */
  entries = 0;

  /** True once the history has been read (`{id:-1}` seen). */
  get ready(): boolean {
    return this._ready;
  }

  /** Why the stream stopped, when it failed (e.g. no job-manager loaded). */
  get error(): string | undefined {
    return this._error;
  }

  /** Called (not debounced) after each batch of journal entries; returns an unsubscribe. */
  onChange(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Called for every event of every job, as it arrives. */
  onEvent(fn: (job: JobEntry, ev: JobEvent) => void): () => void {
    this.eventListeners.add(fn);
    return () => this.eventListeners.delete(fn);
  }

  get(id: JobId): JobEntry | undefined {
    return this.jobs.get(id);
  }

  all(): JobEntry[] {
    return [...this.jobs.values()];
  }

  counts(): JobCounts {
    const c: JobCounts = { pending: 0, running: 0, inactive: 0 };
    for (const j of this.jobs.values()) c[j.group]++;
    return c;
  }

  /** The jobs of a group in the order flux jobs lists them. */
  group(g: JobGroup): JobEntry[] {
    const list = [...this.jobs.values()].filter((j) => j.group === g);
    if (g === 'pending') {
      return list.sort((a, b) => (b.sm.priority ?? 0) - (a.sm.priority ?? 0) || a.sm.t_submit - b.sm.t_submit);
    }
    if (g === 'running') return list.sort((a, b) => b.sm.t_run - a.sm.t_run);
    return list.sort((a, b) => b.sm.t_inactive - a.sm.t_inactive);
  }

  /**
   * Follow the journal on `h` (history, then live) until stop() or the connection ends; already
   * following on `h`: nothing new (job-manager would send every event twice to the connection).
   */
  start(h: Flux): Promise<void> {
    if (this.rpc && this.handle === h) return this.following;
    this.stop();
    this.jobs.clear();
    this._ready = false;
    this._error = undefined;
    const rpc = h.rpc('job-manager.events-journal', {}, { nodeid: 0, flags: FLAG_STREAMING });
    this.rpc = rpc;
    this.handle = h;
    this.following = this.follow(rpc);
    return this.following;
  }

  private async follow(rpc: Rpc): Promise<void> {
    let batch = false;
    const notify = (): void => {
      batch = false;
      for (const fn of this.listeners) fn();
    };
    try {
      for await (const m of rpc) {
        if (this.rpc !== rpc) return;
        this.entries++;
        const e = payloadJson<{ id?: unknown; events?: unknown; jobspec?: unknown; R?: JsonValue }>(m);
        if (e.id === -1) {
          this._ready = true;
          notify();
          continue;
        }
        this.apply(e);
        // several entries arrive in one read: one notification for them
        if (!batch && this._ready) {
          batch = true;
          queueMicrotask(notify);
        }
      }
    } catch (err) {
      if (this.rpc === rpc) this._error = err instanceof Error ? err.message : String(err);
    }
    if (this.rpc === rpc) {
      this.rpc = undefined;
      notify();
    }
  }

  private apply(e: { id?: unknown; events?: unknown; jobspec?: unknown; R?: JsonValue }): void {
    const id = idField(e.id);
    let job = this.jobs.get(id);
    if (!job) {
      job = new JobEntry(id);
      this.jobs.set(id, job);
    }
    if (typeof e.jobspec === 'object' && e.jobspec !== null) job.setJobspec(e.jobspec as Record<string, JsonValue>);
    if (e.R !== undefined) job.setR(e.R);
    if (!Array.isArray(e.events)) return;
    for (const raw of e.events) {
      const ev = typeof raw === 'string' ? decodeEvent(raw) : (raw as JobEvent);
      if (!ev || typeof ev.name !== 'string') continue;
      job.sm.apply(ev);
      for (const fn of this.eventListeners) fn(job, ev);
    }
  }

  stop(): void {
    const rpc = this.rpc;
    this.rpc = undefined;
    rpc?.cancelLocal();
  }

  /** Forget everything (the instance went away). */
  clear(): void {
    this.stop();
    this.jobs.clear();
    this._ready = false;
    for (const fn of this.listeners) fn();
  }
}

