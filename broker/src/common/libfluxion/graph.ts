/**
 * The resource graph of Fluxion's containment subsystem: cluster → node →
 * socket → core / gpu (and whatever a description adds), vertices named as
 * flux-sched names them (`basename` + `id`: `node3`, `socket1`, `core17`) with
 * their containment path (`/cluster0/node3/socket1/core17`). Vertices live in
 * flat arrays (a 16K-node machine has over half a million of them); names and
 * paths are computed when asked for. Each node carries planners (cores, GPUs,
 * whole node) so a match can skip a node without looking at its leaves; each
 * leaf carries its own list of spans (allocations and reservations).
 */
import { Planner, type Span } from './planner';

export const STATUS_UP = 0;
export const STATUS_DOWN = 1;

export interface NodeDesc {
  rank: number;
  hostname: string;
  /** Core ids of the node (as in R). */
  cores: number[];
  gpus: number[];
  /** Socket of each core (same order as cores); empty = no socket information. */
  coreSockets?: number[];
  /** Memory of each NUMA node, in whole GB, and the socket it hangs from (when sockets are known). */
  memory?: MemoryDesc[];
}

export interface MemoryDesc {
  gb: number;
  socket?: number;
}

export interface NodePlanners {
  core: Planner;
  gpu: Planner;
  /** 1 unit: held by a job that has the node exclusively. */
  whole: Planner;
  /** 1 unit per job touching the node: nonzero means "not entirely free". */
  jobs: Planner;
}

export const ALL_TYPES = ['cluster', 'node', 'socket', 'core', 'gpu', 'memory'];

export class ResourceGraph {
  /** Index into `types` per vertex. */
  type: number[] = [];
  readonly types: string[] = [];
  private readonly typeIndex = new Map<string, number>();
  id: number[] = [];
  rank: number[] = [];
  parent: number[] = [];
  status: Uint8Array = new Uint8Array(0);
  children: (number[] | undefined)[] = [];
  /** Leaf schedules, by vertex. */
  readonly spans = new Map<number, Span[]>();
  /** Node vertices by rank, and their planners. */
  readonly nodeByRank = new Map<number, number>();
  readonly planners = new Map<number, NodePlanners>();
  readonly hostnames = new Map<number, string>();
  /** Sparse per-vertex attributes: only vertices that differ from the default (basename = type, size 1, no unit). */
  readonly basenames = new Map<number, string>();
  readonly sizes = new Map<number, number>();
  readonly units = new Map<number, string>();
  readonly allowlist: Set<string> | undefined;
  readonly root: number;
  edges = 0;
  buildTime = 0;

  constructor(allowlist?: string[]) {
    this.allowlist = allowlist && allowlist.length > 0 ? new Set(allowlist) : undefined;
    this.root = this.add('cluster', 0, -1, -1);
  }

  typeOf(v: number): string {
    return this.types[this.type[v]];
  }

  get size(): number {
    return this.type.length;
  }

  allowed(type: string): boolean {
    return type === 'cluster' || !this.allowlist || this.allowlist.has(type);
  }

  /** Add a vertex of `type` under `parent` (-1: none); returns its index. */
  add(type: string, id: number, rank: number, parent: number): number {
    let t = this.typeIndex.get(type);
    if (t === undefined) {
      t = this.types.length;
      this.types.push(type);
      this.typeIndex.set(type, t);
    }
    const v = this.type.length;
    this.type.push(t);
    this.id.push(id);
    this.rank.push(rank);
    this.parent.push(parent);
    this.children.push(undefined);
    if (parent >= 0) {
      (this.children[parent] ??= []).push(v);
      this.edges++;
    }
    return v;
  }

  /** Add the vertices of one node (skipping types outside the allowlist: their children go to the nearest kept ancestor). */
  addNode(n: NodeDesc): void {
    const keepNode = this.allowed('node');
    const node = keepNode ? this.add('node', n.rank, n.rank, this.root) : this.root;
    if (keepNode) {
      this.nodeByRank.set(n.rank, node);
      this.hostnames.set(node, n.hostname);
      this.planners.set(node, {
        core: new Planner(this.allowed('core') ? n.cores.length : 0),
        gpu: new Planner(this.allowed('gpu') ? n.gpus.length : 0),
        whole: new Planner(1),
        jobs: new Planner(Number.MAX_SAFE_INTEGER),
      });
    }
    const sockets = n.coreSockets && n.coreSockets.length === n.cores.length ? [...new Set(n.coreSockets)].sort((a, b) => a - b) : [];
    const keepSocket = sockets.length > 0 && this.allowed('socket');
    const socketV = new Map<number, number>();
    if (keepSocket) for (const s of sockets) socketV.set(s, this.add('socket', s, n.rank, node));
    if (this.allowed('core')) {
      n.cores.forEach((c, i) => {
        const p = keepSocket ? socketV.get(n.coreSockets![i])! : node;
        this.add('core', c, n.rank, p);
      });
    }
    if (this.allowed('gpu')) {
      n.gpus.forEach((g, i) => {
        const p = keepSocket ? socketV.get(sockets[i % sockets.length])! : node;
        this.add('gpu', g, n.rank, p);
      });
    }
    if (this.allowed('memory') && n.memory) {
      // One memory vertex per NUMA node, a pool of its size in GB (flux-sched's memory vertices
      // carry size and unit): a job asking for `memory` count N takes N GB from the pools.
      n.memory.filter((m) => m.gb > 0).forEach((m, id) => {
        const p = keepSocket && m.socket !== undefined && socketV.has(m.socket) ? socketV.get(m.socket)! : node;
        const v = this.add('memory', id, n.rank, p);
        if (m.gb !== 1) this.sizes.set(v, m.gb);
        this.setUnit(v, 'GB');
      });
    }
  }

  setUnit(v: number, unit: string): void {
    if (unit !== '') this.units.set(v, unit);
  }

  sizeOf(v: number): number {
    return this.sizes.get(v) ?? 1;
  }

  unitOf(v: number): string {
    return this.units.get(v) ?? '';
  }

  /** Done adding: fix array types. */
  seal(): void {
    const st = new Uint8Array(this.type.length);
    st.set(this.status.subarray(0, Math.min(this.status.length, st.length)));
    this.status = st;
  }

  static build(nodes: NodeDesc[], allowlist?: string[]): ResourceGraph {
    const t0 = performance.now();
    const g = new ResourceGraph(allowlist);
    for (const n of nodes) g.addNode(n);
    g.seal();
    g.buildTime = (performance.now() - t0) / 1000;
    return g;
  }

  basename(v: number): string {
    return this.basenames.get(v) ?? this.typeOf(v);
  }

  name(v: number): string {
    return `${this.basename(v)}${this.id[v] >= 0 ? this.id[v] : ''}`;
  }

  path(v: number): string {
    const parts: string[] = [];
    for (let x = v; x >= 0; x = this.parent[x]) parts.push(this.name(x));
    return '/' + parts.reverse().join('/');
  }

  /** The node vertex holding v (or -1 when nodes are not in the graph). */
  nodeOf(v: number): number {
    for (let x = v; x >= 0; x = this.parent[x]) if (this.typeOf(x) === 'node') return x;
    return -1;
  }

  /** Vertex down, or under a down vertex. */
  isDown(v: number): boolean {
    for (let x = v; x >= 0; x = this.parent[x]) if (this.status[x] === STATUS_DOWN) return true;
    return false;
  }

  /** Vertices of the subtree rooted at v (v included), depth first. */
  subtree(v: number, out: number[] = []): number[] {
    out.push(v);
    const c = this.children[v];
    if (c) for (const x of c) this.subtree(x, out);
    return out;
  }

  countByType(): Record<string, number> {
    const n: Record<string, number> = {};
    for (const t of this.type) n[this.types[t]] = (n[this.types[t]] ?? 0) + 1;
    return n;
  }

  ranks(): number[] {
    return [...new Set(this.rank.filter((r) => r >= 0))].sort((a, b) => a - b);
  }
}
