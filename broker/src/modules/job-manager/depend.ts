/**
 * Job dependencies (RFC 26), as flux-core's job-manager keeps them with its dependency-after
 * and begin-time plugins. At submit each `attributes.system.dependencies` entry is checked
 * (an unknown scheme, a bad or unknown job id, another user's job, or an inactive antecedent
 * that can never satisfy it refuse the job with flux-core's message) and announced with a
 * `dependency-add {description}` event; the job stays in DEPEND while any is outstanding. A
 * dependency is satisfied with `dependency-remove`: when the antecedent starts (after) or
 * becomes inactive with the right outcome, or at the begin time; one that can never be is a
 * fatal `dependency` exception on the dependent job. The outstanding set is what the eventlog
 * says, so a restart rebuilds it from the events and re-arms what waits.
 */
import { parseJobId, type JobId } from '../../common/libjob/jobid';
import type { JsonValue } from '../../common/libjob/json';
import { STATE_DEPEND, STATE_INACTIVE, STATE_NEW, type JobEvent } from '../../common/libjob/states';
import type { Job } from './job';
import {
  AFTER_START,
  afterType,
  afterTypeName,
  beginTimeDescription,
  inactiveVerdict,
  outcomeOf,
  parseBeginTime,
  releasedBy,
} from './depend-after';

/** FLUX_JOBTAP_CURRENT_JOB (FLUX_JOBID_ANY): never a valid antecedent. */
const CURRENT_JOB = 0xffffffffffffffffn;
/** setTimeout's longest delay; later begin times wait in steps. */
const MAX_DELAY_MS = 2 ** 31 - 1;

export interface DependHooks {
  jobs: Map<JobId, Job>;
  post(job: Job, name: string, context?: Record<string, JsonValue>): void;
}

/** One after* dependency, kept on its antecedent until it is resolved. */
interface AfterRef {
  type: number;
  /** The dependent job. */
  id: JobId;
  description: string;
}

/** What submit will post for one entry (decided before anything is posted). */
type Plan =
  | { kind: 'after'; type: number; target: JobId; description: string; resolved: boolean }
  | { kind: 'begin'; at: number; description: string };

function dependenciesOf(job: Job): JsonValue | undefined {
  const attrs = job.jobspec.attributes;
  const sys = typeof attrs === 'object' && attrs !== null && !Array.isArray(attrs) ? attrs.system : undefined;
  return typeof sys === 'object' && sys !== null && !Array.isArray(sys) ? sys.dependencies : undefined;
}

function entriesOf(job: Job): JsonValue[] {
  const deps = dependenciesOf(job);
  return Array.isArray(deps) ? deps : [];
}

/** The description an entry gets, when it can be told without checking it. */
function describe(entry: JsonValue): string | undefined {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return undefined;
  const { scheme, value } = entry;
  if (typeof scheme !== 'string' || typeof value !== 'string') return undefined;
  if (scheme === 'begin-time') {
    const at = parseBeginTime(value);
    return at === undefined ? undefined : beginTimeDescription(at);
  }
  const type = afterType(scheme);
  return type === undefined ? undefined : `${afterTypeName(type)}=${value}`;
}

export class Dependencies {
  /** Antecedent → the dependencies waiting on it. */
  private readonly waiting = new Map<JobId, AfterRef[]>();
  /** Dependent job → descriptions added and not yet removed (from its events). */
  private readonly outstanding = new Map<JobId, Set<string>>();
  private readonly timers = new Map<JobId, NodeJS.Timeout>();
  private readonly owner = process.getuid?.() ?? 0;

  constructor(private readonly hooks: DependHooks) {}

  /**
   * Check a new job's dependencies (its submit event posted, nothing else). Returns the error
   * that refuses it, or a function that posts its dependency events (call it before `validate`).
   */
  submit(job: Job): { error: string } | { accept: () => void } {
    if (!Array.isArray(dependenciesOf(job) ?? [])) return { error: 'dependencies object must be an array' };
    const plans: Plan[] = [];
    const entries = entriesOf(job);
    for (let i = 0; i < entries.length; i++) {
      const p = this.plan(job, entries[i], i);
      if (typeof p === 'string') return { error: p };
      plans.push(p);
    }
    return { accept: () => plans.forEach((p) => this.apply(job, p)) };
  }

  /** The job may leave DEPEND: nothing it waits for is outstanding. */
  ready(job: Job): boolean {
    return (this.outstanding.get(job.id)?.size ?? 0) === 0;
  }

  /** Every event job-manager posts passes here (after the state machine took it). */
  posted(job: Job, ev: JobEvent): void {
    const desc = typeof ev.context?.description === 'string' ? ev.context.description : undefined;
    if (ev.name === 'dependency-add' && desc !== undefined) {
      let set = this.outstanding.get(job.id);
      if (!set) this.outstanding.set(job.id, (set = new Set()));
      set.add(desc);
    } else if (ev.name === 'dependency-remove' && desc !== undefined) {
      this.outstanding.get(job.id)?.delete(desc);
    } else if (ev.name === 'start') {
      this.release(job.id, AFTER_START, undefined);
    } else if (ev.name === 'depend') {
      this.forget(job.id);
    }
    if (job.sm.state === STATE_INACTIVE) {
      this.forget(job.id);
      const { mask, reason } = releasedBy(outcomeOf(job.events));
      this.release(job.id, mask, reason);
      this.waiting.delete(job.id);
    }
  }

  /**
   * Restart: the outstanding dependencies of jobs still in NEW/DEPEND come from their events;
   * each is attached to its antecedent again (or resolved, if that one ended meanwhile) and
   * begin times re-armed. A dependency that cannot be re-established gets flux-core's
   * non-fatal warning exception.
   */
  restore(jobs: Iterable<Job>): void {
    for (const job of jobs) {
      if (!(job.sm.state & (STATE_NEW | STATE_DEPEND))) continue;
      const added = new Set<string>();
      const removed = new Set<string>();
      for (const ev of job.events) {
        const d = ev.context?.description;
        if (typeof d !== 'string') continue;
        if (ev.name === 'dependency-add') added.add(d);
        else if (ev.name === 'dependency-remove') removed.add(d);
      }
      const open = new Set([...added].filter((d) => !removed.has(d)));
      this.outstanding.set(job.id, open);
      entriesOf(job).forEach((entry, i) => {
        const d = describe(entry);
        if (d !== undefined && removed.has(d)) return; // satisfied before the restart
        const p = this.plan(job, entry, i);
        if (typeof p === 'string') {
          this.hooks.post(job, 'exception', { type: 'dependency', severity: 4, note: `${p} (job may be stuck in DEPEND state)`, userid: this.owner });
          return;
        }
        this.apply(job, p, open.has(p.description));
      });
    }
  }

  /** The module is going away: no timer may outlive it. */
  shutdown(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  // --- internals ----------------------------------------------------------------

  /** Decide what one entry means (flux-core's checks, in its order), or the error. */
  private plan(job: Job, entry: JsonValue, index: number): Plan | string {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry) || typeof entry.scheme !== 'string') {
      return `dependency[${index}] missing string scheme`;
    }
    const scheme = entry.scheme;
    const value = entry.value;
    if (scheme === 'begin-time') {
      if (typeof value !== 'string') return 'error processing begin-time: value must be a string';
      const at = parseBeginTime(value);
      if (at === undefined) return `Invalid begin-time=${value}`;
      return { kind: 'begin', at, description: beginTimeDescription(at) };
    }
    const type = afterType(scheme);
    if (type === undefined) return `dependency scheme "${scheme}" not supported`;
    if (typeof value !== 'string') return `dependency: after: value must be a string`;
    let target: JobId;
    try {
      target = parseJobId(value);
    } catch {
      return `dependency: ${scheme}: "${value}" is not a valid jobid`;
    }
    if (target === CURRENT_JOB) return `dependency: ${scheme}: "${value}" is not a valid jobid`;
    const antecedent = this.hooks.jobs.get(target);
    if (!antecedent) return `dependency: ${scheme}: id ${value}: job not found`;
    if (antecedent.userid !== job.userid) return `${scheme}: Permission denied for job ${value}`;
    const description = `${afterTypeName(type)}=${value}`;
    if (antecedent.sm.state === STATE_INACTIVE) {
      const err = inactiveVerdict(type, value, outcomeOf(antecedent.events));
      if (err !== undefined) return err;
      return { kind: 'after', type, target, description, resolved: true };
    }
    const started = antecedent.events.some((e) => e.name === 'start');
    return { kind: 'after', type, target, description, resolved: type === AFTER_START && started };
  }

  /** Post and arm what a plan says; `known` when its dependency-add is already in the eventlog. */
  private apply(job: Job, p: Plan, known = false): void {
    if (!known) this.hooks.post(job, 'dependency-add', { description: p.description });
    if (p.kind === 'begin') {
      this.arm(job, p.at, p.description);
      return;
    }
    if (p.resolved) {
      this.hooks.post(job, 'dependency-remove', { description: p.description });
      return;
    }
    let list = this.waiting.get(p.target);
    if (!list) this.waiting.set(p.target, (list = []));
    list.push({ type: p.type, id: job.id, description: p.description });
  }

  /** begin-time: remove the dependency at `at` (seconds since the epoch). */
  private arm(job: Job, at: number, description: string): void {
    const fire = (): void => {
      const left = at * 1000 - Date.now();
      if (left > 0) {
        this.timers.set(job.id, setTimeout(fire, Math.min(left, MAX_DELAY_MS)));
        return;
      }
      this.timers.delete(job.id);
      if (job.sm.state & (STATE_NEW | STATE_DEPEND)) this.hooks.post(job, 'dependency-remove', { description });
    };
    clearTimeout(this.timers.get(job.id));
    this.timers.set(job.id, setTimeout(fire, Math.max(0, Math.min(at * 1000 - Date.now(), MAX_DELAY_MS))));
  }

  /**
   * Dependencies on `target` of the kinds in `mask` are satisfied; when `reason` is given,
   * the others can never be and their jobs get a fatal `dependency` exception.
   */
  private release(target: JobId, mask: number, reason: string | undefined): void {
    const list = this.waiting.get(target);
    if (!list) return;
    const keep: AfterRef[] = [];
    for (const ref of list) {
      const dep = this.hooks.jobs.get(ref.id);
      const pending = dep !== undefined && (dep.sm.state & (STATE_NEW | STATE_DEPEND)) !== 0;
      if (ref.type & mask) {
        if (pending) this.hooks.post(dep, 'dependency-remove', { description: ref.description });
      } else if (reason !== undefined) {
        if (pending) {
          this.hooks.post(dep, 'exception', { type: 'dependency', severity: 0, note: `dependency ${ref.description} ${reason}`, userid: this.owner });
        }
      } else keep.push(ref);
    }
    if (keep.length > 0) this.waiting.set(target, keep);
    else this.waiting.delete(target);
  }

  /** `id` left DEPEND (or ended): nothing of its own waits any more. */
  private forget(id: JobId): void {
    clearTimeout(this.timers.get(id));
    this.timers.delete(id);
    this.outstanding.delete(id);
    for (const [target, list] of this.waiting) {
      const keep = list.filter((r) => r.id !== id);
      if (keep.length === list.length) continue;
      if (keep.length > 0) this.waiting.set(target, keep);
      else this.waiting.delete(target);
    }
  }
}
