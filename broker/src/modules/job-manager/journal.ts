/**
 * `job-manager.events-journal` followers: each gets every event of every job
 * (`{id, events:[ev], jobspec?, R?}`: the jobspec with `submit`, R with `alloc`), the history
 * first, then `{id:-1, events:[]}`, then each new event as it is posted.
 */
import { errno } from '../../common/libflux/errno';
import { idJson, jsonPayload } from '../../common/libjob/rpc-json';
import type { JobEvent } from '../../common/libjob/states';
import type { Responder } from '../../broker/service';
import { senderOf, type Job } from './job';

export class Journal {
  private readonly followers = new Map<Responder, string>();

  private entry(job: Job, ev: JobEvent): Record<string, unknown> {
    const e: Record<string, unknown> = { id: idJson(job.id), events: [ev] };
    if (ev.name === 'submit') e.jobspec = job.jobspec;
    if (ev.name === 'alloc' && job.R !== undefined) e.R = job.R;
    return e;
  }

  /** A new event of `job`, to every follower. */
  send(job: Job, ev: JobEvent): void {
    if (this.followers.size === 0) return;
    const p = jsonPayload(this.entry(job, ev));
    for (const r of this.followers.keys()) r.respondRaw(p);
  }

  /** A new follower: the history of `jobs`, the end-of-history marker, then live events. */
  follow(r: Responder, jobs: Iterable<Job>): void {
    for (const job of jobs) for (const ev of job.events) r.respondRaw(jsonPayload(this.entry(job, ev)));
    r.respondRaw(jsonPayload({ id: -1, events: [] }));
    this.followers.set(r, senderOf(r));
  }

  /** A client went away: its streams end with it. */
  disconnect(sender: string): void {
    for (const [r, s] of this.followers) if (s === sender) this.followers.delete(r);
  }

  /** The module is being removed: every follower hears ENOSYS. */
  shutdown(): void {
    for (const r of this.followers.keys()) r.respondError(errno.ENOSYS);
    this.followers.clear();
  }
}
