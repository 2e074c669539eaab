/**
 * Resource set R version 1 (RFC 20): which ranks hold which cores and GPUs.
 * In memory an Rlist is one entry per rank; on the wire ranks with the same
 * children fold into one `R_lite` entry (`{"rank":"0-3","children":{"core":"0-1"}}`),
 * and `nodelist` is the hostlist of the ranks in order — the shape flux-core
 * writes to `resource.R` and hands to schedulers.
 */
import { errno, FluxError } from '../libflux/errno';
import { decodeIdset, encodeIdset } from '../libidset/idset';
import { decodeHostlist, encodeHostlist } from '../libhostlist/hostlist';

export interface RankResources {
  rank: number;
  hostname: string;
  cores: number[];
  gpus: number[];
}

export interface Rv1 {
  version: 1;
  execution: {
    R_lite: { rank: string; children: Record<string, string> }[];
    starttime: number;
    expiration: number;
    nodelist: string[];
    nslots?: number;
    properties?: Record<string, string>;
  };
  scheduling?: unknown;
}

export class Rlist {
  constructor(
    readonly ranks: RankResources[],
    readonly starttime = 0,
    readonly expiration = 0,
    readonly properties: Record<string, string> = {},
  ) {
    this.ranks.sort((a, b) => a.rank - b.rank);
  }

  get nnodes(): number {
    return this.ranks.length;
  }

  get ncores(): number {
    return this.ranks.reduce((n, r) => n + r.cores.length, 0);
  }

  get ngpus(): number {
    return this.ranks.reduce((n, r) => n + r.gpus.length, 0);
  }

  nodelist(): string {
    return encodeHostlist(this.ranks.map((r) => r.hostname));
  }

  /** RFC 20 form; ranks with identical children share one R_lite entry. */
  toR(): Rv1 {
    const groups = new Map<string, { ranks: number[]; children: Record<string, string> }>();
    for (const r of this.ranks) {
      const children: Record<string, string> = { core: encodeIdset(r.cores) };
      if (r.gpus.length > 0) children.gpu = encodeIdset(r.gpus);
      const key = JSON.stringify(children);
      const g = groups.get(key);
      if (g) g.ranks.push(r.rank);
      else groups.set(key, { ranks: [r.rank], children });
    }
    const R: Rv1 = {
      version: 1,
      execution: {
        R_lite: [...groups.values()].map((g) => ({ rank: encodeIdset(g.ranks), children: g.children })),
        starttime: this.starttime,
        expiration: this.expiration,
        nodelist: [this.nodelist()],
      },
    };
    if (Object.keys(this.properties).length > 0) R.execution.properties = { ...this.properties };
    return R;
  }

  /** JSON text as flux-core prints `resource.R` (times as reals: `0.0`). */
  encode(): string {
    return encodeR(this.toR());
  }

  static fromR(obj: unknown): Rlist {
    const bad = (why: string): never => {
      throw new FluxError(errno.EINVAL, `invalid R: ${why}`);
    };
    if (typeof obj !== 'object' || obj === null) bad('not an object');
    const o = obj as { version?: unknown; execution?: unknown };
    if (o.version !== 1) bad('version must be 1');
    const ex = o.execution as Rv1['execution'] | undefined;
    if (typeof ex !== 'object' || ex === null || !Array.isArray(ex.R_lite)) bad('execution.R_lite is missing');
    const byRank = new Map<number, RankResources>();
    for (const e of ex!.R_lite) {
      if (typeof e?.rank !== 'string' || typeof e.children !== 'object' || e.children === null) bad('R_lite entry needs rank and children');
      if (typeof e.children.core !== 'string') bad('children.core is required');
      const cores = decodeIdset(e.children.core);
      const gpus = typeof e.children.gpu === 'string' ? decodeIdset(e.children.gpu) : [];
      for (const rank of decodeIdset(e.rank)) {
        if (byRank.has(rank)) bad(`rank ${rank} appears twice`);
        byRank.set(rank, { rank, hostname: '', cores: [...cores], gpus: [...gpus] });
      }
    }
    const ranks = [...byRank.values()].sort((a, b) => a.rank - b.rank);
    if (Array.isArray(ex!.nodelist)) {
      const hosts = ex!.nodelist.flatMap((h) => decodeHostlist(String(h)));
      if (hosts.length !== ranks.length) bad('nodelist does not match the number of ranks');
      ranks.forEach((r, i) => (r.hostname = hosts[i]));
    }
    return new Rlist(ranks, Number(ex!.starttime ?? 0), Number(ex!.expiration ?? 0), ex!.properties ?? {});
  }
}

/** Compact JSON with reals kept real (`0.0`), as jansson prints R's times. */
export function encodeR(R: Rv1): string {
  return JSON.stringify(R, (k, v: unknown) => ((k === 'starttime' || k === 'expiration') && typeof v === 'number' && Number.isInteger(v) ? `@@REAL${v}` : v))
    .replace(/"@@REAL(-?\d+)"/g, '$1.0');
}
