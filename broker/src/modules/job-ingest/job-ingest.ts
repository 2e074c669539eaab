/**
 * job-ingest: accepts jobs (`job-ingest.submit {J, urgency, flags}` → `{id}`).
 * J is the signed jobspec; without flux-security only the "none" mechanism
 * exists, and only for the instance owner signing as themself. The jobspec is
 * validated (RFC 14/25, flux-core's messages), checked against the
 * scheduler's `feasibility.check` when one is loaded, given a FLUID id
 * (generator = this rank, timestamps continuing after job-manager's highest
 * id), and written to the KVS under `job.<dothex>`: `J`, `jobspec` (the
 * environment left out, as flux-core redacts it) and `eventlog` holding the
 * `submit` event. Then job-manager takes it (`job-manager.submit`) and the
 * submitter gets the id. Jobs arriving together share one commit and one
 * job-manager.submit (batch.ts).
 */
import { errno, FluxError } from '../../common/libflux/errno';
import { ROLE_OWNER } from '../../common/libflux/message';
import { FluidGenerator, fluidTimestamp } from '../../common/libjob/jobid';
import { checkJobspec, parseJobspecText } from '../../common/libjob/jobspec';
import { FLAG_DEBUG, FLAG_NOVALIDATE, FLAG_WAITABLE, URGENCY_DEFAULT, encodeEvent, eventNow, makeEvent } from '../../common/libjob/states';
import { unwrapSigned } from '../../common/libjob/sign';
import { idField, idJson, jsonPayload, payloadJson, respondJson } from '../../common/libjob/rpc-json';
import { stringifyJson, type JsonValue } from '../../common/libjob/json';
import { IngestBatcher } from './batch';
import type { ModuleMain } from '../../module/runtime';

interface SubmitRequest {
  J?: unknown;
  urgency?: unknown;
  flags?: unknown;
}

/** The jobspec job-manager and `flux job info ID jobspec` see: no environment. */
export function redactJobspec(jobspec: Record<string, JsonValue>): Record<string, JsonValue> {
  const copy = JSON.parse(stringifyJson(jobspec)) as Record<string, JsonValue>;
  const sys = (copy.attributes as Record<string, JsonValue> | undefined)?.system as Record<string, JsonValue> | undefined;
  if (sys && typeof sys === 'object') delete sys.environment;
  return copy;
}

export const mod_main: ModuleMain = async (ctx, args) => {
  if (args.length > 0) throw new FluxError(errno.EINVAL, `unknown option: ${args[0]}`);
  let gen: FluidGenerator | undefined;
  const generator = async (): Promise<FluidGenerator> => {
    if (gen) return gen;
    let start = 0n;
    try {
      const info = payloadJson<{ max_jobid?: unknown }>(await ctx.h.rpc('job-manager.getinfo', jsonPayload({}), { nodeid: 0 }).response());
      const max = idField(info.max_jobid ?? 0);
      if (max > 0n) start = fluidTimestamp(max) + 1n;
    } catch {
      // job-manager not there yet: start at 0 as a fresh instance does
    }
    gen ??= new FluidGenerator(ctx.rank, start);
    return gen;
  };

  const batcher = new IngestBatcher(ctx.h);

  // The FLUID clock starts now (as flux-core's fluid_init at load), after job-manager's newest id.
  await generator();

  ctx.serve('job-ingest.submit', async (r) => {
    const req = payloadJson<SubmitRequest>(r.msg);
    if (typeof req.J !== 'string') throw new FluxError(errno.EPROTO, 'missing J');
    const urgency = req.urgency === undefined ? URGENCY_DEFAULT : req.urgency;
    const flags = req.flags === undefined ? 0 : req.flags;
    if (typeof urgency !== 'number' || !Number.isInteger(urgency) || urgency < 0 || urgency > 31) throw new FluxError(errno.EINVAL, 'urgency range is [0:31]');
    if (typeof flags !== 'number' || (flags & ~(FLAG_DEBUG | FLAG_WAITABLE | FLAG_NOVALIDATE)) !== 0) throw new FluxError(errno.EINVAL, 'invalid job flags');
    const owner = (r.msg.rolemask & ROLE_OWNER) !== 0;
    const userid = r.msg.userid;
    if (!owner && (flags & (FLAG_WAITABLE | FLAG_NOVALIDATE))) throw new FluxError(errno.EPERM, 'only the instance owner can submit with FLUX_JOB_WAITABLE or FLUX_JOB_NOVALIDATE');
    if (!owner && urgency > URGENCY_DEFAULT) throw new FluxError(errno.EPERM, 'only the instance owner can submit with urgency >16');

    const signed = unwrapSigned(req.J);
    if (signed.mechanism !== 'none') throw new FluxError(errno.EINVAL, `unsupported signing mechanism: ${signed.mechanism}`);
    if (!owner) throw new FluxError(errno.EPERM, 'only instance owner can use sign-type=none');
    if (signed.userid !== userid) throw new FluxError(errno.EPERM, `signer=${signed.userid} != requestor=${userid}`);

    const doc = parseJobspecText(signed.payload.toString('utf8'));
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new FluxError(errno.EINVAL, 'jobspec must be a JSON object');
    const jobspec = doc as Record<string, JsonValue>;
    if (!(flags & FLAG_NOVALIDATE)) {
      checkJobspec(jobspec);
      // The scheduler's opinion, when there is a scheduler (flux-core's feasibility validator).
      try {
        await ctx.h.rpc('feasibility.check', jsonPayload({ jobspec }), { nodeid: 0 }).response();
      } catch (e) {
        const fe = e as { errnum?: number; message?: string };
        if (fe.errnum !== errno.ENOSYS) throw new FluxError(fe.errnum ?? errno.EINVAL, fe.message ?? 'feasibility check failed');
      }
    }
    const id = (await generator()).generate();
    const t_submit = eventNow();
    const redacted = redactJobspec(jobspec);
    const submit = makeEvent('submit', { userid, urgency, flags, version: 1 }, t_submit);
    await batcher.add({
      id,
      entries: [['J', req.J], ['jobspec', stringifyJson(redacted)], ['eventlog', `${encodeEvent(submit)}\n`]],
      record: { userid, urgency, flags, t_submit, jobspec: redacted },
    });
    respondJson(r, { id: idJson(id) });
  });
};
