/**
 * What job listings show of a jobspec (job-list, the extension's Jobs view): its name (the job
 * name, else the command's basename), command, cwd, queue, duration, and the task, core and node
 * counts its resources and task count imply.
 */
import * as path from 'node:path';
import type { JsonValue } from './json';

export interface JobspecSummary {
  name: string;
  command: string[];
  cwd?: string;
  queue?: string;
  duration?: number;
  ntasks: number;
  ncores: number;
  /** 0 when the jobspec names no nodes. */
  nnodes: number;
}

export function jobspecSummary(js: Record<string, JsonValue>): JobspecSummary {
  const sys = (((js.attributes ?? {}) as Record<string, JsonValue>).system ?? {}) as Record<string, JsonValue>;
  const task = ((js.tasks ?? []) as JsonValue[])[0] as Record<string, JsonValue> | undefined;
  const command = Array.isArray(task?.command) ? (task.command as JsonValue[]).filter((c): c is string => typeof c === 'string') : [];
  const jobName = (sys.job as Record<string, JsonValue> | undefined)?.name;
  let nslots = 1;
  let slotCores = 1;
  let nnodes = 0;
  const walk = (list: JsonValue | undefined, mult: number): void => {
    if (!Array.isArray(list)) return;
    for (const v of list) {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) continue;
      const o = v as Record<string, JsonValue>;
      const c = typeof o.count === 'number' ? o.count : 1;
      if (o.type === 'node') nnodes = mult * c;
      if (o.type === 'slot') nslots = mult * c;
      if (o.type === 'core') slotCores = c;
      walk(o.with, o.type === 'node' || o.type === 'slot' ? mult * c : mult);
    }
  };
  walk(js.resources, 1);
  const count = (task?.count ?? {}) as Record<string, JsonValue>;
  return {
    name: typeof jobName === 'string' ? jobName : command[0] !== undefined ? path.basename(command[0]) : '',
    command,
    cwd: typeof sys.cwd === 'string' ? sys.cwd : undefined,
    queue: typeof sys.queue === 'string' ? sys.queue : undefined,
    duration: typeof sys.duration === 'number' ? sys.duration : undefined,
    ntasks: typeof count.total === 'number' ? count.total : nslots * (typeof count.per_slot === 'number' ? count.per_slot : 1),
    ncores: nslots * slotCores,
    nnodes,
  };
}
