/**
 * job-manager's record of one job: what the eventlog says (the state machine), what it was
 * submitted with, and where its allocation and execution stand. Scheduling order too.
 */
import type { JobId } from '../../common/libjob/jobid';
import type { JsonValue } from '../../common/libjob/json';
import { JobStateMachine, STATE_INACTIVE, type JobEvent } from '../../common/libjob/states';
import type { Responder } from '../../broker/service';

export interface Job {
  id: JobId;
  userid: number;
  urgency: number;
  flags: number;
  t_submit: number;
  priority: number;
  jobspec: Record<string, JsonValue>;
  sm: JobStateMachine;
  events: JobEvent[];
  R?: JsonValue;
  allocPending: boolean;
  hasResources: boolean;
  execStarted: boolean;
  execDone: boolean;
  execNotified: boolean;
  cancelSent: boolean;
  cleanPosted: boolean;
  waiters: Responder[];
}

/** A new job record (nothing allocated, nothing started). */
export function newJob(f: Pick<Job, 'id' | 'userid' | 'urgency' | 'flags' | 't_submit' | 'priority' | 'jobspec'> & Partial<Pick<Job, 'sm' | 'events'>>): Job {
  const sm = f.sm ?? new JobStateMachine();
  return {
    ...f, sm, events: f.events ?? [],
    allocPending: false, hasResources: false, execStarted: false, execDone: false, execNotified: false, cancelSent: false,
    cleanPosted: sm.state === STATE_INACTIVE, waiters: [],
  };
}

/** The client a request came from (its first hop). */
export function senderOf(r: Responder): string {
  const routes = r.msg.routes;
  return routes[routes.length - 1] ?? '';
}

/** Scheduling order: higher priority first, then earlier submission, then lower id. */
export function schedOrder(a: Pick<Job, 'priority' | 't_submit' | 'id'>, b: Pick<Job, 'priority' | 't_submit' | 'id'>): number {
  return b.priority - a.priority || a.t_submit - b.t_submit || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}
