/**
 * Pure planning for flux-modprobe: which modules (and rc-file tasks) to act
 * on for a request, and in what order. A request names modules, tasks or
 * services; a service resolves to the module chosen for it (an explicit
 * alternative, else the provider with the highest priority, the last
 * configured one on ties). `requires` pulls more modules in; `ranks`,
 * `needs`, `needs-attrs` and `needs-config` drop some out; `after` and
 * `before` order them. The result is a predecessor map that the runner
 * executes with as much parallelism as it allows.
 */
import { decodeIdset } from '../libidset/idset';
import type { ModprobeConfig, ModuleEntry } from './config';

/** One thing to run: a module load/remove, or a task from an rc file. */
export interface PlanNode {
  name: string;
  kind: 'module' | 'task';
  entry?: ModuleEntry;
  ranks?: string;
  requires: string[];
  after: string[];
  before: string[];
  needs: string[];
  needsAttrs: string[];
  needsConfig: string[];
}

export interface PlanContext {
  rank: number;
  /** A broker attribute, undefined when unset. */
  attr(name: string): string | undefined;
  /** A configuration value by dotted key, undefined when unset. */
  config(key: string): unknown;
}

export class ModprobeError extends Error {}

export function rankMatches(spec: string | undefined, rank: number): boolean {
  if (spec === undefined || spec === '' || spec === 'all') return true;
  const m = /^([<>])\s*(\d+)$/.exec(spec);
  if (m) return m[1] === '>' ? rank > Number(m[2]) : rank < Number(m[2]);
  try {
    return decodeIdset(spec).includes(rank);
  } catch {
    throw new ModprobeError(`invalid ranks '${spec}'`);
  }
}

export function moduleNode(e: ModuleEntry): PlanNode {
  return { name: e.name, kind: 'module', entry: e, ranks: e.ranks, requires: e.requires, after: e.after, before: e.before, needs: e.needs, needsAttrs: e.needsAttrs, needsConfig: e.needsConfig };
}

export class Planner {
  private readonly tasks = new Map<string, PlanNode>();

  constructor(private readonly cfg: ModprobeConfig) {}

  addTask(t: PlanNode): void {
    this.tasks.set(t.name, t);
  }

  taskNames(): string[] {
    return [...this.tasks.keys()];
  }

  /** The node a name stands for (module, task, or the module chosen for a service). */
  resolve(name: string): PlanNode | undefined {
    if (this.cfg.disabled.has(name)) return undefined;
    const task = this.tasks.get(name);
    if (task) return task;
    const direct = this.cfg.entries.get(name);
    if (direct) return moduleNode(direct);
    const alt = this.cfg.alternatives.get(name);
    if (alt !== undefined) {
      const e = this.cfg.entries.get(alt);
      if (!e) throw new ModprobeError(`alternative for ${name}: no such module '${alt}'`);
      return this.cfg.disabled.has(alt) ? undefined : moduleNode(e);
    }
    const providers = this.cfg.order
      .map((n, i) => ({ e: this.cfg.entries.get(n)!, i }))
      .filter(({ e }) => e.provides.includes(name) && !this.cfg.disabled.has(e.name))
      .sort((a, b) => a.e.priority - b.e.priority || a.i - b.i);
    const chosen = providers.at(-1);
    return chosen ? moduleNode(chosen.e) : undefined;
  }

  /** Whether some configured module or task has this name or provides this service. */
  known(name: string): boolean {
    if (this.tasks.has(name) || this.cfg.entries.has(name) || this.cfg.alternatives.has(name)) return true;
    for (const e of this.cfg.entries.values()) if (e.provides.includes(name)) return true;
    return false;
  }

  /**
   * Everything to load for `names` on this rank, as name → names it must wait
   * for. `skipUnknown` (rc1's fixed list) skips names nothing provides.
   */
  planLoad(names: string[], ctx: PlanContext, skipUnknown = false): Map<string, string[]> {
    const chosen = new Map<string, PlanNode>();
    const queue = [...names];
    while (queue.length > 0) {
      const n = queue.shift()!;
      const node = this.resolve(n);
      if (!node) {
        if (skipUnknown || this.cfg.disabled.has(n) || this.known(n)) continue;
        throw new ModprobeError(`no such module or task: ${n}`);
      }
      if (chosen.has(node.name)) continue;
      chosen.set(node.name, node);
      queue.push(...node.requires);
    }
    // Drop what does not belong on this rank or lacks what it needs, until stable.
    for (const [name, node] of chosen) {
      if (!rankMatches(node.ranks, ctx.rank)) chosen.delete(name);
      else if (node.needsAttrs.some((a) => !ctx.attr(a))) chosen.delete(name);
      else if (node.needsConfig.some((k) => ctx.config(k) === undefined || ctx.config(k) === false)) chosen.delete(name);
    }
    let dropped = true;
    while (dropped) {
      dropped = false;
      for (const [name, node] of chosen) {
        if (node.needs.some((n) => !this.inSet(n, chosen))) {
          chosen.delete(name);
          dropped = true;
        }
      }
    }
    return this.order(chosen);
  }

  /**
   * Predecessors for removing `loaded` modules: the reverse of their load order.
   * Tasks (rc3's, or an rc file's) keep their before/after as written, in execution
   * order: `before: ["kvs"]` runs before kvs is removed. With `ctx`, tasks for other
   * ranks and tasks whose needs are not loaded are left out.
   */
  planRemove(loaded: string[], ctx?: PlanContext): Map<string, string[]> {
    const mods = new Map<string, PlanNode>();
    for (const n of loaded) {
      const e = this.cfg.entries.get(n);
      if (e) mods.set(n, moduleNode(e));
    }
    const forward = this.order(mods);
    const plan = new Map<string, string[]>();
    for (const n of forward.keys()) plan.set(n, []);
    for (const [n, preds] of forward) for (const p of preds) plan.get(p)!.push(n);
    const tasks = [...this.tasks.values()].filter((t) => !ctx || (rankMatches(t.ranks, ctx.rank)
      && t.needsAttrs.every((a) => ctx.attr(a)) && t.needs.every((n) => mods.has(this.resolve(n)?.name ?? n))));
    for (const t of tasks) plan.set(t.name, []);
    const target = (ref: string): string[] => {
      if (ref === '*') return [...plan.keys()];
      const name = this.resolve(ref)?.name ?? ref;
      return plan.has(name) ? [name] : [];
    };
    for (const t of tasks) {
      for (const a of t.after) for (const x of target(a)) if (x !== t.name) plan.get(t.name)!.push(x);
      for (const b of t.before) for (const x of target(b)) if (x !== t.name) plan.get(x)!.push(t.name);
    }
    checkAcyclic(plan);
    return plan;
  }

  /** Names of loaded modules that require (directly or not) any of `names`: removed with them. */
  dependants(names: string[], loaded: string[]): string[] {
    const out = new Set(names.map((n) => this.resolve(n)?.name ?? n));
    let grew = true;
    while (grew) {
      grew = false;
      for (const l of loaded) {
        if (out.has(l)) continue;
        const e = this.cfg.entries.get(l);
        if (e && e.requires.some((r) => out.has(this.resolve(r)?.name ?? r))) {
          out.add(l);
          grew = true;
        }
      }
    }
    return [...out];
  }

  private inSet(name: string, set: Map<string, PlanNode>): boolean {
    const node = this.resolve(name);
    return node !== undefined && set.has(node.name);
  }

  /** Turn after/before into a predecessor map; a cycle is an error. */
  private order(set: Map<string, PlanNode>): Map<string, string[]> {
    const preds = new Map<string, Set<string>>();
    for (const n of set.keys()) preds.set(n, new Set());
    const target = (ref: string): string[] => {
      if (ref === '*') return [...set.keys()];
      const node = this.resolve(ref);
      return node && set.has(node.name) ? [node.name] : [];
    };
    for (const node of set.values()) {
      for (const a of node.after) for (const t of target(a)) if (t !== node.name && !(a === '*' && set.get(t)!.after.includes('*'))) preds.get(node.name)!.add(t);
      for (const b of node.before) for (const t of target(b)) if (t !== node.name && !(b === '*' && set.get(t)!.before.includes('*'))) preds.get(t)!.add(node.name);
    }
    // `after: ["*"]` must not wait for nodes that themselves come before everything.
    const out = new Map<string, string[]>();
    for (const [n, p] of preds) out.set(n, [...p]);
    checkAcyclic(out);
    return out;
  }
}

export function checkAcyclic(deps: Map<string, string[]>): void {
  const state = new Map<string, 1 | 2>();
  const visit = (n: string, trail: string[]): void => {
    const s = state.get(n);
    if (s === 2) return;
    if (s === 1) throw new ModprobeError(`dependency cycle: ${[...trail, n].join(' -> ')}`);
    state.set(n, 1);
    for (const p of deps.get(n) ?? []) visit(p, [...trail, n]);
    state.set(n, 2);
  };
  for (const n of deps.keys()) visit(n, []);
}

/**
 * Run every node once its predecessors are done, as many at a time as the
 * graph allows. A failed node's dependants are skipped. Resolves with the
 * names that failed.
 */
export async function runPlan(deps: Map<string, string[]>, exec: (name: string) => Promise<void>, onError: (name: string, e: unknown) => void): Promise<string[]> {
  const done = new Set<string>();
  const failed = new Set<string>();
  const started = new Set<string>();
  return new Promise((resolve) => {
    let running = 0;
    const pump = (): void => {
      for (const [n, preds] of deps) {
        if (started.has(n)) continue;
        if (preds.some((p) => failed.has(p))) {
          started.add(n);
          failed.add(n);
          onError(n, new ModprobeError(`skipped: ${preds.filter((p) => failed.has(p)).join(',')} failed`));
          continue;
        }
        if (!preds.every((p) => done.has(p))) continue;
        started.add(n);
        running++;
        exec(n).then(
          () => done.add(n),
          (e: unknown) => {
            failed.add(n);
            onError(n, e);
          },
        ).finally(() => {
          running--;
          pump();
        });
      }
      if (running === 0 && started.size === deps.size) resolve([...failed]);
      else if (running === 0) {
        // Only reachable through a skipped chain: loop once more to settle it.
        queueMicrotask(pump);
      }
    };
    pump();
  });
}
