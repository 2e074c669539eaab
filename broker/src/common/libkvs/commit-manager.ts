/**
 * The transaction queue of one namespace (flux-core's kvstxn_mgr): commits are applied one group
 * at a time, each new root built on the previous one.
 *
 * Merging (kvstxn_mgr_merge_ready_transactions): adjacent ready transactions with equal flags,
 * none with NO_MERGE or SYNC, are applied as one (ops concatenated, one new root, one sequence
 * number). If the merged one fails, flux-core does not fail the group: each member is retried on
 * its own with NO_MERGE set, so only the bad one fails — except for ENOMEM and ENOTSUP, which
 * fail them all. Non-adjacent transactions are never merged (it would reorder writes).
 */
import { errno, type FluxError } from '../libflux/errno';
import { applyOps, type ApplyOptions, type ContentStore } from './commit';
import { kvsError } from './errors';
import { FLUX_KVS_NO_MERGE, FLUX_KVS_SYNC } from './txn';

function isFluxError(e: unknown): e is FluxError {
  return typeof e === 'object' && e !== null && typeof (e as { errnum?: unknown }).errnum === 'number';
}

export interface CommitRequest {
  /** Transaction name (flux-core: the request's sender-derived name). */
  name: string;
  /** Ops as received ([{"key","flags","dirent"}]). */
  ops: readonly unknown[];
  /** Commit flags: NO_MERGE 1, TXN_COMPACT 2, SYNC 4. */
  flags: number;
  /** kvstxn internal flags (e.g. NO_PUBLISH); transactions merge only when these match. */
  internalFlags?: number;
}

export interface CommitResult {
  rootref: string;
  rootseq: number;
  /** Keys changed by the applied (possibly merged) transaction. */
  keys: string[];
  /** Names of all transactions applied together with this one (including it). */
  names: string[];
}

export interface CommitManagerOptions extends ApplyOptions {
  rootref: string;
  rootseq: number;
  /** Merge adjacent mergeable transactions (flux-core's kvs transaction-merge, default on). */
  merge?: boolean;
  /**
   * For FLUX_KVS_SYNC: flush the content store and checkpoint (rootref, rootseq) before the new
   * root takes effect. A rejection fails the transaction and leaves the root unchanged.
   */
  sync?: (rootref: string, rootseq: number) => Promise<void>;
}

interface Pending {
  req: CommitRequest;
  noMerge: boolean;
  resolve: (r: CommitResult) => void;
  reject: (e: unknown) => void;
}

const PRIMARY_NAMESPACE = 'primary';

/**
 * Serializes commits to one namespace's root. submit() resolves when the transaction has been
 * applied (alone or merged) and rejects with its FluxError otherwise. Work is done one
 * transaction group at a time, so each new root builds on the previous one.
 */
export class CommitManager {
  private readonly store: ContentStore;
  private readonly opts: CommitManagerOptions;
  private readonly ready: Pending[] = [];
  private running = false;
  private _rootref: string;
  private _rootseq: number;

  constructor(store: ContentStore, opts: CommitManagerOptions) {
    this.store = store;
    this.opts = opts;
    this._rootref = opts.rootref;
    this._rootseq = opts.rootseq;
  }

  get rootref(): string {
    return this._rootref;
  }

  get rootseq(): number {
    return this._rootseq;
  }

  /** Transactions waiting (flux-core's "#readytransactions"). */
  get readyCount(): number {
    return this.ready.length;
  }

  submit(req: CommitRequest): Promise<CommitResult> {
    return new Promise<CommitResult>((resolve, reject) => {
      const noMerge = (req.flags & (FLUX_KVS_NO_MERGE | FLUX_KVS_SYNC)) !== 0;
      this.ready.push({ req, noMerge, resolve, reject });
      if (!this.running) {
        this.running = true;
        // Start on a later tick so transactions submitted together can merge.
        setImmediate(() => void this.run());
      }
    });
  }

  /** The group at the head of the queue that flux-core would merge (length 1 = no merge). */
  private takeGroup(): Pending[] {
    const first = this.ready[0];
    const group = [first];
    if (this.opts.merge === false || first.noMerge) return group;
    const flags = first.req.flags;
    const internal = first.req.internalFlags ?? 0;
    for (let i = 1; i < this.ready.length; i++) {
      const p = this.ready[i];
      if (p.noMerge || p.req.flags !== flags || (p.req.internalFlags ?? 0) !== internal) break;
      group.push(p);
    }
    return group;
  }

  private async run(): Promise<void> {
    try {
      while (this.ready.length > 0) {
        const group = this.takeGroup();
        const ops = group.flatMap((p) => [...p.req.ops]);
        const flags = group[0].req.flags;
        try {
          const result = await this.applyOne(ops, flags, group.map((p) => p.req.name));
          this.ready.splice(0, group.length);
          for (const p of group) p.resolve(result);
          // More is waiting: let the messages that have already arrived (commits queued behind
          // the content store's answer that resumed us) be delivered before taking the next
          // group, so that they merge into it. Under concurrent load this makes the groups
          // several times larger, and every group costs a root, a store round trip and a setroot
          // event to every rank; a lone committer never gets here with anything waiting.
          if (this.ready.length > 0) await new Promise<void>((resolve) => setImmediate(resolve));
        } catch (e) {
          const errnum = isFluxError(e) ? e.errnum : errno.EIO;
          if (group.length > 1 && errnum !== errno.ENOMEM && errnum !== errno.ENOTSUP) {
            // Fall back: replay each member alone, in order, never merged again.
            for (const p of group) p.noMerge = true;
            continue;
          }
          this.ready.splice(0, group.length);
          for (const p of group) p.reject(e);
        }
      }
    } finally {
      this.running = false;
    }
  }

  private async applyOne(ops: unknown[], flags: number, names: string[]): Promise<CommitResult> {
    if ((flags & FLUX_KVS_SYNC) && (this.opts.namespace ?? PRIMARY_NAMESPACE) !== PRIMARY_NAMESPACE) {
      throw kvsError(errno.EINVAL);
    }
    const { rootref, keys } = await applyOps(this.store, this._rootref, ops, this.opts);
    const rootseq = this._rootseq + 1;
    if ((flags & FLUX_KVS_SYNC) && this.opts.sync) await this.opts.sync(rootref, rootseq);
    this._rootref = rootref;
    this._rootseq = rootseq;
    return { rootref, rootseq, keys, names };
  }
}
