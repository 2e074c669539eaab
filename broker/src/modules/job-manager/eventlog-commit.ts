/**
 * Eventlog appends to the KVS: every append made in one turn of the event loop goes into one
 * commit, and commits go out one at a time, in order (a job's events stay ordered).
 */
import type { Flux } from '../../common/libflux/handle';
import { FLUX_KVS_APPEND, KvsTxn } from '../../common/libkvs/txn';

export class EventlogCommitter {
  private txn: KvsTxn | undefined;
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly h: Flux, private readonly logError: (text: string) => void) {}

  private flush(): void {
    this.chain = this.chain.then(async () => {
      if (!this.txn) return;
      const t = this.txn;
      this.txn = undefined;
      await this.h.rpc('kvs.commit', { namespace: 'primary', flags: 0, ops: t.toOps() }).get()
        .catch((e: unknown) => this.logError(`eventlog commit: ${e instanceof Error ? e.message : String(e)}`));
    });
  }

  /** Append one line (an encoded event) to `key`. */
  append(key: string, line: string): void {
    if (!this.txn) {
      this.txn = new KvsTxn();
      setImmediate(() => this.flush());
    }
    this.txn.put(key, `${line}\n`, FLUX_KVS_APPEND);
  }

  /** Resolves once every event appended so far is in the KVS. */
  async flushed(): Promise<void> {
    this.flush();
    await this.chain;
  }
}
