/**
 * flux-modprobe's actions against one broker: rc1 (load this rank's module
 * set), rc3 (remove every configured module that is loaded, in reverse
 * order), load and remove of named modules with their dependencies. The
 * same code runs in `flux modprobe` (over a client handle) and inside the
 * broker for the default `broker.rc1_path` (over the broker's own RPC), so
 * start-up does not pay for a process per rank.
 */
import { loadConfig, RC1_MODULES, RC1_SCHED, type ModprobeConfig } from './config';
import { ModprobeError, Planner, runPlan, type PlanContext, type PlanNode } from './solve';
import { postStartlogEvent } from '../libkvs/startlog';

/** An RPC to the broker being configured; resolves with the JSON response. */
export type BrokerCall = (topic: string, payload: Record<string, unknown>) => Promise<Record<string, unknown>>;

export interface ModprobeOptions {
  call: BrokerCall;
  rank: number;
  env?: NodeJS.ProcessEnv;
  dryRun?: boolean;
  verbose?: boolean;
  /** Where progress and errors go (stdout-like, stderr-like). */
  out?: (line: string) => void;
  err?: (line: string) => void;
}

export class Modprobe {
  readonly planner: Planner;
  private attrs = new Map<string, string | undefined>();
  /** Tasks this build implements itself (the start log), by name. */
  private readonly builtinTasks = new Map<string, (name: string) => Promise<void>>();
  /** Runs an rc-file task by name (`flux modprobe run FILE.py`). */
  private runTask: (name: string) => Promise<void> = async (name) => {
    throw new ModprobeError(`${name}: no rc file to run it`);
  };
  private readonly out: (s: string) => void;
  private readonly err: (s: string) => void;
  exitcode = 0;

  private constructor(readonly cfg: ModprobeConfig, private readonly o: ModprobeOptions) {
    this.planner = new Planner(cfg);
    this.out = o.out ?? ((s) => process.stdout.write(s + '\n'));
    this.err = o.err ?? ((s) => process.stderr.write(s + '\n'));
  }

  static async create(o: ModprobeOptions, extraFile?: string): Promise<Modprobe> {
    return new Modprobe(await loadConfig(o.env ?? process.env, extraFile), o);
  }

  /** Broker attributes the plan depends on, fetched once. */
  async attrGet(name: string): Promise<string | undefined> {
    if (this.attrs.has(name)) return this.attrs.get(name);
    let v: string | undefined;
    try {
      const r = await this.o.call('attr.get', { name });
      v = typeof r.value === 'string' ? r.value : undefined;
    } catch {
      v = undefined;
    }
    this.attrs.set(name, v);
    return v;
  }

  private async context(names: string[]): Promise<PlanContext> {
    // Pre-fetch every attribute any candidate might test, so planning stays synchronous.
    const wanted = new Set<string>();
    for (const e of this.cfg.entries.values()) for (const a of e.needsAttrs) wanted.add(a);
    for (const n of names) for (const a of this.planner.resolve(n)?.needsAttrs ?? []) wanted.add(a);
    await Promise.all([...wanted].map((a) => this.attrGet(a)));
    return { rank: this.o.rank, attr: (a) => this.attrs.get(a), config: () => undefined };
  }

  async loadedModules(): Promise<string[]> {
    const r = await this.o.call('module.list', {});
    const mods = Array.isArray(r.mods) ? (r.mods as { name?: unknown; path?: unknown }[]) : [];
    return mods.filter((m) => m.path !== 'builtin' && typeof m.name === 'string').map((m) => m.name as string);
  }

  /**
   * Tasks of flux-core's rc1.py/rc3.py that this build runs itself: the start log
   * (`admin.eventlog`) gets `start` once the KVS is up and `finish` before it goes.
   */
  private addStartlogTasks(which: 'rc1' | 'rc3'): void {
    const task = (name: string, extra: Partial<PlanNode>): void => this.planner.addTask({
      name, kind: 'task', ranks: '0', requires: [], after: [], before: [], needs: [], needsAttrs: [], needsConfig: [], ...extra,
    });
    if (which === 'rc1') {
      task('post-start-event', { requires: ['kvs'], after: ['content-backing', 'kvs'], needs: ['content-backing', 'kvs'] });
      this.builtinTasks.set('post-start-event', () => postStartlogEvent(this.o.call, 'start'));
    } else {
      task('post-finish-event', { before: ['kvs'], needs: ['kvs'] });
      this.builtinTasks.set('post-finish-event', () => postStartlogEvent(this.o.call, 'finish'));
    }
  }

  /** rc1: this rank's share of flux-core's rc1 module list, plus rc-file tasks. */
  async rc1(): Promise<number> {
    this.addStartlogTasks('rc1');
    const env = this.o.env ?? process.env;
    const backing = await this.attrGet('content.backing-module');
    if (backing) this.cfg.alternatives.set('content-backing', backing);
    const names = [...RC1_MODULES, ...(env.FLUX_SCHED_MODULE === 'none' ? [] : RC1_SCHED), ...this.planner.taskNames()];
    return this.execute(this.planner.planLoad(names, await this.context(names), true), 'load');
  }

  /** rc3: remove every configured module loaded here, leaves of the dependency graph first. */
  async rc3(): Promise<number> {
    this.addStartlogTasks('rc3');
    const loaded = await this.loadedModules();
    return this.execute(this.planner.planRemove(loaded, await this.context([])), 'remove');
  }

  /** Load modules (and what they require) that are not loaded yet. */
  async load(names: string[]): Promise<number> {
    const plan = await this.withoutLoaded(this.planner.planLoad(names, await this.context(names)));
    if (plan.size === 0) {
      this.err('flux-modprobe: All modules and dependencies are already loaded');
      return 0;
    }
    return this.execute(plan, 'load');
  }

  /** Drop modules that are already loaded from a load plan (they count as done). */
  private async withoutLoaded(plan: Map<string, string[]>): Promise<Map<string, string[]>> {
    const loaded = new Set(await this.loadedModules());
    for (const n of [...plan.keys()]) {
      if (!loaded.has(n)) continue;
      plan.delete(n);
      for (const [k, preds] of plan) plan.set(k, preds.filter((p) => p !== n));
    }
    return plan;
  }

  /** Remove modules and the loaded modules that require them. */
  async remove(names: string[]): Promise<number> {
    const loaded = await this.loadedModules();
    for (const n of names) {
      const node = this.planner.resolve(n);
      if (!loaded.includes(node?.name ?? n)) throw new ModprobeError(`${n}: module is not loaded`);
    }
    const targets = this.planner.dependants(names, loaded);
    const reverse = this.planner.planRemove(targets);
    for (const n of [...reverse.keys()]) if (!targets.includes(n)) reverse.delete(n);
    for (const [n, preds] of reverse) reverse.set(n, preds.filter((p) => reverse.has(p)));
    return this.execute(reverse, 'remove');
  }

  /** The plan for an rc file's requests: its tasks plus the modules it loads, or removes. */
  async planFor(toLoad: string[], toRemove: string[], removeAll: boolean): Promise<Map<string, string[]>> {
    if (removeAll || toRemove.length > 0) {
      const loaded = await this.loadedModules();
      const targets = removeAll ? loaded : this.planner.dependants(toRemove, loaded);
      return this.planner.planRemove(targets.filter((t) => loaded.includes(t)));
    }
    const names = [...toLoad, ...this.planner.taskNames()];
    return this.withoutLoaded(this.planner.planLoad(names, await this.context(names)));
  }

  /** Run an rc file's plan; `runTask` runs one of its tasks. */
  async runFile(toLoad: string[], toRemove: string[], removeAll: boolean, runTask: (name: string) => Promise<void>): Promise<number> {
    this.runTask = runTask;
    const remove = removeAll || toRemove.length > 0;
    return this.execute(await this.planFor(toLoad, toRemove, removeAll), remove ? 'remove' : 'load');
  }

  private async execute(plan: Map<string, string[]>, op: 'load' | 'remove'): Promise<number> {
    const failed = await runPlan(plan, (name) => this.step(name, op), (name, e) => {
      const what = this.planner.resolve(name)?.kind === 'task' ? 'task' : op;
      this.err(`flux-modprobe: ${what} ${name}: ${e instanceof Error ? e.message : String(e)}`);
    });
    if (failed.length > 0) this.exitcode = 1;
    return this.exitcode;
  }

  private async step(name: string, op: 'load' | 'remove'): Promise<void> {
    const node = this.planner.resolve(name);
    if (node?.kind === 'task') {
      if (this.o.verbose || this.o.dryRun) this.out(`run ${name}`);
      if (!this.o.dryRun) await (this.builtinTasks.get(name) ?? this.runTask)(name);
      return;
    }
    const e = this.cfg.entries.get(name);
    if (!e) throw new ModprobeError(`no such module: ${name}`);
    if (op === 'load') {
      if (this.o.verbose || this.o.dryRun) this.out(`load ${e.name}${e.args.length ? ' ' + e.args.join(' ') : ''}`);
      if (this.o.dryRun) return;
      const req: Record<string, unknown> = { path: e.module, args: e.args };
      if (e.module !== e.name) req.name = e.name;
      if (e.exec) req.exec = true;
      await this.o.call('module.load', req);
    } else {
      if (this.o.verbose || this.o.dryRun) this.out(`remove ${e.name}`);
      if (this.o.dryRun) return;
      await this.o.call('module.remove', { name: e.name });
    }
  }
}

export { ModprobeError };
