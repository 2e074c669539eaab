// The resource graph panel's data (extension/src/panels/resources-feed.ts) on a real 4-rank
// instance with jobs: the graph of the loaded scheduler (Fluxion's own, or R's), a running job's
// cores shown allocated to it, freed again when it is cancelled; the placement preview of a
// jobspec (now, must wait until a time, never); drained nodes with their reason, seen without
// being told (resource.eventlog), undrained again; an offline node (its broker killed).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Flux } from '../../broker/src/common/libflux/handle';
import { FluxError } from '../../broker/src/common/libflux/errno';
import { ResourcesFeed } from '../../extension/src/panels/resources-feed';
import { drainRanks, undrainRanks } from '../../extension/src/panels/resources-status';
import type { PlacementPreview, ResourceSnapshot } from '../../webviews/common/protocol';
import { flux, startInstance, type Instance } from './helpers';

let inst: Instance;

before(async () => {
  // A lost follower must not end the instance (the offline test kills one).
  inst = await startInstance(4, [], ['--test-exit-mode=leader']);
});

after(async () => {
  await inst?.stop();
});

function leaves(s: ResourceSnapshot): number[] {
  const inner = new Set(s.parent);
  return s.parent.map((_, v) => v).filter((v) => !inner.has(v));
}

test('a running job\'s cores are allocated to it in the graph; cancelled, they are free again', async () => {
  const snaps: ResourceSnapshot[] = [];
  let wake: () => void = () => {};
  const feed = new ResourcesFeed(inst.uri, { snapshot: (s) => { snaps.push(s); wake(); }, gone: (r) => assert.fail(r) });
  const next = async (cond: (s: ResourceSnapshot) => boolean, what: string): Promise<ResourceSnapshot> => {
    const t0 = Date.now();
    for (;;) {
      const s = snaps.find(cond);
      if (s) return s;
      if (Date.now() - t0 > 20_000) throw new Error(`${what}: not within 20 s (last: ${JSON.stringify(snaps.at(-1)?.state)})`);
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 500);
      });
    }
  };
  try {
    await feed.start();
    const first = await next(() => true, 'a first snapshot');
    assert.equal(first.type[0], 'cluster');
    assert.ok(first.type.filter((t) => t === 'node').length === 4, `4 nodes: ${first.type.join(',')}`);
    assert.ok(leaves(first).every((v) => first.state[v] === 'free'), 'nothing allocated yet');

    const sub = await flux(['submit', '-n2', 'sleep', '60'], inst.env);
    assert.equal(sub.status, 0, sub.stderr);
    const id = sub.stdout.trim();
    const busy = await next((s) => leaves(s).filter((v) => s.state[v] === 'allocated').length === 2, 'two cores allocated');
    const held = leaves(busy).filter((v) => busy.state[v] === 'allocated');
    for (const v of held) assert.equal(busy.jobs[v], id, `core ${busy.path[v]} held by ${id}`);

    const c = await flux(['cancel', id], inst.env);
    assert.equal(c.status, 0, c.stderr);
    snaps.length = 0;
    await next((s) => leaves(s).every((v) => s.state[v] !== 'allocated'), 'the cores freed');
  } finally {
    feed.stop();
  }
});

/** A feed on the instance and a way to wait for what it reports. */
function watchFeed(): {
  feed: ResourcesFeed;
  snap(cond: (s: ResourceSnapshot) => boolean, what: string): Promise<ResourceSnapshot>;
  preview(cond: (p: PlacementPreview | null) => boolean, what: string): Promise<PlacementPreview | null>;
  clear(): void;
} {
  const snaps: ResourceSnapshot[] = [];
  const previews: (PlacementPreview | null)[] = [];
  let wake: () => void = () => {};
  const feed = new ResourcesFeed(inst.uri, {
    snapshot: (s) => { snaps.push(s); wake(); },
    gone: (r) => assert.fail(r),
    preview: (p) => { previews.push(p); wake(); },
  });
  async function until<T>(list: T[], cond: (x: T) => boolean, what: string): Promise<T> {
    const t0 = Date.now();
    for (;;) {
      const i = list.findIndex(cond);
      if (i >= 0) return list[i];
      if (Date.now() - t0 > 20_000) throw new Error(`${what}: not within 20 s (last: ${JSON.stringify(list.at(-1))?.slice(0, 400)})`);
      // Woken by the feed's next report; the timer only bounds a wait for one that never comes.
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 1000);
      });
    }
  }
  return {
    feed,
    snap: (cond, what) => until(snaps, cond, what),
    preview: (cond, what) => until(previews, cond, what),
    clear: () => {
      snaps.length = 0;
      previews.length = 0;
    },
  };
}

/** A jobspec v1 of `n` one-core tasks (on `nodes` nodes, if given), limited to `duration` seconds. */
function jobspec(n: number, duration: number, nodes?: number): unknown {
  const slot = { type: 'slot', count: nodes ? 1 : n, label: 'task', with: [{ type: 'core', count: 1 }] };
  return {
    version: 1,
    resources: nodes ? [{ type: 'node', count: nodes, with: [slot] }] : [slot],
    tasks: [{ command: ['true'], slot: 'task', count: { per_slot: 1 } }],
    attributes: { system: { duration } },
  };
}

test('placement preview: where a jobspec would run now, from when it must wait, and that it never can', async () => {
  const w = watchFeed();
  try {
    await w.feed.start();
    const first = await w.snap(() => true, 'a first snapshot');
    assert.equal(first.source, 'fluxion', 'the preview needs Fluxion, loaded by default');
    const cores = first.parent.map((_, v) => v).filter((v) => first.type[v] === 'core');

    w.feed.setPreview({ jobspec: jobspec(2, 30), source: 'two.yaml' });
    const now = await w.preview((p) => p?.source === 'two.yaml', 'a preview of two cores');
    assert.equal(now?.kind, 'now', now?.message);
    assert.equal(now.vertices.length, 2, 'two cores highlighted');
    for (const v of now.vertices) {
      assert.equal(first.type[v], 'core');
      assert.equal(first.state[v], 'free', `${first.path[v]} is free`);
    }

    // Every core taken for 100 s: the same jobspec must wait, and the preview says until when.
    const sub = await flux(['submit', `-n${cores.length}`, '-t', '100s', 'sleep', '100'], inst.env);
    assert.equal(sub.status, 0, sub.stderr);
    const t0 = Date.now() / 1000;
    const later = await w.preview((p) => p?.kind === 'later', 'the preview recomputed once the cores are taken');
    assert.ok(later?.at !== undefined && later.at >= t0 + 90 && later.at <= t0 + 110, `start in about 100 s: ${later?.at} (now ${t0})`);
    assert.equal(later.vertices.length, 2, 'two reserved cores highlighted');
    assert.match(later.message, /must wait/);

    // More nodes than the instance has: never, with the scheduler's message.
    w.feed.setPreview({ jobspec: jobspec(1, 0, 64), source: 'big.json' });
    const never = await w.preview((p) => p?.source === 'big.json', 'a preview of 64 nodes');
    assert.equal(never?.kind, 'never', never?.message);
    assert.match(never.message, /never run here: .+/);

    // A jobspec the scheduler rejects: its error, not a crash of the feed.
    w.feed.setPreview({ jobspec: { version: 1, resources: [] }, source: 'empty.yaml' });
    const bad = await w.preview((p) => p?.source === 'empty.yaml', 'a preview of a jobspec without resources');
    assert.equal(bad?.kind, 'error');
    assert.ok(bad.message.length > 0);

    w.feed.setPreview(undefined);
    await w.preview((p) => p === null, 'the preview cleared');
    const c = await flux(['cancel', sub.stdout.trim()], inst.env);
    assert.equal(c.status, 0, c.stderr);
  } finally {
    w.feed.stop();
  }
});

test('under sched-simple the preview says plainly it needs Fluxion, with feasibility.check\'s yes or no', async () => {
  // A second instance whose modprobe picks sched-simple, as a site's modprobe.toml would.
  const conf = fs.mkdtempSync(path.join(os.tmpdir(), 'resources-feed-modprobe-'));
  fs.writeFileSync(path.join(conf, 'sched.toml'), '[alternatives]\nsched = "sched-simple"\nfeasibility = "sched-simple"\n');
  const saved = process.env.FLUX_MODPROBE_PATH;
  process.env.FLUX_MODPROBE_PATH = conf;
  let simple: Instance | undefined;
  try {
    simple = await startInstance(1);
  } finally {
    if (saved === undefined) delete process.env.FLUX_MODPROBE_PATH;
    else process.env.FLUX_MODPROBE_PATH = saved;
  }
  const previews: (PlacementPreview | null)[] = [];
  let snapshots = 0;
  let wake: () => void = () => {};
  const feed = new ResourcesFeed(simple.uri, {
    snapshot: () => { snapshots++; wake(); },
    gone: (r) => assert.fail(r),
    preview: (p) => { previews.push(p); wake(); },
  });
  const until = async (n: number): Promise<void> => {
    const t0 = Date.now();
    while (previews.length < n) {
      if (Date.now() - t0 > 20_000) throw new Error(`preview ${n} not within 20 s`);
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 1000);
      });
    }
  };
  try {
    await feed.start();
    assert.ok(snapshots > 0);
    feed.setPreview({ jobspec: jobspec(1, 0), source: 'one.yaml' });
    await until(1);
    assert.equal(previews[0]?.kind, 'unsupported');
    assert.match(previews[0].message, /not Fluxion.*can run/);
    assert.deepEqual(previews[0].vertices, []);
    feed.setPreview({ jobspec: jobspec(1, 0, 64), source: 'big.yaml' });
    await until(2);
    assert.equal(previews[1]?.kind, 'never');
    assert.match(previews[1].message, /feasibility\.check: .+/);
  } finally {
    feed.stop();
    await simple.stop();
    fs.rmSync(conf, { recursive: true, force: true });
  }
});

test('a drained node shows with its reason and time without the feed being told; undrained, it is gone', async () => {
  const w = watchFeed();
  const h = await Flux.open(inst.uri);
  try {
    await w.feed.start();
    const first = await w.snap(() => true, 'a first snapshot');
    assert.ok(first.ranks, 'resource.status answers');
    assert.deepEqual(Object.keys(first.ranks.drained), [], 'nothing drained yet');
    const t0 = Date.now() / 1000;
    // Drained on another connection (as `flux resource drain` would): the graph follows resource.eventlog.
    await drainRanks(h, [2], 'maintenance window');
    const drained = await w.snap((s) => s.ranks?.drained[2] !== undefined, 'rank 2 drained');
    assert.equal(drained.ranks?.drained[2].reason, 'maintenance window');
    assert.ok(Math.abs((drained.ranks?.drained[2].timestamp ?? 0) - t0) < 10, 'drained just now');

    // Drained twice without a mode: flux's own error.
    await assert.rejects(drainRanks(h, [2], 'again'), (e: unknown) => e instanceof FluxError && /already drained/.test(e.message));

    await undrainRanks(h, [2]);
    await w.snap((s) => s.ranks !== undefined && s.ranks.drained[2] === undefined, 'rank 2 undrained');
    await assert.rejects(undrainRanks(h, [2]), (e: unknown) => e instanceof FluxError && /not drained/.test(e.message));
  } finally {
    h.close();
    w.feed.stop();
  }
});

test('a node whose broker is gone shows offline', async () => {
  const w = watchFeed();
  const h = await Flux.open(inst.uri);
  try {
    await w.feed.start();
    const first = await w.snap(() => true, 'a first snapshot');
    assert.deepEqual(first.ranks?.offline, [], 'every rank online');
    const { value } = await h.rpc('attr.get', { name: 'broker.pid' }, { nodeid: 3 }).get<{ value: string }>();
    process.kill(Number(value), 'SIGKILL');
    const off = await w.snap((s) => s.ranks?.offline.includes(3) === true, 'rank 3 offline');
    assert.deepEqual(off.ranks?.offline, [3]);
  } finally {
    h.close();
    w.feed.stop();
  }
});
