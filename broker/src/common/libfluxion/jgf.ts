/**
 * Reading a resource graph from JGF (JSON Graph Format), flux-sched's
 * `load-format=jgf`: vertices with `metadata.{type, id, rank, name}`, edges
 * `source → target` in the containment subsystem. Vertices of types outside
 * the allowlist are dropped and their children hang from the nearest kept
 * ancestor. Node vertices get their planners from the cores and GPUs below.
 */
import { errno, FluxError } from '../libflux/errno';
import { ResourceGraph } from './graph';
import { Planner } from './planner';

interface JgfNode { id: string; metadata?: { type?: string; id?: number; rank?: number; name?: string; basename?: string; size?: number; unit?: string } }
interface JgfEdge { source: string; target: string; metadata?: { name?: Record<string, string>; subsystem?: string } }

export function loadJgf(doc: unknown, allowlist?: string[]): ResourceGraph {
  const g0 = (doc as { graph?: { nodes?: unknown; edges?: unknown } } | null)?.graph;
  if (!g0 || !Array.isArray(g0.nodes) || !Array.isArray(g0.edges)) throw new FluxError(errno.EINVAL, 'JGF: graph.nodes and graph.edges are required');
  const t0 = performance.now();
  const nodes = g0.nodes as JgfNode[];
  const byId = new Map<string, JgfNode>();
  for (const n of nodes) {
    if (typeof n?.id !== 'string' && typeof n?.id !== 'number') throw new FluxError(errno.EINVAL, 'JGF: vertex without id');
    byId.set(String(n.id), n);
  }
  const kids = new Map<string, string[]>();
  const hasParent = new Set<string>();
  for (const e of g0.edges as JgfEdge[]) {
    const sub = e.metadata?.subsystem ?? Object.keys(e.metadata?.name ?? { containment: '' })[0];
    if (sub !== undefined && sub !== 'containment') continue;
    const s = String(e.source);
    const t = String(e.target);
    if (!byId.has(s) || !byId.has(t)) throw new FluxError(errno.EINVAL, `JGF: edge ${s} → ${t} names an unknown vertex`);
    if (hasParent.has(t)) continue;
    hasParent.add(t);
    kids.set(s, [...(kids.get(s) ?? []), t]);
  }
  const roots = nodes.filter((n) => !hasParent.has(String(n.id)));
  if (roots.length !== 1 || roots[0].metadata?.type !== 'cluster') throw new FluxError(errno.EINVAL, 'JGF: the containment graph must have one cluster root');
  const g = new ResourceGraph(allowlist);
  const counts = new Map<number, [number, number]>();
  const walk = (jid: string, parent: number, node: number): void => {
    for (const k of kids.get(jid) ?? []) {
      const md = byId.get(k)!.metadata ?? {};
      const type = String(md.type ?? '');
      if (!type) throw new FluxError(errno.EINVAL, `JGF: vertex ${k} has no type`);
      let v = parent;
      let n = node;
      if (g.allowed(type)) {
        v = g.add(type, Number(md.id ?? 0), Number(md.rank ?? -1), parent);
        if (typeof md.basename === 'string' && md.basename !== type && type !== 'node') g.basenames.set(v, md.basename);
        if (typeof md.size === 'number' && Number.isInteger(md.size) && md.size >= 0 && md.size !== 1) g.sizes.set(v, md.size);
        if (typeof md.unit === 'string') g.setUnit(v, md.unit);
        if (type === 'node') {
          n = v;
          g.nodeByRank.set(g.rank[v], v);
          g.hostnames.set(v, String(md.name ?? `node${g.rank[v]}`));
          counts.set(v, [0, 0]);
        } else if (n >= 0 && (type === 'core' || type === 'gpu')) {
          counts.get(n)![type === 'core' ? 0 : 1]++;
        }
      }
      walk(k, v, n);
    }
  };
  walk(String(roots[0].id), g.root, -1);
  for (const [n, [c, gp]] of counts) {
    g.planners.set(n, { core: new Planner(c), gpu: new Planner(gp), whole: new Planner(1), jobs: new Planner(Number.MAX_SAFE_INTEGER) });
  }
  g.seal();
  g.buildTime = (performance.now() - t0) / 1000;
  return g;
}

/** JGF (JSON Graph Format) of the given vertices and their ancestors, as flux-sched writes it. */
export function toJgf(g: ResourceGraph, vertices?: number[], extra?: (v: number) => Record<string, unknown>): Record<string, unknown> {
  let set: number[];
  if (vertices) {
    const s = new Set<number>();
    for (const v of vertices) for (let x = v; x >= 0 && !s.has(x); x = g.parent[x]) s.add(x);
    set = [...s].sort((a, b) => a - b);
  } else {
    set = Array.from({ length: g.size }, (_, i) => i);
  }
  const inSet = new Set(set);
  const nodes = set.map((v) => ({
    id: String(v),
    metadata: {
      type: g.typeOf(v), basename: g.basename(v), name: g.name(v), id: g.id[v], uniq_id: v, rank: g.rank[v],
      exclusive: false, unit: g.unitOf(v), size: g.sizeOf(v), paths: { containment: g.path(v) }, ...(extra ? extra(v) : {}),
    },
  }));
  const edges = set.filter((v) => g.parent[v] >= 0 && inSet.has(g.parent[v]))
    .map((v) => ({ source: String(g.parent[v]), target: String(v), metadata: { name: { containment: 'contains' } } }));
  return { graph: { nodes, edges } };
}
