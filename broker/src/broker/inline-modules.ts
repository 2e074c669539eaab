import type { ModuleMain } from '../module/runtime';

/**
 * Bundled modules that run in the broker's own thread (module-endpoint.ts,
 * inlineEndpoint): each saves a worker thread, about 10 MB and 50 ms of start-up
 * per broker. content and kvs are on every rank and do short, event-driven work;
 * content-sqlite (synchronous SQLite, rank 0 only) keeps a thread of its own.
 */
export const INLINE_MODULES: Record<string, () => Promise<ModuleMain>> = {
  // Compiled into the broker bundle (imported when first loaded): one copy of the shared libraries.
  heartbeat: async () => (await import('../modules/heartbeat/heartbeat.js')).mod_main,
  content: async () => (await import('../modules/content/content.js')).mod_main,
  kvs: async () => (await import('../modules/kvs/kvs.js')).mod_main,
  'kvs-watch': async () => (await import('../modules/kvs-watch/kvs-watch.js')).mod_main,
  resource: async () => (await import('../modules/resource/resource.js')).mod_main,
  // the job pipeline (issue 8): event-driven bookkeeping, light enough for the broker's thread
  'job-manager': async () => (await import('../modules/job-manager/job-manager.js')).mod_main,
  'job-ingest': async () => (await import('../modules/job-ingest/job-ingest.js')).mod_main,
  'job-list': async () => (await import('../modules/job-list/job-list.js')).mod_main,
  'job-info': async () => (await import('../modules/job-info/job-info.js')).mod_main,
  'job-exec': async () => (await import('../modules/job-exec/job-exec.js')).mod_main,
  'sched-simple': async () => (await import('../modules/sched-simple/sched-simple.js')).mod_main,
  // Fluxion (issue 10): event-driven like sched-simple; the graph of a local instance is small
  'sched-fluxion-resource': async () => (await import('../modules/sched-fluxion-resource/sched-fluxion-resource.js')).mod_main,
  'sched-fluxion-qmanager': async () => (await import('../modules/sched-fluxion-qmanager/sched-fluxion-qmanager.js')).mod_main,
  'sched-fluxion-feasibility': async () => (await import('../modules/sched-fluxion-feasibility/sched-fluxion-feasibility.js')).mod_main,
};
