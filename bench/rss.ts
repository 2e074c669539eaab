/**
 * Metric 4: resident memory of each broker process. The pid comes from the broker itself
 * (`broker.pid` attribute, asked on each rank's own socket `rundir/local-R`, as
 * `flux getattr broker.pid` would), the size from /proc/PID/status (VmRSS, KiB) — the same
 * figure flux-core's memory section reports.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Flux } from '../broker/src/common/libflux/handle';
import * as fc from './flux-core';
import { fmtValue, median, type Row } from './stats';

export interface BrokerRss {
  rank: number;
  pid: number;
  rssKiB: number;
}

export function vmRssKiB(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (!m) throw new Error(`/proc/${pid}/status has no VmRSS`);
  return Number(m[1]);
}

/** Every rank's broker pid and RSS, one connection per rank (sequentially: 256 sockets at once is no test of memory). */
export async function brokerRss(rundir: string, size: number): Promise<BrokerRss[]> {
  const out: BrokerRss[] = [];
  for (let rank = 0; rank < size; rank++) {
    const h = await Flux.open(`local://${path.join(rundir, `local-${rank}`)}`);
    try {
      const pid = Number(await h.getattr('broker.pid'));
      out.push({ rank, pid, rssKiB: vmRssKiB(pid) });
    } finally {
      h.close();
    }
  }
  return out;
}

export interface RssResult {
  size: number;
  topo: string;
  rss: BrokerRss[];
}

export function rssRows(results: RssResult[]): Row[] {
  const rows: Row[] = [];
  for (const r of results) {
    const flat4 = r.size === 4 && r.topo === 'kary:32';
    const r0 = r.rss.find((b) => b.rank === 0);
    const followers = r.rss.filter((b) => b.rank !== 0).map((b) => b.rssKiB);
    const total = r.rss.reduce((s, b) => s + b.rssKiB, 0);
    const where = `size ${r.size} ${r.topo}`;
    rows.push({
      metric: `broker RSS, rank 0 (${where}, idle)`,
      ours: r0?.rssKiB,
      unit: 'kib',
      runs: `pid ${r0?.pid ?? '?'}`,
      ref: flat4 ? fc.rssKiB.rank0 : undefined,
      note: `all ${r.size} brokers: ${fmtValue(total, 'kib')}${flat4 ? '; ref: flux-core idle test-size=4 (its modules are threads; Python sched-simple not counted)' : ''}`,
    });
    if (followers.length > 0) {
      rows.push({
        metric: `broker RSS, follower median (${where}, idle)`,
        ours: median(followers),
        unit: 'kib',
        runs: `${followers.length} brokers`,
        ref: flat4 ? fc.rssKiB.follower : undefined,
        note: `${fmtValue(Math.min(...followers), 'kib')}–${fmtValue(Math.max(...followers), 'kib')}`,
      });
    }
  }
  return rows;
}
