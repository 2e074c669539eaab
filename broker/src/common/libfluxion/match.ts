/**
 * Matching a jobspec against the resource graph, and the schedule kept on it.
 *
 * The policy (policy.ts) says which end of the ids to prefer and whether
 * nodes go whole; the match commands are match-cmd.ts.
 *
 * The traversal is depth first, greedy, in policy order: for each request
 * vertex it looks for `count` vertices of the type below the current one
 * (through types the request skips, e.g. sockets), skipping nodes whose
 * planners say they cannot hold what is asked during the job's window, and
 * backs out of a candidate whose children cannot be satisfied. Leaves under a
 * slot are exclusive; nodes are shared unless the request or the policy
 * makes them exclusive. Times are whole seconds.
 */
import { errno, FluxError } from '../libflux/errno';
import { encodeIdset } from '../libidset/idset';
import { encodeHostlist } from '../libhostlist/hostlist';
import { STATUS_DOWN, type ResourceGraph } from './graph';
import { maxUsedOf, spansFree } from './planner';
import { totalOf, type Req } from './jobspec';
import { toJgf } from './jgf';
import type { MatchPolicy } from './policy';

export type JobState = 'ALLOCATED' | 'RESERVED';

export interface JobAlloc {
  id: bigint;
  state: JobState;
  start: number;
  end: number;
  /** Vertices held (leaves, and exclusive nodes). */
  vertices: number[];
  /** Node vertex → [cores, gpus, exclusive] held there. */
  nodes: Map<number, [number, number, boolean]>;
  overhead: number;
  /** Wall-clock seconds of the match. */
  at: number;
}

export interface MatchResult {
  vertices: number[];
  /** Units taken from pool vertices (absent: one, the whole vertex). */
  amounts?: Map<number, number>;
  nodes: Map<number, [number, number, boolean]>;
  start: number;
  end: number;
}

/** No time limit: flux-sched's graph end, as R's expiration shows it. */
export const GRAPH_END = 9223372036;

const LEAVES = new Set(['core', 'gpu', 'memory', 'pu']);

interface Walk {
  start: number;
  end: number;
  static: boolean;
  picked: Set<number>;
  /** Picks in order, for rollback: a vertex, -node-1 for a node made exclusive, [vertex, units] for a pool. */
  journal: (number | [number, number])[];
  /** Units taken from pool vertices (memory: N GB of a vertex of size S). */
  amounts: Map<number, number>;
  /** Node vertex → [cores, gpus] taken by this match so far. */
  used: Map<number, [number, number]>;
  exclusiveNodes: Set<number>;
}

export class Matcher {
  readonly jobs = new Map<bigint, JobAlloc>();

  constructor(readonly g: ResourceGraph, public policy: MatchPolicy) {}

  private nodeExclusive(r: Req): boolean {
    return r.exclusive || (r.type === 'node' && this.policy.nodeExclusive);
  }

  /** Can node vertex n still give `cores`/`gpus` (beyond this walk's own picks) during the window? */
  private nodeRoom(n: number, w: Walk, cores: number, gpus: number, exclusive: boolean): boolean {
    if (w.static) return true;
    if (this.g.status[n] === STATUS_DOWN) return false;
    const p = this.g.planners.get(n);
    if (!p) return true;
    if (w.exclusiveNodes.has(n)) return false;
    if (p.whole.maxUsed(w.start, w.end) > 0) return false;
    const u = w.used.get(n);
    if (exclusive) return !u && p.jobs.maxUsed(w.start, w.end) === 0;
    return p.core.availDuring(w.start, w.end) - (u?.[0] ?? 0) >= cores && p.gpu.availDuring(w.start, w.end) - (u?.[1] ?? 0) >= gpus;
  }

  /** Visit vertices of `type` under v (not v), in policy order; stop when visit returns true. */
  private visit(v: number, type: number, w: Walk, need: [number, number], fn: (c: number) => boolean): boolean {
    const kids = this.g.children[v];
    if (!kids) return false;
    const n = kids.length;
    for (let i = 0; i < n; i++) {
      const c = kids[this.policy.high ? n - 1 - i : i];
      if (this.g.type[c] === type) {
        if (fn(c)) return true;
        continue;
      }
      if (!w.static && this.g.status[c] === STATUS_DOWN) continue;
      if (this.g.planners.has(c) && !this.nodeRoom(c, w, need[0], need[1], false)) continue;
      if (this.visit(c, type, w, need, fn)) return true;
    }
    return false;
  }

  private pick(v: number, w: Walk): void {
    w.picked.add(v);
    w.journal.push(v);
    const n = this.g.nodeOf(v);
    if (n >= 0) {
      const t = this.g.typeOf(v);
      const u = w.used.get(n) ?? [0, 0];
      if (t === 'core') u[0]++;
      else if (t === 'gpu') u[1]++;
      w.used.set(n, u);
    }
  }

  /** Units of pool vertex c still free during the walk's window (beyond what it took already). */
  private poolAvail(c: number, w: Walk): number {
    if (!w.static && this.g.status[c] === STATUS_DOWN) return 0;
    const used = w.static ? 0 : maxUsedOf(this.g.spans.get(c), w.start, w.end);
    return this.g.sizeOf(c) - used - (w.amounts.get(c) ?? 0);
  }

  private takeFromPool(c: number, units: number, w: Walk): void {
    w.picked.add(c);
    w.amounts.set(c, (w.amounts.get(c) ?? 0) + units);
    w.journal.push([c, units]);
  }

  private rollback(w: Walk, mark: number): void {
    while (w.journal.length > mark) {
      const v = w.journal.pop()!;
      if (Array.isArray(v)) {
        const left = (w.amounts.get(v[0]) ?? 0) - v[1];
        if (left > 0) w.amounts.set(v[0], left);
        else {
          w.amounts.delete(v[0]);
          w.picked.delete(v[0]);
        }
        continue;
      }
      if (v < 0) {
        w.exclusiveNodes.delete(-v - 1);
        continue;
      }
      w.picked.delete(v);
      const n = this.g.nodeOf(v);
      const u = n >= 0 ? w.used.get(n) : undefined;
      if (u) {
        const t = this.g.typeOf(v);
        if (t === 'core') u[0]--;
        else if (t === 'gpu') u[1]--;
        if (u[0] === 0 && u[1] === 0) w.used.delete(n);
      }
    }
  }

  private leafFree(c: number, w: Walk): boolean {
    if (w.picked.has(c)) return false;
    if (w.static) return true;
    if (this.g.status[c] === STATUS_DOWN) return false;
    return spansFree(this.g.spans.get(c), w.start, w.end);
  }

  /** Satisfy every request of `reqs` inside v's subtree. */
  private satisfy(v: number, reqs: Req[], w: Walk): boolean {
    for (const r of reqs) {
      if (r.type === 'slot') {
        for (let i = 0; i < r.count; i++) if (!this.slot(v, r, w)) return false;
        continue;
      }
      const t = this.g.types.indexOf(r.type);
      if (t < 0) return false;
      const need: [number, number] = [totalOf(r.with, 'core') || (r.type === 'core' ? 1 : 0), totalOf(r.with, 'gpu') || (r.type === 'gpu' ? 1 : 0)];
      const excl = this.nodeExclusive(r);
      let found = 0;
      this.visit(v, t, w, need, (c) => {
        if (LEAVES.has(r.type) && this.g.sizeOf(c) > 1) {
          // a pool (memory): as many of its units as are free and still wanted
          const take = Math.min(this.poolAvail(c, w), r.count - found);
          if (take <= 0) return false;
          this.takeFromPool(c, take, w);
          found += take;
          return found >= r.count;
        }
        if (LEAVES.has(r.type)) {
          if (!this.leafFree(c, w)) return false;
          this.pick(c, w);
        } else {
          if (w.picked.has(c)) return false;
          if (!w.static && this.g.status[c] === STATUS_DOWN) return false;
          if (this.g.planners.has(c) && !this.nodeRoom(c, w, need[0], need[1], excl)) return false;
          const mark = w.journal.length;
          if (!this.satisfy(c, r.with, w)) {
            this.rollback(w, mark);
            return false;
          }
          if (excl) {
            // the whole subtree goes with it
            for (const x of this.g.subtree(c)) {
              if (x !== c && LEAVES.has(this.g.typeOf(x)) && this.g.sizeOf(x) > 1) {
                // a pool goes whole with it: what is not taken yet must be free
                const rest = this.g.sizeOf(x) - (w.amounts.get(x) ?? 0);
                if (rest > 0 && this.poolAvail(x, w) < rest) {
                  this.rollback(w, mark);
                  return false;
                }
                if (rest > 0) this.takeFromPool(x, rest, w);
              } else if (x !== c && LEAVES.has(this.g.typeOf(x)) && !w.picked.has(x)) {
                if (!this.leafFree(x, w)) {
                  this.rollback(w, mark);
                  return false;
                }
                this.pick(x, w);
              }
            }
            if (this.g.planners.has(c)) {
              w.exclusiveNodes.add(c);
              w.journal.push(-c - 1);
            }
          }
        }
        return ++found >= r.count;
      });
      if (found < r.count) return false;
    }
    return true;
  }

  /** One slot: its resources within one node (or within v when v is a node or below it). */
  private slot(v: number, r: Req, w: Walk): boolean {
    const nodeT = this.g.types.indexOf('node');
    const inNode = nodeT < 0 || this.g.type[v] === nodeT || this.g.nodeOf(v) >= 0;
    if (inNode) {
      const mark = w.journal.length;
      if (this.satisfy(v, r.with, w)) return true;
      this.rollback(w, mark);
      return false;
    }
    const need: [number, number] = [totalOf(r.with, 'core'), totalOf(r.with, 'gpu')];
    return this.visit(v, nodeT, w, need, (n) => {
      if (!this.nodeRoom(n, w, need[0], need[1], false)) return false;
      const mark = w.journal.length;
      if (this.satisfy(n, r.with, w)) return true;
      this.rollback(w, mark);
      return false;
    });
  }

  /** Find resources for `reqs` during [start, end); static = on an empty, all-up graph. */
  find(reqs: Req[], start: number, end: number, isStatic = false): MatchResult | undefined {
    const w: Walk = { start, end, static: isStatic, picked: new Set(), journal: [], amounts: new Map(), used: new Map(), exclusiveNodes: new Set() };
    if (!this.satisfy(this.g.root, reqs, w)) return undefined;
    const nodes = new Map<number, [number, number, boolean]>();
    for (const [n, u] of w.used) nodes.set(n, [u[0], u[1], w.exclusiveNodes.has(n)]);
    for (const n of w.exclusiveNodes) if (!nodes.has(n)) nodes.set(n, [0, 0, true]);
    return { vertices: [...w.picked], nodes, start, end, ...(w.amounts.size > 0 ? { amounts: w.amounts } : {}) };
  }

  /** Earliest window from `now` on (now, then each time something ends). */
  findEarliest(reqs: Req[], now: number, duration: number): MatchResult | undefined {
    const end = (t: number): number => (duration > 0 ? t + duration : Infinity);
    const first = this.find(reqs, now, end(now));
    if (first) return first;
    const times = new Set<number>();
    for (const p of this.g.planners.values()) {
      p.jobs.endsAfter(now, times);
      p.whole.endsAfter(now, times);
    }
    for (const t of [...times].sort((a, b) => a - b)) {
      const m = this.find(reqs, t, end(t));
      if (m) return m;
    }
    return undefined;
  }

  commit(id: bigint, m: MatchResult, state: JobState, overhead = 0): JobAlloc {
    if (this.jobs.has(id)) throw new FluxError(errno.EEXIST, `job ${id} already has resources`);
    const g = this.g;
    for (const v of m.vertices) {
      const s = g.spans.get(v);
      const span = { id, start: m.start, end: m.end, amount: m.amounts?.get(v) ?? 1 };
      if (s) s.push(span);
      else g.spans.set(v, [span]);
    }
    for (const [n, [c, gp, ex]] of m.nodes) {
      const p = g.planners.get(n);
      if (!p) continue;
      p.core.add(id, m.start, m.end, ex ? p.core.total : c);
      p.gpu.add(id, m.start, m.end, ex ? p.gpu.total : gp);
      p.jobs.add(id, m.start, m.end, 1);
      if (ex) p.whole.add(id, m.start, m.end, 1);
    }
    const job: JobAlloc = { id, state, start: m.start, end: m.end, vertices: m.vertices, nodes: m.nodes, overhead, at: Date.now() / 1000 };
    this.jobs.set(id, job);
    return job;
  }

  /** Give back a job's resources (allocation or reservation); false when unknown. */
  cancel(id: bigint): boolean {
    const job = this.jobs.get(id);
    if (!job) return false;
    for (const v of job.vertices) {
      const s = this.g.spans.get(v);
      if (!s) continue;
      const rest = s.filter((x) => x.id !== id);
      if (rest.length > 0) this.g.spans.set(v, rest);
      else this.g.spans.delete(v);
    }
    for (const n of job.nodes.keys()) {
      const p = this.g.planners.get(n);
      if (!p) continue;
      p.core.remove(id);
      p.gpu.remove(id);
      p.jobs.remove(id);
      p.whole.remove(id);
    }
    this.jobs.delete(id);
    return true;
  }

  /** The vertices an R v1 names (to re-create an allocation learned at sched-hello). */
  fromR(R: unknown): MatchResult {
    const ex = (R as { execution?: { R_lite?: { rank: string; children: Record<string, string> }[]; starttime?: number; expiration?: number } } | null)?.execution;
    if (!ex || !Array.isArray(ex.R_lite)) throw new FluxError(errno.EINVAL, 'invalid R');
    const vertices: number[] = [];
    const nodes = new Map<number, [number, number, boolean]>();
    for (const e of ex.R_lite) {
      for (const rank of decodeSet(e.rank)) {
        const n = this.g.nodeByRank.get(rank);
        if (n === undefined) throw new FluxError(errno.ENOENT, `rank ${rank} is not in the resource graph`);
        const want = new Map<string, Set<number>>();
        for (const [t, ids] of Object.entries(e.children)) want.set(t, new Set(decodeSet(ids)));
        let c = 0;
        let gp = 0;
        for (const x of this.g.subtree(n)) {
          const t = this.g.typeOf(x);
          if (want.get(t)?.has(this.g.id[x])) {
            vertices.push(x);
            if (t === 'core') c++;
            else if (t === 'gpu') gp++;
          }
        }
        nodes.set(n, [c, gp, false]);
      }
    }
    const start = Math.floor(Number(ex.starttime ?? 0));
    const exp = Number(ex.expiration ?? 0);
    return { vertices, nodes, start, end: exp > 0 && exp < GRAPH_END ? Math.ceil(exp) : Infinity };
  }

  /** R v1 of a match, keys in flux-sched's order (`version`, `execution`: `R_lite`, `nodelist`, `starttime`, `expiration`). */
  toR(m: { vertices: number[]; start: number; end: number }, withJgf = false): Record<string, unknown> {
    const byRank = new Map<number, { core: number[]; gpu: number[] }>();
    // host names from the nodes holding the vertices (a GRUG graph's nodes all have rank -1)
    const hostsOf = new Map<number, Set<string>>();
    for (const v of m.vertices) {
      const t = this.g.typeOf(v);
      if (t !== 'core' && t !== 'gpu') continue;
      const r = this.g.rank[v];
      const e = byRank.get(r) ?? { core: [], gpu: [] };
      e[t].push(this.g.id[v]);
      byRank.set(r, e);
      const host = this.g.hostnames.get(this.g.nodeOf(v));
      if (host !== undefined) hostsOf.set(r, (hostsOf.get(r) ?? new Set()).add(host));
    }
    const ranks = [...byRank.keys()].sort((a, b) => a - b);
    const groups = new Map<string, { ranks: number[]; children: Record<string, string> }>();
    for (const r of ranks) {
      const e = byRank.get(r)!;
      const children: Record<string, string> = {};
      if (e.core.length > 0) children.core = encodeIdset(e.core.sort((a, b) => a - b));
      if (e.gpu.length > 0) children.gpu = encodeIdset(e.gpu.sort((a, b) => a - b));
      const key = JSON.stringify(children);
      const gr = groups.get(key);
      if (gr) gr.ranks.push(r);
      else groups.set(key, { ranks: [r], children });
    }
    const hosts = ranks.flatMap((r) => [...(hostsOf.get(r) ?? [`node${r}`])]);
    const R: Record<string, unknown> = {
      version: 1,
      execution: {
        R_lite: [...groups.values()].map((gr) => ({ rank: encodeIdset(gr.ranks), children: gr.children })),
        nodelist: [encodeHostlist(hosts)],
        starttime: m.start,
        expiration: Number.isFinite(m.end) ? m.end : GRAPH_END,
      },
    };
    if (withJgf) R.scheduling = toJgf(this.g, m.vertices);
    return R;
  }
}

function decodeSet(s: string): number[] {
  const out: number[] = [];
  for (const part of String(s).split(',')) {
    if (part === '') continue;
    const [a, b] = part.split('-').map(Number);
    for (let i = a; i <= (b ?? a); i++) out.push(i);
  }
  return out;
}
