import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addEntry, applyToml, emptyConfig, makeEntry, type ModprobeConfig } from '../../broker/src/common/libmodprobe/config';
import { Planner, rankMatches, runPlan, type PlanContext } from '../../broker/src/common/libmodprobe/solve';

/** flux-core's modprobe.toml, in the part that matters for ordering and alternatives. */
function fluxCoreLike(): ModprobeConfig {
  const cfg = emptyConfig();
  applyToml(cfg, {
    modules: [
      { name: 'heartbeat' },
      { name: 'content', requires: ['heartbeat', 'content-backing'] },
      { name: 'content-files', ranks: '0', after: ['content'], provides: ['content-backing'] },
      { name: 'content-sqlite', ranks: '0', after: ['content'], provides: ['content-backing'] },
      { name: 'kvs', after: ['content-backing', 'content'], requires: ['content', 'heartbeat'] },
      { name: 'sched-simple', provides: ['sched', 'feasibility'], ranks: '0', priority: 50, requires: ['kvs'], after: ['kvs'] },
      { name: 'sched-fifo', provides: ['sched', 'feasibility'], ranks: '0', priority: 40, requires: ['kvs'], after: ['kvs'] },
    ],
  }, 'test');
  return cfg;
}

const ctx = (rank: number, attrs: Record<string, string> = {}): PlanContext => ({ rank, attr: (n) => attrs[n], config: () => undefined });

/** One valid order of a predecessor map (for asserting before/after). */
function linear(plan: Map<string, string[]>): string[] {
  const out: string[] = [];
  const left = new Map(plan);
  while (left.size > 0) {
    const ready = [...left].filter(([, p]) => p.every((x) => out.includes(x))).map(([n]) => n).sort();
    assert.ok(ready.length > 0, 'plan has no runnable node');
    out.push(ready[0]);
    left.delete(ready[0]);
  }
  return out;
}

test('services resolve to the highest-priority provider, the later one on ties, or an alternative', () => {
  const cfg = fluxCoreLike();
  const p = new Planner(cfg);
  assert.equal(p.resolve('content-backing')?.name, 'content-sqlite');
  assert.equal(p.resolve('sched')?.name, 'sched-simple');
  cfg.alternatives.set('sched', 'sched-fifo');
  assert.equal(p.resolve('sched')?.name, 'sched-fifo');
  cfg.disabled.add('sched-fifo');
  assert.equal(p.resolve('sched'), undefined);
});

test('a load plan pulls in requirements, keeps rank placement and orders by after', () => {
  const p = new Planner(fluxCoreLike());
  // `requires` only pulls modules in; `after` orders them (heartbeat has no ordering constraint).
  const plan = p.planLoad(['kvs', 'sched'], ctx(0));
  assert.deepEqual([...plan.keys()].sort(), ['content', 'content-sqlite', 'heartbeat', 'kvs', 'sched-simple']);
  assert.deepEqual(plan.get('heartbeat'), []);
  assert.deepEqual(plan.get('content-sqlite'), ['content']);
  assert.deepEqual(plan.get('kvs')?.sort(), ['content', 'content-sqlite']);
  assert.deepEqual(plan.get('sched-simple'), ['kvs']);
  // On rank 1 the rank-0-only modules drop out, and kvs still follows content.
  const r1 = p.planLoad(['kvs', 'sched'], ctx(1));
  assert.deepEqual([...r1.keys()].sort(), ['content', 'heartbeat', 'kvs']);
  assert.deepEqual(r1.get('kvs'), ['content']);
});

test('unknown names are an error, except in rc1 lists; needs and needs-attrs drop modules', () => {
  const cfg = fluxCoreLike();
  addEntry(cfg, makeEntry({ name: 'watcher', needs: ['missing-thing'] }, 't'));
  addEntry(cfg, makeEntry({ name: 'restore', 'needs-attrs': ['content.restore'] }, 't'));
  const p = new Planner(cfg);
  assert.throws(() => p.planLoad(['nosuch'], ctx(0)), /no such module or task: nosuch/);
  assert.deepEqual([...p.planLoad(['nosuch', 'heartbeat'], ctx(0), true).keys()], ['heartbeat']);
  assert.deepEqual([...p.planLoad(['watcher', 'restore'], ctx(0)).keys()], []);
  assert.deepEqual([...p.planLoad(['restore'], ctx(0, { 'content.restore': 'auto' })).keys()], ['restore']);
});

test('remove plans run in reverse; dependants go with what they require', () => {
  const p = new Planner(fluxCoreLike());
  const loaded = ['heartbeat', 'content', 'content-sqlite', 'kvs', 'sched-simple'];
  const order = linear(p.planRemove(loaded));
  const at = (n: string): number => order.indexOf(n);
  assert.ok(at('sched-simple') < at('kvs') && at('kvs') < at('content-sqlite') && at('content-sqlite') < at('content'), order.join(','));
  assert.deepEqual(p.dependants(['content'], loaded).sort(), ['content', 'kvs', 'sched-simple']);
});

test('after "*" waits for everything else; cycles are refused', () => {
  const cfg = fluxCoreLike();
  const p = new Planner(cfg);
  p.addTask({ name: 'last', kind: 'task', requires: [], after: ['*'], before: [], needs: [], needsAttrs: [], needsConfig: [] });
  const order = linear(p.planLoad(['kvs', 'last'], ctx(0)));
  assert.equal(order.at(-1), 'last');
  addEntry(cfg, makeEntry({ name: 'a', after: ['b'] }, 't'));
  addEntry(cfg, makeEntry({ name: 'b', after: ['a'] }, 't'));
  assert.throws(() => new Planner(cfg).planLoad(['a', 'b'], ctx(0)), /dependency cycle/);
});

test('rank specs: idsets, >N and <N', () => {
  assert.equal(rankMatches(undefined, 7), true);
  assert.equal(rankMatches('0', 0), true);
  assert.equal(rankMatches('0', 1), false);
  assert.equal(rankMatches('1-3,7', 7), true);
  assert.equal(rankMatches('>0', 0), false);
  assert.equal(rankMatches('>0', 5), true);
  assert.equal(rankMatches('<2', 1), true);
  assert.throws(() => rankMatches('x', 1), /invalid ranks 'x'/);
});

test('TOML entries are checked; [NAME] tables update an entry', () => {
  const cfg = fluxCoreLike();
  assert.throws(() => applyToml(cfg, { modules: [{ module: 'x' }] }, 'f.toml'), /missing required key 'name'/);
  assert.throws(() => applyToml(cfg, { modules: [{ name: 'x', colour: 'red' }] }, 'f.toml'), /unknown key 'colour'/);
  applyToml(cfg, { 'sched-simple': { ranks: '0,1' } }, 'f.toml');
  assert.equal(cfg.entries.get('sched-simple')?.ranks, '0,1');
  assert.throws(() => applyToml(cfg, { nosuch: { ranks: '0' } }, 'f.toml'), /nosuch: no such module to update/);
});

test('runPlan runs independent steps together and skips dependants of a failure', async () => {
  const plan = new Map([['a', []], ['b', []], ['c', ['a']], ['d', ['c']]]);
  const started: string[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const errors: string[] = [];
  const failed = await runPlan(plan, async (n) => {
    started.push(n);
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await new Promise((r) => setImmediate(r));
    inFlight--;
    if (n === 'c') throw new Error('boom');
  }, (n, e) => errors.push(`${n}: ${(e as Error).message}`));
  assert.equal(maxInFlight, 2);
  assert.deepEqual(started.sort(), ['a', 'b', 'c']);
  assert.deepEqual(failed.sort(), ['c', 'd']);
  assert.deepEqual(errors, ['c: boom', 'd: skipped: c failed']);
});
