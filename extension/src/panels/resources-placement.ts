/**
 * The placement preview: where the scheduler would put a jobspec now, found by asking Fluxion's
 * resource module to match it *without allocating* (nothing is held, no job id is used up):
 * `without_allocating` for a placement now; if that is busy, `without_allocating_future` for the
 * earliest start and the vertices it would reserve; if Fluxion cannot say, `satisfiability`
 * tells "must wait" from "can never run" (ENODEV, the scheduler's own message). Without Fluxion
 * (ENOSYS: sched-simple, or a scheduler of a real flux-core) only `feasibility.check`'s yes/no is
 * available, and the preview says so. No `vscode` here.
 */
import type { Flux } from '../../../broker/src/common/libflux/handle';
import { errno, FluxError } from '../../../broker/src/common/libflux/errno';
import { Rlist } from '../../../broker/src/common/librlist/rlist';
import type { PlacementPreview, ResourceSnapshot } from '../../../webviews/common/protocol';

interface MatchAnswer {
  status?: string;
  at?: number;
  R?: unknown;
}

/** The snapshot's leaves (cores, GPUs) named by an R: "rank/type/id" of each. */
export function verticesOfR(s: ResourceSnapshot, R: unknown): number[] {
  const want = new Set<string>();
  for (const rr of Rlist.fromR(R).ranks) {
    for (const c of rr.cores) want.add(`${rr.rank}/core/${c}`);
    for (const g of rr.gpus) want.add(`${rr.rank}/gpu/${g}`);
  }
  const out: number[] = [];
  for (let v = 0; v < s.parent.length; v++) {
    const t = s.type[v];
    if ((t !== 'core' && t !== 'gpu') || !s.name[v].startsWith(t)) continue;
    if (want.has(`${s.rank[v]}/${t}/${s.name[v].slice(t.length)}`)) out.push(v);
  }
  return out;
}

function parseR(R: unknown): unknown {
  return typeof R === 'string' ? (R === '' ? undefined : JSON.parse(R) as unknown) : R;
}

const isErr = (e: unknown, ...codes: number[]): e is FluxError => e instanceof FluxError && codes.includes(e.errnum);

function when(at: number, now: number): string {
  const d = Math.max(0, Math.round(at - now));
  const t = new Date(at * 1000).toLocaleTimeString();
  if (d < 60) return `${t} (in ${d}s)`;
  if (d < 3600) return `${t} (in ${Math.floor(d / 60)}m${d % 60 ? `${d % 60}s` : ''})`;
  return `${new Date(at * 1000).toLocaleString()} (in ${Math.floor(d / 3600)}h${Math.floor((d % 3600) / 60)}m)`;
}

async function match(h: Flux, cmd: string, jobspec: string): Promise<MatchAnswer> {
  // flux-sched's payload: the jobspec as JSON text; no jobid, as `flux ion-resource match` sends it.
  return h.rpc('sched-fluxion-resource.match', { cmd, jobspec }, { nodeid: 0 }).get<MatchAnswer>();
}

/** Without Fluxion: sched-simple's (or any feasibility service's) yes/no. */
async function feasibility(h: Flux, jobspec: unknown, source: string): Promise<PlacementPreview> {
  const base = { vertices: [], source };
  try {
    await h.rpc('feasibility.check', { jobspec }, { nodeid: 0 }).get();
    return { ...base, kind: 'unsupported', message: 'The scheduler is not Fluxion: it cannot preview placement, but feasibility.check says this job can run here.' };
  } catch (e) {
    if (isErr(e, errno.ENOSYS)) return { ...base, kind: 'unsupported', message: 'Placement preview needs the Fluxion scheduler (sched-fluxion-resource), and no feasibility service answers either.' };
    return { ...base, kind: 'never', message: `The scheduler is not Fluxion (no placement preview); feasibility.check: ${e instanceof Error ? e.message : String(e)}` };
  }
}

/** Where `jobspec` (an object) would go now, on the vertices of `s`. */
export async function previewPlacement(h: Flux, s: ResourceSnapshot, jobspec: unknown, source: string, now = Date.now() / 1000): Promise<PlacementPreview> {
  const text = JSON.stringify(jobspec);
  const base = { vertices: [] as number[], source };
  const fail = (e: unknown): PlacementPreview => ({
    ...base, kind: isErr(e, errno.ENODEV) ? 'never' : 'error',
    message: isErr(e, errno.ENODEV) ? `It can never run here: ${e.message}` : e instanceof Error ? e.message : String(e),
  });
  try {
    const r = await match(h, 'without_allocating', text);
    return { ...base, kind: 'now', vertices: verticesOfR(s, parseR(r.R)), message: 'It would start now on the highlighted resources.' };
  } catch (e) {
    if (isErr(e, errno.ENOSYS)) return feasibility(h, jobspec, source);
    if (!isErr(e, errno.EBUSY)) return fail(e);
  }
  // Busy now: when could it start, and on what?
  try {
    const r = await match(h, 'without_allocating_future', text);
    const at = typeof r.at === 'number' ? r.at : undefined;
    const R = parseR(r.R);
    if (at !== undefined && R !== undefined) {
      return { ...base, kind: 'later', at, vertices: verticesOfR(s, R), message: `It must wait: it would start at ${when(at, now)} on the highlighted (reserved) resources.` };
    }
  } catch (e) {
    // EBUSY: no start found in the plan; EINVAL: a Fluxion without this command. Either way: ask whether it ever could.
    if (!isErr(e, errno.EBUSY, errno.EINVAL)) return fail(e);
  }
  try {
    await match(h, 'satisfiability', text);
    return { ...base, kind: 'later', message: 'It must wait: nothing fits now, and the scheduler cannot say from when.' };
  } catch (e) {
    return fail(e);
  }
}
