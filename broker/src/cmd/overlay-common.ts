/** Pieces shared by the `flux overlay` subcommands. */
import { decodeHostlist } from '../common/libhostlist/hostlist';
import { errno, FluxError } from '../common/libflux/errno';
import { FLAG_STREAMING, getJson } from '../common/libflux/message';
import type { Flux, Rpc } from '../common/libflux/handle';
import type { ParsedOptions } from '../common/liboptparse/optparse';
import { last } from '../common/liboptparse/optparse';
import { decodeIdset, encodeIdset, isIdset } from '../common/libidset/idset';
import { parseFsd } from '../common/libutil/fsd';
import type { TopologyNode } from '../broker/topology';
import { die, errText } from './cli';
import type { HealthReply, HealthResult } from './overlay-tree';

export const PROG = 'flux-overlay';

/** `--color[=WHEN]` as liboptparse callers read it (absent: auto). */
export function useColor(when: string | undefined): boolean {
  const w = when === undefined ? 'auto' : when === '' ? 'always' : when;
  if (w === 'always') return true;
  if (w === 'never') return false;
  if (w === 'auto') return process.stdout.isTTY === true;
  die(PROG, `Invalid argument to --color: '${w}'`);
}

/** flux-core's future_strerror: the text the service sent, else strerror. */
export function futureStrerror(e: unknown): string {
  return e instanceof FluxError ? e.message : errText(e);
}

/** `-t FSD` (default 0.5s); 0 disables the timeout (Infinity). */
export function timeoutOption(o: ParsedOptions): number {
  const t = last(o, 'timeout');
  if (t === undefined) return 0.5;
  let secs: number;
  try {
    secs = parseFsd(t);
  } catch {
    die(PROG, `invalid FSD: ${t}`);
  }
  return secs === 0 ? Infinity : secs;
}

function timer(secs: number, rpc: Rpc): { promise: Promise<never>; clear: () => void } {
  let t: NodeJS.Timeout | undefined;
  const promise = new Promise<never>((_res, rej) => {
    if (Number.isFinite(secs)) {
      t = setTimeout(() => {
        rpc.cancelLocal();
        rej(new FluxError(errno.ETIMEDOUT));
      }, secs * 1000);
    }
  });
  return { promise, clear: () => clearTimeout(t) };
}

/** First response of `rpc`, or ETIMEDOUT after `secs` (Infinity: wait forever). */
export async function getWithin<T>(rpc: Rpc, secs: number): Promise<T> {
  const t = timer(secs, rpc);
  try {
    return await Promise.race([rpc.get<T>(), t.promise]);
  } finally {
    t.clear();
  }
}

/**
 * `overlay.health` of `rank`; with `wait`, a streaming request followed until the
 * status is `wait` (flux-core applies the timeout to the whole wait).
 */
export async function health(h: Flux, rank: number, secs: number, wait?: string): Promise<HealthResult> {
  try {
    if (wait === undefined) return { ok: true, reply: await getWithin<HealthReply>(h.rpc('overlay.health', undefined, { nodeid: rank }), secs) };
    const rpc = h.rpc('overlay.health', undefined, { nodeid: rank, flags: FLAG_STREAMING });
    const t = timer(secs, rpc);
    const follow = async (): Promise<HealthReply> => {
      for await (const m of rpc) {
        const r = getJson<HealthReply>(m);
        if (r.status === wait) return r;
      }
      throw new FluxError(errno.EPROTO);
    };
    try {
      const reply = await Promise.race([follow(), t.promise]);
      rpc.cancelLocal();
      return { ok: true, reply };
    } finally {
      t.clear();
    }
  } catch (e) {
    return { ok: false, error: futureStrerror(e) };
  }
}

/** Hostnames by rank (the `hostlist` attribute); [] if it cannot be read. */
export async function hostnames(h: Flux): Promise<string[]> {
  try {
    return decodeHostlist(await h.getattr('hostlist'));
  } catch {
    return [];
  }
}

/** The instance's tree from rank 0; fatal (as in flux-core) when it cannot be had. */
export async function topology(h: Flux, secs = Infinity): Promise<TopologyNode> {
  try {
    return await getWithin<TopologyNode>(h.rpc('overlay.topology', { rank: 0 }, { nodeid: 0 }), secs);
  } catch (e) {
    die(PROG, `error fetching overlay topology: ${errText(e)}`);
  }
}

/**
 * RFC 29 hostlist of `names` in order: runs of one prefix with consecutive numeric
 * suffixes fold into `prefix[a-b,c]`; other names are listed as they are.
 */
export function encodeHostlist(names: string[]): string {
  const parts: string[] = [];
  let i = 0;
  while (i < names.length) {
    const m = /^(.*?)(\d+)$/.exec(names[i]);
    if (!m) {
      parts.push(names[i++]);
      continue;
    }
    const prefix = m[1];
    const width = m[2].length;
    const nums: string[] = [m[2]];
    let j = i + 1;
    for (; j < names.length; j++) {
      const n = /^(.*?)(\d+)$/.exec(names[j]);
      if (!n || n[1] !== prefix || Number(n[2]) <= Number(nums[nums.length - 1])) break;
      nums.push(n[2]);
    }
    if (nums.length === 1) parts.push(names[i]);
    else {
      const ranges: string[] = [];
      let a = 0;
      while (a < nums.length) {
        let b = a;
        while (b + 1 < nums.length && Number(nums[b + 1]) === Number(nums[b]) + 1 && nums[b + 1].length === width) b++;
        ranges.push(a === b ? nums[a] : `${nums[a]}-${nums[b]}`);
        a = b + 1;
      }
      parts.push(`${prefix}[${ranges.join(',')}]`);
    }
    i = j;
  }
  return parts.join(',');
}

/** Ranks named by `target`: an idset, or hostnames (comma-separated). Undefined if neither matches. */
export function targetRanks(target: string, hosts: string[]): number[] | undefined {
  if (isIdset(target)) return decodeIdset(target);
  const wanted = new Set(target.split(','));
  const ranks = hosts.flatMap((name, i) => (wanted.has(name) ? [i] : []));
  return ranks.length > 0 ? ranks : undefined;
}

export { encodeIdset };
