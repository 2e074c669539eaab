/**
 * The resource graph as the panel draws it, from what the scheduler serves: Fluxion's own graph
 * (JGF with each vertex's status, schedule state and jobs), or R (cluster → node → core/gpu) with
 * the down ranks and the running jobs' R. Pure: unit-tested.
 */
import { encodeF58 } from '../../../broker/src/common/libjob/jobid';
import { Rlist } from '../../../broker/src/common/librlist/rlist';
import type { ResourceSnapshot, VertexState } from '../../../webviews/common/protocol';

interface JgfNode {
  id: string;
  metadata: {
    type?: string; name?: string; rank?: number; paths?: { containment?: string };
    status?: string; state?: string; jobs?: unknown[]; parent?: number;
  };
}

export function f58(id: unknown): string {
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
