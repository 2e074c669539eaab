// The resource graph panel's data (extension/src/panels/resources-feed.ts) on a real 4-rank
// instance with jobs: the graph of the loaded scheduler (Fluxion's own, or R's), a running job's
// cores shown allocated to it, freed again when it is cancelled.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ResourcesFeed } from '../../extension/src/panels/resources-feed';
import type { ResourceSnapshot } from '../../webviews/common/protocol';
import { flux, startInstance, type Instance } from './helpers';

let inst: Instance;

before(async () => {
  inst = await startInstance(4);
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
