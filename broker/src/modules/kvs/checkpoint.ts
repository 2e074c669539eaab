/**
 * Rank 0's checkpoints of the primary root in the backing store (content.checkpoint-put/get):
 * taken on unload, for every SYNC commit and periodically; the newest is restored at load
 * ("restored KVS from checkpoint on DATE"). Checkpoints are serialized, and one of an older root
 * that was queued behind a newer one is skipped, so the newest always wins.
 */
import { errno, FluxError } from '../../common/libflux/errno';
import { parseCheckpoint } from '../../common/libkvs/checkpoint';
import { emptyDir } from '../../common/libkvs/commit';
import * as treeobj from '../../common/libkvs/treeobj';
import type { HashName } from '../../common/libcontent/blobref';
import type { ModuleContext } from '../../module/runtime';
import type { KvsCache } from './cache';

export function errnumOf(e: unknown): number {
  const n = (e as { errnum?: unknown } | null)?.errnum;
  return typeof n === 'number' && n > 0 ? n : errno.EIO;
}

export class Checkpoints {
  /** Sequence of the newest root checkpointed (-1: none). */
  lastSeq = -1;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly ctx: ModuleContext) {}

  /** Make every blob durable, then record (rootref, rootseq) in the backing store. */
  take(rootref: string, rootseq: number): Promise<void> {
    const run = async (): Promise<void> => {
      if (rootseq < this.lastSeq) return;
      await this.ctx.h.rpc('content.flush', {}).response();
      // Plain JSON on the wire (kvs_checkpoint_commit()'s object); content-sqlite keeps the timestamp a real.
      const value = { version: 1, rootref, sequence: rootseq, timestamp: Date.now() / 1000 };
      await this.ctx.h.rpc('content.checkpoint-put', { value }).response();
      this.lastSeq = Math.max(this.lastSeq, rootseq);
    };
    const p = this.chain.then(run, run);
    this.chain = p.catch(() => undefined);
    return p;
  }

  /**
   * At load: store the empty directory, then the root to start from — the newest checkpoint if
   * its root can be read, else the empty directory (said in dmesg unless there simply is none).
   */
  async restore(cache: KvsCache, hashName: HashName): Promise<{ ref: string; seq: number }> {
    const empty = emptyDir(hashName);
    const stored = await cache.store(empty.data);
    if (stored !== empty.blobref) throw new FluxError(errno.EPROTO, `hash mismatch kvs=${empty.blobref} content=${stored}`);
    try {
      const { value } = await this.ctx.h.rpc('content.checkpoint-get', {}).get<{ value?: unknown }>();
      const cp = parseCheckpoint(value);
      // The root must be readable before it is adopted; a checkpoint naming a lost blob is refused loudly.
      const rootObj = treeobj.decode(await cache.load(cp.rootref));
      if (rootObj.type !== 'dir') throw new FluxError(errno.EINVAL, `checkpoint root ${cp.rootref} is not a directory`);
      this.lastSeq = cp.sequence;
      const date = cp.timestamp > 0 ? new Date(cp.timestamp * 1000).toISOString().replace(/\.\d+Z$/, 'Z') : 'N/A';
      this.ctx.log('info', `restored KVS from checkpoint on ${date}`);
      return { ref: cp.rootref, seq: cp.sequence };
    } catch (e) {
      const n = errnumOf(e);
      // No backing store (ENOSYS) or no checkpoint yet (ENOENT): a fresh, empty KVS.
      if (n !== errno.ENOSYS && n !== errno.ENOENT) {
        this.ctx.log('err', `restoring KVS checkpoint: ${e instanceof Error ? e.message : String(e)}; starting with an empty KVS`);
      }
      return { ref: empty.blobref, seq: 0 };
    }
  }
}
