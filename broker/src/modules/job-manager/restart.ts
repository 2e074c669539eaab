/**
 * Restart with a statedir: the jobs of an earlier run, read back from their KVS eventlogs
 * (`job.<dothex>.eventlog`, `jobspec`, `R`), each one's state replayed through the state machine.
 */
import type { Flux } from '../../common/libflux/handle';
import { parseJobId, type JobId } from '../../common/libjob/jobid';
import { parseJson, type JsonValue } from '../../common/libjob/json';
import { JobStateMachine, parseEventlog } from '../../common/libjob/states';
import { KVSDir, lookup } from '../../common/libkvs/client';
import { newJob, type Job } from './job';

/** Every job found under `job.` (unreadable ones are reported through `logError` and skipped). */
export async function restoreJobs(h: Flux, logError: (text: string) => void): Promise<Map<JobId, Job>> {
  const jobs = new Map<JobId, Job>();
  let dir: KVSDir;
  try {
    dir = await KVSDir.open(h, 'job', { namespace: 'primary' });
  } catch {
    return jobs; // no jobs yet
  }
  for await (const e of dir.walk()) {
    if (!/^job(\.[0-9a-f]{4}){4}$/.test(e.path) || !e.files.includes('eventlog')) continue;
    try {
      const id = parseJobId(e.path.slice(4));
      const text = async (k: string): Promise<string> => (await lookup(h, `${e.path}.${k}`, { namespace: 'primary' })).string();
      const events = parseEventlog(await text('eventlog'));
      const sm = new JobStateMachine();
      for (const ev of events) sm.apply(ev);
      const job = newJob({
        id, userid: sm.userid, urgency: sm.urgency, flags: sm.flags, t_submit: sm.t_submit, priority: sm.priority ?? 0,
        jobspec: e.files.includes('jobspec') ? parseJson(await text('jobspec')) as Record<string, JsonValue> : {},
        sm, events,
      });
      if (e.files.includes('R')) job.R = parseJson(await text('R'));
      jobs.set(id, job);
    } catch (err) {
      logError(`${e.path}: cannot restore: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return jobs;
}
