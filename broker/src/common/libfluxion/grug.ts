/**
 * Reading a GRUG (Generating Resources Using GraphML) recipe, flux-sched's
 * `load-format=grug`: a small GraphML graph whose vertices are resource
 * *kinds* (type, basename, size, unit, root) and whose edges say how many of
 * the target each source instance holds (`multi_scale`) and how ids are
 * numbered (`id_scope`, `id_start`, `id_stride`). Expanding it depth first
 * gives the resource graph: `tiny.graphml` (1 rack × 2 nodes × 2 sockets ×
 * 18 cores, 1 GPU and 4 × 2 GB memory per socket) becomes 123 vertices named
 * and numbered as flux-sched names them (`node1`, `core35` with scope 1).
 *
 * Only the containment subsystem makes our graph: edges of other subsystems
 * and the associate-in generation methods (which only add other subsystems'
 * relations over the same vertices) are skipped. As in flux-sched, generated
 * vertices carry rank -1: a GRUG graph describes a machine for `flux
 * ion-resource` and the resource graph view, not the instance's brokers.
 */
import { XMLParser } from 'fast-xml-parser';
import { errno, FluxError } from '../libflux/errno';
import { ResourceGraph } from './graph';
import { Planner } from './planner';

type Attrs = Record<string, string>;

interface Kind {
  key: string;
  root: boolean;
  type: string;
  basename: string;
  size: number;
  unit: string;
  subsystem: string;
}

interface Recipe {
  source: string;
  target: string;
  subsystem: string;
  method: string;
  scale: number;
  idScope: number;
  idStart: number;
  idStride: number;
}

/** A GRUG parse or expansion error, as EINVAL with what is wrong. */
function bad(what: string): FluxError {
  return new FluxError(errno.EINVAL, `GRUG: ${what}`);
}

const asArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** The recipe graph from GraphML text: kinds by id, edges in document order, `<key>` defaults applied. */
export function parseGrug(text: string): { kinds: Map<string, Kind>; edges: Recipe[] } {
  let doc: unknown;
  try {
    doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', textNodeName: '#text', parseTagValue: false }).parse(text, true);
  } catch (e) {
    throw bad(`not valid XML: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
  }
  const top = (doc as { graphml?: Record<string, unknown> | string }).graphml;
  if (top === undefined) throw bad('no <graphml> element');
  const graphml = typeof top === 'object' && top !== null ? top : {};
  const defaults = { node: new Map<string, string>(), edge: new Map<string, string>() };
  const keyName = new Map<string, string>();
  for (const k of asArray(graphml.key as Attrs[] | Attrs | undefined)) {
    const id = String((k as Attrs).id ?? '');
    const name = String((k as Attrs)['attr.name'] ?? id);
    keyName.set(id, name);
    const dflt = (k as { default?: unknown }).default;
    const forWhat = (k as Attrs).for === 'edge' ? defaults.edge : defaults.node;
    if (dflt !== undefined) forWhat.set(name, typeof dflt === 'object' && dflt !== null ? String((dflt as Attrs)['#text'] ?? '') : String(dflt));
  }
  const graph = asArray(graphml.graph as Record<string, unknown> | Record<string, unknown>[] | undefined)[0];
  if (!graph) throw bad('no <graph> element');
  const dataOf = (el: Record<string, unknown>, dflt: Map<string, string>): Map<string, string> => {
    const out = new Map(dflt);
    for (const d of asArray(el.data as (Attrs | string)[] | Attrs | string | undefined)) {
      if (typeof d !== 'object' || d === null) continue;
      const name = keyName.get(String(d.key)) ?? String(d.key);
      out.set(name, String(d['#text'] ?? '').trim());
    }
    return out;
  };
  const int = (m: Map<string, string>, k: string, dflt: number, where: string): number => {
    const s = m.get(k);
    if (s === undefined || s === '') return dflt;
    const n = Number(s);
    if (!Number.isInteger(n)) throw bad(`${where}: ${k} must be an integer, not "${s}"`);
    return n;
  };
  const kinds = new Map<string, Kind>();
  for (const n of asArray(graph.node as Record<string, unknown>[] | Record<string, unknown> | undefined)) {
    const key = String(n.id ?? '');
    if (key === '') throw bad('a <node> without id');
    const d = dataOf(n, defaults.node);
    const type = d.get('type') ?? '';
    if (type === '') throw bad(`vertex ${key} has no type`);
    const size = int(d, 'size', 1, `vertex ${key}`);
    if (size < 0) throw bad(`vertex ${key}: size must not be negative`);
    kinds.set(key, {
      key, root: int(d, 'root', 0, `vertex ${key}`) !== 0, type, basename: d.get('basename') || type,
      size, unit: d.get('unit') ?? '', subsystem: d.get('subsystem') || 'containment',
    });
  }
  const edges: Recipe[] = [];
  for (const e of asArray(graph.edge as Record<string, unknown>[] | Record<string, unknown> | undefined)) {
    const source = String(e.source ?? '');
    const target = String(e.target ?? '');
    const where = `edge ${String(e.id ?? `${source}→${target}`)}`;
    if (!kinds.has(source) || !kinds.has(target)) throw bad(`${where} names an unknown vertex`);
    const d = dataOf(e, defaults.edge);
    const scale = int(d, 'multi_scale', 1, where);
    if (scale < 0) throw bad(`${where}: multi_scale must not be negative`);
    edges.push({
      source, target, subsystem: d.get('e_subsystem') || 'containment', method: (d.get('gen_method') || 'MULTIPLY').toUpperCase(),
      scale, idScope: int(d, 'id_scope', 0, where), idStart: int(d, 'id_start', 0, where), idStride: int(d, 'id_stride', 1, where),
    });
  }
  return { kinds, edges };
}

/**
 * Expand a GRUG recipe into a resource graph. Ids follow flux-sched's rule: scope 0 numbers
 * the children of each parent from id_start; scope k numbers them across the k-th ancestor
 * (cores 0-35 per node rather than 0-17 per socket with scope 1).
 */
export function loadGrug(text: string, allowlist?: string[]): ResourceGraph {
  const t0 = performance.now();
  const { kinds, edges } = parseGrug(text);
  const roots = [...kinds.values()].filter((k) => k.root && k.subsystem === 'containment');
  if (roots.length !== 1) throw bad(`the containment subsystem needs exactly one root vertex (root=1), found ${roots.length}`);
  if (roots[0].type !== 'cluster') throw bad(`the root vertex must be of type cluster, not ${roots[0].type}`);
  const out = new Map<string, Recipe[]>();
  for (const e of edges) {
    if (e.subsystem !== 'containment' || e.method !== 'MULTIPLY') continue;
    out.set(e.source, [...(out.get(e.source) ?? []), e]);
  }
  const g = new ResourceGraph(allowlist);
  if (roots[0].basename !== 'cluster') g.basenames.set(g.root, roots[0].basename);
  const counts = new Map<number, [number, number]>();
  const onPath = new Set<string>();
  // Depth first over the recipe as flux-sched walks it: a kind is expanded from the first edge
  // that reaches it; a later edge into it (not a tree edge) generates nothing.
  const visited = new Set<string>([roots[0].key]);
  /** Graph vertex standing for each generated instance (the nearest kept ancestor when its type is not allowed). */
  const expand = (kindKey: string, instances: number[], nodeOf: number[], scales: number[]): void => {
    onPath.add(kindKey);
    for (const e of out.get(kindKey) ?? []) {
      if (onPath.has(e.target)) throw bad(`the recipe has a cycle through ${e.target}`);
      if (visited.has(e.target)) continue;
      visited.add(e.target);
      const k = kinds.get(e.target)!;
      const keep = g.allowed(k.type);
      const made: number[] = [];
      const madeNode: number[] = [];
      let wrap = 1;
      for (let h = 0; h < Math.min(e.idScope, scales.length); h++) wrap *= scales[h];
      instances.forEach((parent, j) => {
        for (let i = 0; i < e.scale; i++) {
          const id = e.idScope < 0 ? -1 : e.idScope === 0 ? e.idStart + i : e.idStart + (j % wrap) * e.scale * e.idStride + i * e.idStride;
          let v = parent;
          let node = nodeOf[j];
          if (keep) {
            v = g.add(k.type, id, -1, parent);
            if (k.basename !== k.type) g.basenames.set(v, k.basename);
            if (k.size !== 1) g.sizes.set(v, k.size);
            g.setUnit(v, k.unit);
            if (k.type === 'node') {
              node = v;
              g.hostnames.set(v, g.name(v));
              counts.set(v, [0, 0]);
            } else if (node >= 0 && (k.type === 'core' || k.type === 'gpu')) {
              counts.get(node)![k.type === 'core' ? 0 : 1]++;
            }
          }
          made.push(v);
          madeNode.push(node);
        }
      });
      expand(e.target, made, madeNode, [e.scale, ...scales]);
    }
    onPath.delete(kindKey);
  };
  expand(roots[0].key, [g.root], [-1], []);
  for (const [n, [c, gp]] of counts) {
    g.planners.set(n, { core: new Planner(c), gpu: new Planner(gp), whole: new Planner(1), jobs: new Planner(Number.MAX_SAFE_INTEGER) });
  }
  g.seal();
  g.buildTime = (performance.now() - t0) / 1000;
  return g;
}
