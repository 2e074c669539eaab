/**
 * RFC 27's `sched.prioritize {jobs: [[id, priority], ...]}`: the new priorities of pending jobs,
 * applied to a scheduler's queue (ids it does not hold are ignored, as are malformed pairs).
 */
import { idField } from './rpc-json';
import type { JobId } from './jobid';

export function applyPriorities(jobs: unknown, find: (id: JobId) => { priority: number } | undefined): void {
  if (!Array.isArray(jobs)) return;
  for (const pair of jobs as unknown[]) {
    if (!Array.isArray(pair) || pair.length !== 2) continue;
    const p = find(idField(pair[0]));
    if (p) p.priority = Number(pair[1]);
  }
}
