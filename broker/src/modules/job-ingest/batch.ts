/**
 * job-ingest's batches, as flux-core's ingest makes them: the jobs accepted
 * while the broker reads one burst of requests (until the event loop turns,
 * or 256 of them) go to the KVS in one commit and to job-manager in one
 * `job-manager.submit {jobs: [...]}`. job-manager answers `{errors: [[id,
 * text]...]}` for the jobs it refuses; those submitters get the text (EINVAL)
 * and everybody else their id. A failed commit fails the whole batch.
 */
import { errno, FluxError } from '../../common/libflux/errno';
import type { Flux } from '../../common/libflux/handle';
import { jobKvsKey, type JobId } from '../../common/libjob/jobid';
import type { JsonValue } from '../../common/libjob/json';
import { idField, idJson, jsonPayload, payloadJson } from '../../common/libjob/rpc-json';
import { KvsTxn } from '../../common/libkvs/txn';

/** A job ready to be written: its KVS entries and its record for job-manager. */
export interface IngestJob {
  id: JobId;
  /** KVS entries under job.<id>: name → text. */
  entries: [string, string][];
  record: Record<string, JsonValue>;
}

const BATCH_MAX = 256;

interface Waiter {
  job: IngestJob;
  resolve(): void;
  reject(e: unknown): void;
}

export class IngestBatcher {
  private batch: Waiter[] = [];
  private scheduled = false;

  constructor(private readonly h: Flux) {}

  /** Resolves once job-manager has the job; rejects with job-manager's reason when it refuses it. */
  add(job: IngestJob): Promise<void> {
    return new Promise((resolve, reject) => {
      this.batch.push({ job, resolve, reject });
      if (this.batch.length >= BATCH_MAX) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.batch;
    this.batch = [];
    if (batch.length > 0) this.send(batch).catch(() => undefined);
  }

  private async send(batch: Waiter[]): Promise<void> {
    try {
      const txn = new KvsTxn();
      for (const { job } of batch) for (const [name, text] of job.entries) txn.put(jobKvsKey(job.id, name), text);
      await this.h.rpc('kvs.commit', { namespace: 'primary', flags: 0, ops: txn.toOps() }).get();
      const answer = payloadJson<{ errors?: unknown }>(
        await this.h.rpc('job-manager.submit', jsonPayload({ jobs: batch.map((w) => ({ id: idJson(w.job.id), ...w.job.record })) }), { nodeid: 0 }).response(),
      );
      const refused = new Map<JobId, string>();
      if (Array.isArray(answer.errors)) {
        for (const e of answer.errors) if (Array.isArray(e) && e.length >= 2) refused.set(idField(e[0]), String(e[1]));
      }
      if (refused.size > 0) {
        // flux-core's ingest removes what it wrote for a refused job
        const gone = new KvsTxn();
        for (const id of refused.keys()) gone.unlink(jobKvsKey(id));
        this.h.rpc('kvs.commit', { namespace: 'primary', flags: 0, ops: gone.toOps() }).get().catch(() => undefined);
      }
      for (const w of batch) {
        const why = refused.get(w.job.id);
        if (why !== undefined) w.reject(new FluxError(errno.EINVAL, why));
        else w.resolve();
      }
    } catch (e) {
      for (const w of batch) w.reject(e);
    }
  }
}
