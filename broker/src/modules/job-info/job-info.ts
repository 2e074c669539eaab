/**
 * job-info: a job's KVS data for its owner.
 *
 *   job-info.lookup {id, keys:[...], flags} → {id, KEY: text, ...}   (ENOENT: unknown job or key)
 *   job-info.eventlog-watch {id, path} (streaming) → {event: line} per
 *       entry of `job.<id>.<path>` as it is appended; the main eventlog ends
 *       (ENODATA) after `clean`
 */
import { errno, FluxError } from '../../common/libflux/errno';
import { FLAG_STREAMING, ROLE_OWNER } from '../../common/libflux/message';
import { jobKvsKey } from '../../common/libjob/jobid';
import { idField, idJson, payloadJson, respondJson } from '../../common/libjob/rpc-json';
import { decodeEvent } from '../../common/libjob/states';
import { FLUX_KVS_WAITCREATE, FLUX_KVS_WATCH, FLUX_KVS_WATCH_APPEND, lookup, watch } from '../../common/libkvs/client';
import type { ModuleMain } from '../../module/runtime';

export const mod_main: ModuleMain = (ctx, args) => {
  if (args.length > 0) throw new FluxError(errno.EINVAL, `unknown option: ${args[0]}`);
  const h = ctx.h;

  const checkOwner = async (r: { msg: { rolemask: number; userid: number } }, id: bigint): Promise<void> => {
    if (r.msg.rolemask & ROLE_OWNER) return;
    const first = (await lookup(h, jobKvsKey(id, 'eventlog'), { namespace: 'primary' })).string().split('\n')[0];
    const ev = decodeEvent(first);
    if (ev?.context?.userid !== r.msg.userid) throw new FluxError(errno.EPERM);
  };

  ctx.serve('job-info.lookup', async (r) => {
    const req = payloadJson<{ id?: unknown; keys?: unknown }>(r.msg);
    const id = idField(req.id);
    if (!Array.isArray(req.keys) || req.keys.some((k) => typeof k !== 'string')) throw new FluxError(errno.EPROTO);
    await checkOwner(r, id);
    const out: Record<string, unknown> = { id: idJson(id) };
    for (const k of req.keys as string[]) out[k] = (await lookup(h, jobKvsKey(id, k), { namespace: 'primary' })).string();
    respondJson(r, out);
  });

  ctx.serve('job-info.eventlog-watch', async (r) => {
    if (!(r.msg.flags & FLAG_STREAMING)) throw new FluxError(errno.EPROTO);
    const req = payloadJson<{ id?: unknown; path?: unknown }>(r.msg);
    const id = idField(req.id);
    const p = typeof req.path === 'string' ? req.path : 'eventlog';
    await checkOwner(r, id);
    const w = watch(h, jobKvsKey(id, p), { namespace: 'primary', flags: FLUX_KVS_WATCH | FLUX_KVS_WAITCREATE | FLUX_KVS_WATCH_APPEND });
    try {
      for await (const v of w) {
        for (const line of v.string().split('\n')) {
          if (line === '') continue;
          respondJson(r, { event: line });
          if (p === 'eventlog' && decodeEvent(line)?.name === 'clean') {
            w.cancel();
            break;
          }
        }
      }
      r.respondError(errno.ENODATA);
    } catch (e) {
      // the module is going away (or the watcher's client did): nothing left to answer
      if (h.isClosed) return;
      throw e;
    }
  });
};
