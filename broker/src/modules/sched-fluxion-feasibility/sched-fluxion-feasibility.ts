/**
 * sched-fluxion-feasibility: the `feasibility` service for job-ingest, as
 * flux-sched 0.54 loads it beside sched-fluxion-resource. `feasibility.check
 * {jobspec}` asks the resource graph whether the request could ever be
 * satisfied (`sched-fluxion-resource.match satisfiability`), so an impossible
 * request (`-N8` on 4 nodes) is refused at submit — flux-sched lets it in and
 * fails it at alloc. The module follows sched-fluxion-resource through its
 * `notify` stream and leaves when that module goes, as flux-sched's does.
 * Loaded without sched-fluxion-resource, the load fails with a clear error.
 */
import { errno, FluxError } from '../../common/libflux/errno';
import { FLAG_STREAMING } from '../../common/libflux/message';
import { jsonPayload, payloadJson, respondJson } from '../../common/libjob/rpc-json';
import type { ModuleContext, ModuleMain } from '../../module/runtime';
import { FLUXION_VERSION } from '../sched-fluxion-resource/sched-fluxion-resource';

export const RESOURCE = 'sched-fluxion-resource';

/** Fails the load unless sched-fluxion-resource is there. */
export async function requireResource(ctx: ModuleContext): Promise<void> {
  try {
    await ctx.h.rpc(`${RESOURCE}.params`, {}).get();
  } catch (e) {
    const n = (e as { errnum?: number }).errnum;
    if (n === errno.ENOSYS || n === errno.EHOSTUNREACH) {
      throw new FluxError(errno.ENOSYS, `${RESOURCE} is not loaded: load it before ${ctx.name}`);
    }
    throw e;
  }
}

/**
 * Follow sched-fluxion-resource's notify stream: `onLoaded` at its first
 * response, `onChange` at each later one (ranks back up: what waits may run
 * now); when the stream ends (the module went away), log and remove ourselves.
 */
export function followResource(ctx: ModuleContext, onLoaded: () => void, where: string, onChange?: () => void): void {
  void (async () => {
    let first = true;
    try {
      for await (const m of ctx.h.rpc(`${RESOURCE}.notify`, jsonPayload({}), { flags: FLAG_STREAMING })) {
        void m;
        if (first) {
          first = false;
          onLoaded();
        } else onChange?.();
      }
      throw new FluxError(errno.ECANCELED);
    } catch (e) {
      if (ctx.h.isClosed) return;
      ctx.log('err', `${where}: exiting because ${RESOURCE}.notify failed: ${e instanceof Error ? e.message : String(e)}`);
      ctx.h.rpc('module.remove', { name: ctx.name }).get().catch(() => undefined);
    }
  })();
}

export const mod_main: ModuleMain = async (ctx, args) => {
  ctx.log('info', `version ${FLUXION_VERSION}`);
  if (args.length > 0) throw new FluxError(errno.EINVAL, `unknown option: ${args[0]}`);
  await requireResource(ctx);
  await ctx.h.rpc('service.add', { service: 'feasibility' }).get();
  ctx.log('debug', 'service registered');
  ctx.serve('feasibility.check', async (r) => {
    const req = payloadJson<{ jobspec?: unknown }>(r.msg);
    try {
      await ctx.h.rpc(`${RESOURCE}.match`, jsonPayload({ cmd: 'satisfiability', jobid: -1, jobspec: req.jobspec })).get();
    } catch (e) {
      const n = (e as { errnum?: number }).errnum;
      if (n === errno.ENODEV) throw new FluxError(errno.ENODEV, 'Unsatisfiable request');
      throw e;
    }
    respondJson(r, {});
  });
  ctx.log('debug', 'mod_main: feasibility module starting');
  followResource(ctx, () => ctx.log('debug', `resource graph known through ${RESOURCE}.notify`), 'update_resource');
};
