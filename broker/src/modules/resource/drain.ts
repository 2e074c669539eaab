/**
 * Drain state (flux-core's drain.c): ranks taken out of scheduling by the
 * instance owner (`flux resource drain`), each with the time it was drained
 * and a reason. Jobs already running there keep running; the scheduler is
 * told the rank is down (acquire.ts). Every change is a `drain` / `undrain`
 * event in `resource.eventlog`, and the state is rebuilt from those events
 * when the module loads, so it survives a restart with the same statedir.
 *
 *   resource.drain   {targets, reason?, mode?: update|overwrite|force-overwrite}
 *   resource.undrain {targets, reason?, mode?: force}
 *
 * Targets are an idset of ranks or a hostlist (targets.ts). Without a mode,
 * draining a rank that is already drained with a reason fails (EEXIST); with
 * `update` such ranks keep their reason; `overwrite` replaces the reason and
 * `force-overwrite` the timestamp too. Undraining a rank that is not drained
 * fails unless mode is `force`.
 */
import { errno, FluxError } from '../../common/libflux/errno';
import { ROLE_OWNER } from '../../common/libflux/message';
import { decodeIdset, encodeIdset } from '../../common/libidset/idset';
import type { Responder } from '../../broker/service';
import { nowSeconds, type Reslog, type ResEvent } from './reslog';
import type { Targets } from './targets';

interface DrainInfo {
  drained: boolean;
  timestamp: number;
  reason?: string;
}

/** {"<idset>": {timestamp, reason}}: ranks grouped by (whole-second timestamp, reason), as resource.status carries it. */
export type DrainSummary = Record<string, { timestamp: number; reason: string }>;

export class Drain {
  private readonly info: DrainInfo[];

  constructor(private readonly size: number, private readonly reslog: Reslog, private readonly targets: Targets) {
    this.info = Array.from({ length: size }, () => ({ drained: false, timestamp: 0 }));
  }

  /** Ranks drained now. */
  drained(): Set<number> {
    const s = new Set<number>();
    this.info.forEach((d, rank) => d.drained && s.add(rank));
    return s;
  }

  summary(): DrainSummary {
    const groups = new Map<string, { ranks: number[]; timestamp: number; reason: string }>();
    this.info.forEach((d, rank) => {
      if (!d.drained) return;
      const timestamp = Math.round(d.timestamp);
      const reason = d.reason ?? '';
      const key = JSON.stringify([timestamp, reason]);
      const g = groups.get(key);
      if (g) g.ranks.push(rank);
      else groups.set(key, { ranks: [rank], timestamp, reason });
    });
    return Object.fromEntries([...groups.values()].map((g) => [encodeIdset(g.ranks), { timestamp: g.timestamp, reason: g.reason }]));
  }

  /**
   * Set one rank's state. overwrite 0 leaves a rank drained with a reason alone; 2 also renews
   * the timestamp of a rank that stays drained.
   */
  private update(rank: number, drained: boolean, timestamp: number, reason: string | undefined, overwrite: number): void {
    if (rank >= this.size) return;
    const d = this.info[rank];
    if (!overwrite && d.drained && d.reason !== undefined) return;
    d.reason = reason;
    if (d.drained !== drained || overwrite === 2) {
      d.drained = drained;
      d.timestamp = timestamp;
    }
  }

  /** Rebuild the state from resource.eventlog (at load). */
  replay(events: ResEvent[]): void {
    for (const ev of events) {
      if (ev.name !== 'drain' && ev.name !== 'undrain') continue;
      const idset = ev.context.idset;
      if (typeof idset !== 'string') throw new Error(`${ev.name} event without an idset`);
      const reason = typeof ev.context.reason === 'string' ? ev.context.reason : undefined;
      const overwrite = typeof ev.context.overwrite === 'number' ? ev.context.overwrite : 1;
      for (const rank of decodeIdset(idset)) {
        if (ev.name === 'drain') this.update(rank, true, ev.timestamp, reason, overwrite);
        else this.update(rank, false, ev.timestamp, undefined, 1);
      }
    }
  }

  /** Ranks of a request's targets, with flux-core's errors for empty and out-of-range sets. */
  private decode(targets: string): number[] {
    const ids = this.targets.toRanks(targets);
    if (ids.length === 0) throw new FluxError(errno.EINVAL, 'idset is empty');
    if (ids[ids.length - 1] >= this.size) throw new FluxError(errno.EINVAL, 'idset is out of range');
    return ids;
  }

  async handleDrain(r: Responder): Promise<void> {
    if (!(r.msg.rolemask & ROLE_OWNER)) throw new FluxError(errno.EPERM);
    const req = r.json<{ targets?: unknown; reason?: unknown; mode?: unknown }>();
    if (typeof req.targets !== 'string' || (req.reason !== undefined && typeof req.reason !== 'string')
      || (req.mode !== undefined && typeof req.mode !== 'string')) throw new FluxError(errno.EPROTO);
    const ids = this.decode(req.targets);
    const timestamp = nowSeconds();
    let overwrite = 0;
    let updateOnly = false;
    if (req.mode !== undefined) {
      if (req.mode === 'update') updateOnly = true;
      else if (req.mode === 'overwrite') overwrite = 1;
      else if (req.mode === 'force-overwrite') overwrite = 2;
      else throw new FluxError(errno.EINVAL, 'Invalid mode specified');
    }
    if (!overwrite && !updateOnly) {
      const already = ids.filter((rank) => this.info[rank].drained && this.info[rank].reason !== undefined);
      if (already.length > 0) {
        throw new FluxError(errno.EEXIST, `rank${already.length > 1 ? 's' : ''} ${encodeIdset(already)} already drained`);
      }
    }
    const reason = req.reason;
    for (const rank of ids) this.update(rank, true, timestamp, reason, overwrite);
    const idset = encodeIdset(ids);
    // without a reason, none is written, so that replay restores "no reason"
    const context: Record<string, unknown> = { idset, nodelist: this.targets.nodelist(ids), ...(reason !== undefined ? { reason } : {}), overwrite };
    await this.reslog.post('drain', context, { commit: true, timestamp });
    r.respond({});
  }

  async handleUndrain(r: Responder): Promise<void> {
    if (!(r.msg.rolemask & ROLE_OWNER)) throw new FluxError(errno.EPERM);
    const req = r.json<{ targets?: unknown; reason?: unknown; mode?: unknown }>();
    if (typeof req.targets !== 'string' || (req.reason !== undefined && typeof req.reason !== 'string')
      || (req.mode !== undefined && typeof req.mode !== 'string')) throw new FluxError(errno.EPROTO);
    let ids = this.decode(req.targets);
    if (req.mode !== undefined && req.mode !== 'force') throw new FluxError(errno.EINVAL, `invalid undrain mode '${req.mode}' specified`);
    const notDrained = ids.filter((rank) => !this.info[rank].drained);
    if (req.mode === 'force') {
      ids = ids.filter((rank) => this.info[rank].drained);
    } else if (notDrained.length > 0) {
      throw new FluxError(errno.EINVAL, `${this.targets.nodelist(notDrained)} (rank${notDrained.length > 1 ? 's' : ''} ${encodeIdset(notDrained)}) not drained`);
    }
    if (ids.length === 0) {
      r.respond({});
      return;
    }
    const timestamp = nowSeconds();
    for (const rank of ids) this.update(rank, false, timestamp, undefined, 1);
    const idset = encodeIdset(ids);
    const context: Record<string, unknown> = { idset, nodelist: this.targets.nodelist(ids), ...(req.reason !== undefined ? { reason: req.reason } : {}) };
    await this.reslog.post('undrain', context, { commit: true, timestamp });
    r.respond({});
  }
}
