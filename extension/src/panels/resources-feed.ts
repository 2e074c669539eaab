/**
 * What the resource graph panel draws: the scheduler's containment graph, live. With Fluxion
 * loaded it is Fluxion's own graph (`sched-fluxion-resource.graph`: JGF with each vertex's
 * status, schedule state and jobs). With any other scheduler (sched-simple, or a real
 * flux-core's) it is built from what every Flux serves: `resource.R` (cluster → node → core/gpu),
 * the down set of `sched.resource-status`, and the R of each running job from the job-manager's
 * journal. The journal's alloc/free events (debounced) trigger a new snapshot. No `vscode` here.
 */
import { Flux } from '../../../broker/src/common/libflux/handle';
import { FLAG_STREAMING, getJson } from '../../../broker/src/common/libflux/message';
import { FluxError } from '../../../broker/src/common/libflux/errno';
import { encodeF58 } from '../../../broker/src/common/libjob/jobid';
import { lookup } from '../../../broker/src/common/libkvs/client';
import { Rlist } from '../../../broker/src/common/librlist/rlist';
import type { ResourceSnapshot, VertexState } from '../../../webviews/common/protocol';

const REFRESH_MS = 150;

interface JgfNode {
  id: string;
  metadata: {
    type?: string; name?: string; rank?: number; paths?: { containment?: string };
    status?: string; state?: string; jobs?: unknown[]; parent?: number;
  };
}

function f58(id: unknown): string {
  try {
    return typeof id === 'number' || typeof id === 'bigint' ? encodeF58(BigInt(id)) : String(id);
  } catch {
    return String(id);
  }
}

/** Fluxion's JGF (with parent, state and jobs per vertex) as a snapshot. */
export function snapshotFromJgf(doc: unknown, uri: string): ResourceSnapshot {
  const nodes = ((doc as { graph?: { nodes?: JgfNode[] } }).graph?.nodes ?? []);
  const index = new Map<string, number>();
  nodes.forEach((n, i) => index.set(n.id, i));
  const s: ResourceSnapshot = { source: 'fluxion', parent: [], type: [], name: [], path: [], rank: [], state: [], jobs: [], uri };
  for (const n of nodes) {
    const m = n.metadata;
    const p = m.parent !== undefined && m.parent >= 0 ? index.get(String(m.parent)) : undefined;
    s.parent.push(p ?? -1);
    s.type.push(m.type ?? '?');
    s.name.push(m.name ?? n.id);
    s.path.push(m.paths?.containment ?? '');
    s.rank.push(m.rank ?? -1);
    const st = m.status === 'down' ? 'down' : m.state === 'allocated' || m.state === 'reserved' ? m.state : 'free';
    s.state.push(st as VertexState);
    s.jobs.push((m.jobs ?? []).map(f58).join(' '));
  }
  return s;
}

/** R (all), the down ranks' R and running jobs' R as a snapshot: cluster → node → core/gpu. */
export function snapshotFromR(all: unknown, down: unknown, jobs: Map<string, unknown>, uri: string): ResourceSnapshot {
  const s: ResourceSnapshot = { source: 'R', parent: [], type: [], name: [], path: [], rank: [], state: [], jobs: [], uri };
  const add = (parent: number, type: string, name: string, path: string, rank: number, state: VertexState, job: string): number => {
    s.parent.push(parent);
    s.type.push(type);
    s.name.push(name);
    s.path.push(path);
    s.rank.push(rank);
    s.state.push(state);
    s.jobs.push(job);
    return s.parent.length - 1;
  };
  const R = Rlist.fromR(all);
  const downRanks = new Set(down ? Rlist.fromR(down).ranks.map((r) => r.rank) : []);
  const owner = new Map<string, string>(); // "rank/core/N" → job
  for (const [id, r] of jobs) {
    for (const rr of Rlist.fromR(r).ranks) {
      for (const c of rr.cores) owner.set(`${rr.rank}/core/${c}`, id);
      for (const g of rr.gpus) owner.set(`${rr.rank}/gpu/${g}`, id);
    }
  }
  const root = add(-1, 'cluster', 'cluster0', '/cluster0', -1, 'free', '');
  for (const rr of R.ranks) {
    const nodeName = `${rr.hostname || 'node'}${R.ranks.filter((x) => x.hostname === rr.hostname).length > 1 ? rr.rank : ''}`;
    const down = downRanks.has(rr.rank);
    const nodePath = `/cluster0/${nodeName}`;
    const nodeJobs = new Set<string>();
    const node = add(root, 'node', nodeName, nodePath, rr.rank, down ? 'down' : 'free', '');
    for (const [type, ids] of [['core', rr.cores], ['gpu', rr.gpus]] as const) {
      for (const id of ids) {
        const job = owner.get(`${rr.rank}/${type}/${id}`) ?? '';
        if (job) nodeJobs.add(job);
        add(node, type, `${type}${id}`, `${nodePath}/${type}${id}`, rr.rank, down ? 'down' : job ? 'allocated' : 'free', job);
      }
    }
    s.jobs[node] = [...nodeJobs].join(' ');
  }
  return s;
}

export interface ResourcesFeedEvents {
  snapshot(s: ResourceSnapshot): void;
  gone(reason: string): void;
}

export class ResourcesFeed {
  private h: Flux | undefined;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  /** Running jobs' R, by F58 id (for the R-based graph). */
  private readonly jobs = new Map<string, unknown>();
  private fetching = false;
  private again = false;

  constructor(private readonly uri: string, private readonly ev: ResourcesFeedEvents) {}

  async start(): Promise<void> {
    const h = await Flux.open(this.uri);
    this.h = h;
    h.onDisconnect(() => {
      if (!this.stopped) this.ev.gone('The connection to the instance was lost.');
    });
    await this.followJournal(h);
    await this.refresh();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.h?.close();
    this.h = undefined;
  }

  /** The journal's history first (jobs running now), then every change; ends with `{id:-1}` after the history. */
  private followJournal(h: Flux): Promise<void> {
    return new Promise((resolve) => {
      const rpc = h.rpc('job-manager.events-journal', { full: false }, { flags: FLAG_STREAMING });
      let live = false;
      void (async () => {
        try {
          for await (const m of rpc) {
            const e = getJson<{ id?: unknown; events?: { name?: string }[]; R?: unknown }>(m);
            if (e.id === -1) {
              live = true;
              resolve();
              continue;
            }
            const id = f58(e.id);
            let changed = false;
            for (const ev of e.events ?? []) {
              if (ev.name === 'alloc' && e.R !== undefined) {
                this.jobs.set(id, e.R);
                changed = true;
              } else if (ev.name === 'free' || ev.name === 'clean' || ev.name === 'release') {
                changed = this.jobs.delete(id) || changed || ev.name === 'free';
              }
            }
            if (live && changed) this.schedule();
          }
        } catch {
          // No job-manager (an instance without jobs): the graph is still worth showing.
        }
        resolve();
      })();
    });
  }

  private schedule(): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.refresh();
    }, REFRESH_MS);
  }

  private async refresh(): Promise<void> {
    const h = this.h;
    if (!h || this.stopped) return;
    if (this.fetching) {
      this.again = true;
      return;
    }
    this.fetching = true;
    try {
      this.ev.snapshot(await this.read(h));
    } catch (e) {
      if (!this.stopped) this.ev.gone(`Cannot read the resources: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      this.fetching = false;
      if (this.again) {
        this.again = false;
        this.schedule();
      }
    }
  }

  private async read(h: Flux): Promise<ResourceSnapshot> {
    try {
      return snapshotFromJgf(await h.rpc('sched-fluxion-resource.graph', {}, { nodeid: 0 }).get(), this.uri);
    } catch (e) {
      if (!(e instanceof FluxError) || e.errnum !== 38) throw e; // ENOSYS: Fluxion is not loaded
    }
    const all = (await lookup(h, 'resource.R')).json();
    const status = await h.rpc('sched.resource-status', {}, { nodeid: 0 }).get<{ down?: unknown }>().catch(() => ({ down: undefined }));
    return snapshotFromR(all, status.down, this.jobs, this.uri);
  }
}
