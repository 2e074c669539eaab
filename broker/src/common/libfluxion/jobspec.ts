/**
 * A jobspec's resource request as the matcher walks it (RFC 14/25): a tree of
 * `{type, count, exclusive, with}`; `slot` is the virtual vertex grouping what
 * one task gets. Counts given as ranges (`{min, max, ...}`) ask for `min`.
 */
import { errno, FluxError } from '../libflux/errno';

export interface Req {
  type: string;
  count: number;
  exclusive: boolean;
  with: Req[];
}

export interface Request {
  resources: Req[];
  /** Seconds; 0 = no limit. */
  duration: number;
}

const bad = (why: string): never => {
  throw new FluxError(errno.EINVAL, why);
};

function parseReq(o: unknown, where: string): Req {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) bad(`${where}: resource must be an object`);
  const r = o as Record<string, unknown>;
  if (typeof r.type !== 'string' || r.type === '') bad(`${where}: type must be a string`);
  let count: number;
  if (typeof r.count === 'number') count = r.count;
  else if (typeof r.count === 'object' && r.count !== null && typeof (r.count as { min?: unknown }).min === 'number') count = (r.count as { min: number }).min;
  else count = bad(`${where}: count is missing or invalid`);
  if (!Number.isInteger(count) || count < 1) bad(`${where}: count must be a positive integer`);
  const w = r.with;
  if (w !== undefined && !Array.isArray(w)) bad(`${where}: with must be an array`);
  const type = r.type as string;
  if (type === 'slot' && (!Array.isArray(w) || w.length === 0)) bad(`${where}: slot must have children`);
  return {
    type,
    count,
    exclusive: r.exclusive === true,
    with: ((w as unknown[] | undefined) ?? []).map((x, i) => parseReq(x, `${where}.with[${i}]`)),
  };
}

export function parseJobspec(js: unknown): Request {
  let o = js;
  if (typeof o === 'string') {
    try {
      o = JSON.parse(o) as unknown;
    } catch (e) {
      bad(`jobspec is not JSON: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  if (typeof o !== 'object' || o === null) bad('jobspec must be an object');
  const j = o as { resources?: unknown; attributes?: { system?: { duration?: unknown } } };
  if (!Array.isArray(j.resources) || j.resources.length === 0) bad('jobspec has no resources');
  const duration = Number(j.attributes?.system?.duration ?? 0);
  if (!Number.isFinite(duration) || duration < 0) bad('invalid duration');
  return { resources: (j.resources as unknown[]).map((r, i) => parseReq(r, `resources[${i}]`)), duration };
}

/** How many units of `type` the request tree asks for in all. */
export function totalOf(reqs: Req[], type: string): number {
  let n = 0;
  for (const r of reqs) n += r.count * (r.type === type ? 1 : totalOf(r.with, type));
  return n;
}
