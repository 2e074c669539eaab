/**
 * content: the content-addressable blob store of RFC 10, one cache per rank (flux-core's
 * modules/content). Loaded on every rank by rc1. This file holds the module's options and its
 * service table; the cache is cache.ts (rank 0's write-back to the backing store writeback.ts),
 * mapped files mmap.ts, the role check access.ts.
 *
 *   content.load   request = raw digest (20 bytes for sha1)  -> raw blob     (ENOENT, EPROTO)
 *   content.store  request = raw blob                        -> raw digest   (EFBIG)
 *   content.store-batch (ours, rank 0) raw [u32 len][blob]... -> raw digests in order (batch.ts)
 *   content.flush  {} -> {}           every dirty entry written through (rank 0: to the backing store)
 *   content.dropcache {} -> {}        drop the clean entries
 *   content.stats-get -> {"count","valid","dirty","size","flush-batch-count","mmap","faults"}
 *                                     ("mmap": rank 0 {"tags":{TAG:[path...]},"blobs":N}, else null)
 *   content.checkpoint-get/put        forwarded upstream; rank 0 asks content-backing.*
 *   content.register-backing {"name"} / content.unregister-backing   (the backing module calls these)
 *   content.mmap-add {"path","chunksize","tag"} / mmap-remove {"tag"} / mmap-list   (rank 0, mmap.ts)
 *
 * Every one of them is for the instance owner only, as in flux-core (its handlers take the
 * default rolemask): anyone else gets EPERM (access.ts). `content.hash` (sha1 unless set with
 * -S content.hash=sha256) is checked and set here.
 */
import { errno, FluxError } from '../../common/libflux/errno';
import { isHashName } from '../../common/libcontent/blobref';
import type { RequestHandler } from '../../broker/service';
import type { ModuleContext, ModuleMain } from '../../module/runtime';
import { requireOwnerRole } from './access';
import { ContentCache, type Options } from './cache';
import { ContentMmap } from './mmap';

/** flux-core raised RFC 10's 1 MiB to 1 GiB for large KVS objects; so do we. */
const DEFAULT_BLOB_SIZE_LIMIT = 1024 * 1024 * 1024;
const DEFAULT_FLUSH_BATCH_LIMIT = 256;
const DEFAULT_PURGE_TARGET_SIZE = 16 * 1024 * 1024;
const DEFAULT_PURGE_OLD_ENTRY = 10;
/** How often the purge runs (flux-core: on the heartbeat, at most every 10 s). */
const PURGE_PERIOD_MS = 10_000;

function parseU32(s: string, arg: string): number {
  if (!/^[0-9]+$/.test(s) || Number(s) > 0xffffffff) throw new FluxError(errno.EINVAL, `error parsing ${arg}`);
  return Number(s);
}

function parseArgs(args: string[]): Options {
  const o: Options = {
    blobSizeLimit: DEFAULT_BLOB_SIZE_LIMIT,
    flushBatchLimit: DEFAULT_FLUSH_BATCH_LIMIT,
    purgeTargetSize: DEFAULT_PURGE_TARGET_SIZE,
    purgeOldEntry: DEFAULT_PURGE_OLD_ENTRY,
  };
  for (const a of args) {
    const eq = a.indexOf('=');
    const k = eq < 0 ? a : a.slice(0, eq);
    const v = eq < 0 ? '' : a.slice(eq + 1);
    switch (k) {
      case 'purge-target-size': o.purgeTargetSize = parseU32(v, a); break;
      case 'purge-old-entry': o.purgeOldEntry = parseU32(v, a); break;
      case 'flush-batch-limit': o.flushBatchLimit = Math.max(1, parseU32(v, a)); break;
      case 'blob-size-limit': o.blobSizeLimit = parseU32(v, a); break;
      default: throw new FluxError(errno.EINVAL, `unknown module option: ${a}`);
    }
  }
  return o;
}

export const mod_main: ModuleMain = async (ctx, args) => {
  const opts = parseArgs(args);
  const hashName = (await ctx.h.getattrOptional('content.hash')) ?? 'sha1';
  if (!isHashName(hashName)) throw new FluxError(errno.EINVAL, `${hashName}: unknown hash type`);
  await ctx.h.rpc('attr.set', { name: 'content.hash', value: hashName }).response();
  const mmap = new ContentMmap(ctx.rank, hashName, opts.blobSizeLimit);
  const cache = new ContentCache(ctx, hashName, opts, ctx.rank === 0 ? mmap : undefined);
  if (ctx.rank === 0) cache.setBackingName(await ctx.h.getattrOptional('content.backing-module'));

  const serve = (topic: string, handler: RequestHandler): void => ownerServe(ctx, topic, handler);
  serve('content.load', (r) => cache.load(r));
  serve('content.store', (r) => cache.store(r));
  serve('content.store-batch', (r) => cache.storeBatch(r));
  serve('content.flush', (r) => cache.flush(r));
  serve('content.dropcache', (r) => cache.dropcache(r));
  serve('content.stats-get', (r) => r.respond(cache.stats()));
  serve('content.register-backing', (r) => cache.registerBacking(r));
  serve('content.unregister-backing', (r) => cache.unregisterBacking(r));
  serve('content.checkpoint-get', (r) => cache.checkpoint(r, 'get'));
  serve('content.checkpoint-put', (r) => cache.checkpoint(r, 'put'));
  serve('content.mmap-add', (r) => mmap.add(r));
  serve('content.mmap-remove', (r) => mmap.remove(r));
  serve('content.mmap-list', (r) => mmap.list(r));

  const timer = setInterval(() => cache.purge(), PURGE_PERIOD_MS);
  timer.unref();
  ctx.onShutdown(() => clearInterval(timer));
};

/** A service for the instance owner only (flux-core's default message-handler rolemask). */
function ownerServe(ctx: ModuleContext, topic: string, handler: RequestHandler): void {
  ctx.serve(topic, (r) => {
    requireOwnerRole(r.msg.rolemask);
    return handler(r);
  });
}
