// The TBON panel's data (extension/src/panels/tbon-feed.ts) against a real 4-rank kary:2 tree:
// the shape, host names, every rank online, modules on hover, and a killed router seen lost
// with its subtree, as flux overlay status reports it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Flux } from '../../broker/src/common/libflux/handle';
import { TbonFeed } from '../../extension/src/panels/tbon-feed';
import type { StatusChange, SubtreeStatus, TbonSnapshot } from '../../webviews/common/protocol';
import { startInstance, waitGone, type Instance } from './helpers';

let inst: Instance;
const pids: number[] = [];

before(async () => {
  inst = await startInstance(4, ['tbon.topo=kary:2']);
  const h = await Flux.open(inst.uri);
  for (let r = 0; r < 4; r++) pids.push(Number((await h.rpc('attr.get', { name: 'broker.pid' }, { nodeid: r }).get<{ value: string }>()).value));
  h.close();
});

after(async () => {
  await inst?.stop();
  await waitGone(pids);
});

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms).unref())]);
}

test('the feed sends the tree, then follows a killed router and its subtree going lost', async () => {
  let snapshot: TbonSnapshot | undefined;
  const status: SubtreeStatus[] = [];
  const changes: StatusChange[][] = [];
  let onChange: (() => void) | undefined;
  const feed = new TbonFeed(inst.uri, {
    snapshot: (s) => {
      snapshot = s;
      status.push(...s.status);
    },
    changes: (c) => {
      changes.push(c);
      for (const x of c) status[x.rank] = x.status;
      onChange?.();
    },
    gone: () => {},
  });
  try {
    await within(feed.start(), 15_000, 'snapshot');
    assert.ok(snapshot);
    assert.deepEqual(snapshot.parents, [-1, 0, 0, 1]);
    assert.deepEqual(snapshot.status, ['full', 'full', 'full', 'full']);
    assert.equal(snapshot.hosts.length, 4);
    assert.ok(snapshot.hosts.every((x) => x.length > 0), `hosts ${JSON.stringify(snapshot.hosts)}`);
    const mods = await feed.modules(3);
    assert.ok(mods.includes('kvs') && mods.includes('content'), `modules on rank 3: ${mods.join(',')}`);

    // Rank 1 routes for rank 3: killing it loses both.
    const lost = new Promise<void>((resolve) => {
      onChange = () => {
        if (status[1] === 'lost' && status[3] === 'lost') resolve();
      };
    });
    process.kill(pids[1], 'SIGKILL');
    await within(lost, 20_000, 'ranks 1 and 3 lost');
    assert.equal(status[2], 'full');
    assert.notEqual(status[0], 'full', `rank 0's subtree is no longer full: ${status[0]}`);
    assert.ok(changes.flat().some((c) => c.rank === 3 && c.status === 'lost'));
  } finally {
    feed.stop();
  }
});
