/**
 * content-sqlite: the content backing store on rank 0 (flux-core's modules/content-sqlite), the
 * file `content.sqlite` in the instance's `statedir`, in flux-core's layout (store.ts).
 *
 * Services: `content-backing` (added with service.add, then announced to the content module
 * with content.register-backing {"name":"content-sqlite"}) and `content-sqlite` itself:
 *   content-backing.load        raw digest -> raw blob (ENOENT, EPROTO)
 *   content-backing.store       raw blob -> raw digest
 *   content-backing.store-batch (ours) raw [u32 len][blob]... -> raw digests (content/batch.ts)
 *   content-backing.validate    raw digest -> empty (ENOENT)
 *   content-backing.checkpoint-get  {} -> {"value": newest checkpoint}   (ENOENT if none)
 *   content-backing.checkpoint-put  {"value": {...}} -> {}
 *   content-sqlite.stats-get    {"object_count","dbfile_size","dbfile_free","config":{...},"checkpoints":[...]}
 *
 * statedir, as flux-core's broker and this module use it: `-S statedir=DIR` keeps the file
 * (created if missing; statedir-cleanup=0; journal_mode=WAL synchronous=NORMAL, so a kill -9 of
 * the whole instance never loses a committed transaction). Without it, a temporary directory is
 * made and removed when the module unloads (statedir-cleanup=1; journal_mode=OFF synchronous=OFF,
 * as flux-core: nothing is kept after a crash anyway). flux-core's broker makes that directory
 * in /var/tmp; ours goes inside the rundir, which `flux start` removes even when brokers are
 * killed outright, so a SIGKILL never leaves a stray database behind.
 *
 * Module options (flux-core's): journal_mode=MODE, synchronous=MODE, max-checkpoints=N, truncate.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { errno, FluxError } from '../../common/libflux/errno';
import { isHashName } from '../../common/libcontent/blobref';
import { JsonReal, type JsonValue } from '../../common/libkvs/jansson';
import type { Responder } from '../../broker/service';
import type { ModuleContext, ModuleMain } from '../../module/runtime';
import { STORE_BATCH_TOPIC, decodeBlobBatch } from '../content/batch';
import { ContentSqliteStore, type ContentSqliteOptions, type JournalMode, type Synchronous } from './store';

const JOURNAL_MODES = ['DELETE', 'TRUNCATE', 'PERSIST', 'MEMORY', 'WAL', 'OFF'];
const SYNCHRONOUS = ['EXTRA', 'FULL', 'NORMAL', 'OFF'];

interface Timing { count: number; min: number; max: number; sum: number; sumsq: number }

function newTiming(): Timing {
  return { count: 0, min: 0, max: 0, sum: 0, sumsq: 0 };
}

function push(t: Timing, ms: number): void {
  t.min = t.count === 0 ? ms : Math.min(t.min, ms);
  t.max = t.count === 0 ? ms : Math.max(t.max, ms);
  t.count++;
  t.sum += ms;
  t.sumsq += ms * ms;
}

function timingJson(t: Timing): Record<string, number> {
  const mean = t.count ? t.sum / t.count : 0;
  const variance = t.count > 1 ? (t.sumsq - t.count * mean * mean) / (t.count - 1) : 0;
  return { count: t.count, min: t.min, max: t.max, mean, stddev: Math.sqrt(Math.max(0, variance)) };
}

function parseArgs(args: string[]): ContentSqliteOptions {
  const o: ContentSqliteOptions = {};
  for (const a of args) {
    if (a.startsWith('journal_mode=')) {
      const v = a.slice(13);
      if (!JOURNAL_MODES.includes(v)) throw new FluxError(errno.EINVAL, 'invalid journal_mode specified');
      o.journalMode = v as JournalMode;
    } else if (a.startsWith('synchronous=')) {
      const v = a.slice(12);
      if (!SYNCHRONOUS.includes(v)) throw new FluxError(errno.EINVAL, 'invalid synchronous specified');
      o.synchronous = v as Synchronous;
    } else if (a.startsWith('max-checkpoints=')) {
      const v = a.slice(16);
      if (!/^[0-9]+$/.test(v) || Number(v) <= 0) throw new FluxError(errno.EINVAL, 'invalid max-checkpoints specified');
      o.maxCheckpoints = Number(v);
    } else if (a === 'truncate') {
      o.truncate = true;
    } else {
      throw new FluxError(errno.EINVAL, `Unknown module option: '${a}'`);
    }
  }
  return o;
}

async function attrGet(ctx: ModuleContext, name: string): Promise<string | undefined> {
  try {
    return await ctx.h.getattr(name);
  } catch {
    return undefined;
  }
}

async function attrSet(ctx: ModuleContext, name: string, value: string): Promise<void> {
  await ctx.h.rpc('attr.set', { name, value }).response();
}

/** The statedir to use and whether it is ours to remove, setting the attributes as flux-core reports them. */
async function statedir(ctx: ModuleContext): Promise<{ dir: string; cleanup: boolean }> {
  const given = await attrGet(ctx, 'statedir');
  if (given) {
    try {
      fs.mkdirSync(given, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw new FluxError(FluxError.fromNode(e).errnum, `statedir ${given}: ${FluxError.fromNode(e).message}`);
    }
    const cleanup = (await attrGet(ctx, 'statedir-cleanup')) === '1';
    if ((await attrGet(ctx, 'statedir-cleanup')) === undefined) await attrSet(ctx, 'statedir-cleanup', '0');
    return { dir: given, cleanup };
  }
  const rundir = await attrGet(ctx, 'rundir');
  if (!rundir) throw new FluxError(errno.EINVAL, 'statedir is not set');
  const dir = fs.mkdtempSync(path.join(rundir, 'statedir-'));
  await attrSet(ctx, 'statedir', dir);
  await attrSet(ctx, 'statedir-cleanup', '1');
  return { dir, cleanup: true };
}

function fileSize(p: string): number {
  try {
    return fs.statSync(p).size;
  } catch {
    return 0;
  }
}

function fsFree(p: string): number {
  try {
    const s = fs.statfsSync(path.dirname(p));
    return s.bsize * s.bavail;
  } catch {
    return 0;
  }
}

export const mod_main: ModuleMain = async (ctx, args) => {
  const opts = parseArgs(args);
  const hashName = await attrGet(ctx, 'content.hash');
  if (!hashName || !isHashName(hashName)) throw new FluxError(errno.EINVAL, `content.hash: ${hashName ?? 'not set'}`);
  const sd = await statedir(ctx);
  const dbfile = path.join(sd.dir, 'content.sqlite');
  // A temporary store is lost on a crash anyway: trade durability for speed, as flux-core does.
  if (sd.cleanup) {
    opts.journalMode ??= 'OFF';
    opts.synchronous ??= 'OFF';
  }
  let store: ContentSqliteStore;
  try {
    store = ContentSqliteStore.open(dbfile, { ...opts, hashName });
  } catch (e) {
    if (sd.cleanup) fs.rmSync(sd.dir, { recursive: true, force: true });
    throw e;
  }
  ctx.log('debug', `${dbfile} (${store.objectCount()} objects) journal_mode=${store.journalMode} synchronous=${store.synchronous}`);

  const loadTime = newTiming();
  const storeTime = newTiming();
  const raw = (r: Responder): Buffer => r.msg.payload ?? Buffer.alloc(0);

  ctx.serve('content-backing.load', async (r) => {
    const t0 = performance.now();
    const data = await store.loadDigest(raw(r));
    push(loadTime, performance.now() - t0);
    r.respondRaw(data);
  });
  ctx.serve('content-backing.store', async (r) => {
    const t0 = performance.now();
    const digest = await store.storeDigest(raw(r));
    push(storeTime, performance.now() - t0);
    r.respondRaw(digest);
  });
  // Ours: the rank 0 content cache's write-back, many blobs per message (content/batch.ts).
  // The stores of one batch join one SQLite transaction (they are queued in the same tick).
  ctx.serve(STORE_BATCH_TOPIC, async (r) => {
    const blobs = decodeBlobBatch(raw(r));
    const t0 = performance.now();
    const digests = await Promise.all(blobs.map((b) => store.storeDigest(b)));
    const ms = (performance.now() - t0) / Math.max(1, blobs.length);
    for (let i = 0; i < blobs.length; i++) push(storeTime, ms);
    r.respondRaw(Buffer.concat(digests));
  });
  ctx.serve('content-backing.validate', async (r) => {
    const digest = raw(r);
    // validate() takes a blobref; the wire carries the raw digest.
    await store.validate(`${hashName}-${digest.toString('hex')}`);
    r.respondRaw(undefined);
  });
  ctx.serve('content-backing.checkpoint-get', async (r) => {
    const all = await store.checkpointGet();
    r.respond({ value: all[0] });
  });
  ctx.serve('content-backing.checkpoint-put', async (r) => {
    const { value } = r.json<{ value?: unknown }>();
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new FluxError(errno.EPROTO);
    // flux-core packs the timestamp with "f": a jansson real, printed as one even when integral.
    const v = { ...(value as Record<string, JsonValue>) };
    if (typeof v.timestamp === 'number') v.timestamp = new JsonReal(v.timestamp);
    await store.checkpointPut(v);
    r.respond({});
  });
  ctx.serve('content-sqlite.stats-get', async (r) => {
    // No checkpoint yet (ENOENT) is an empty list here.
    const checkpoints = await store.checkpointGet().catch((): unknown[] => []);
    r.respond({
      object_count: store.objectCount(),
      dbfile_size: fileSize(dbfile),
      dbfile_free: fsFree(dbfile),
      load_time: timingJson(loadTime),
      store_time: timingJson(storeTime),
      config: { journal_mode: store.journalMode, synchronous: store.synchronous },
      checkpoints: checkpoints.map((value, i) => ({ id: i, value })),
    });
  });

  await ctx.h.rpc('service.add', { service: 'content-backing' }).response();
  try {
    await ctx.h.rpc('content.register-backing', { name: 'content-sqlite' }).response();
  } catch (e) {
    await store.close();
    if (sd.cleanup) fs.rmSync(sd.dir, { recursive: true, force: true });
    throw e;
  }

  ctx.onShutdown(async () => {
    await ctx.h.rpc('content.unregister-backing', {}).response().catch((e: unknown) => {
      ctx.log('err', `unregistering backing store: ${e instanceof Error ? e.message : String(e)}`);
    });
    await store.close();
    if (sd.cleanup) fs.rmSync(sd.dir, { recursive: true, force: true });
  });
};
