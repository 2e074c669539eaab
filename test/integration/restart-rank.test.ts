// A broker killed (or lost) and started again joins its parent as a restarted flux-core broker
// does: `flux start`, forked with an IPC channel (as the extension forks it), starts the ranks it
// is asked to; a router comes back with its subtree.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Flux } from '../../broker/src/common/libflux/handle';
import { alive, startInstance, waitGone, type Instance } from './helpers';

let inst: Instance;
let h: Flux;

before(async () => {
  inst = await startInstance(4, ['tbon.topo=kary:2']);
  h = await Flux.open(inst.uri);
});

after(async () => {
  h?.close();
  const pids = await brokerPids().catch(() => [] as number[]);
  await inst?.stop();
  await waitGone([...inst.pids, ...pids]);
});

async function brokerPids(): Promise<number[]> {
  const out: number[] = [];
  for (let r = 0; r < 4; r++) out.push(Number((await h.rpc('attr.get', { name: 'broker.pid' }, { nodeid: r }).get<{ value: string }>()).value));
  return out;
}

/** Subtree status of `rank` as its parent reports it (overlay.health). */
async function statusOf(parent: number, rank: number): Promise<string> {
  const r = await h.rpc('overlay.health', undefined, { nodeid: parent }).get<{ children: { rank: number; status: string }[] }>();
  return r.children.find((c) => c.rank === rank)?.status ?? 'unknown';
}

async function until(what: string, cond: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const t0 = Date.now();
  while (!(await cond().catch(() => false))) {
    if (Date.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function restart(ranks: number[]): Promise<{ ranks: number[]; error?: string; pids: number[] }> {
  return new Promise((resolve) => {
    const onMsg = (m: { type?: string; ranks: number[]; error?: string; pids: number[] }): void => {
      if (m?.type !== 'restart-ranks') return;
      inst.launcher.off('message', onMsg);
      resolve(m);
    };
    inst.launcher.on('message', onMsg);
    inst.launcher.send({ type: 'restart-ranks', ranks });
  });
}

test('a killed leaf is lost, then restarted it rejoins and serves', async () => {
  const before = await brokerPids();
  process.kill(before[3], 'SIGKILL');
  await until('rank 3 lost', async () => (await statusOf(1, 3)) === 'lost');
  const r = await restart([3, 2]);
  assert.deepEqual(r.ranks, [3], 'only the rank that is down is started again');
  assert.equal(r.error, undefined);
  await until('rank 3 back', async () => (await statusOf(1, 3)) === 'full');
  const pid3 = Number((await h.rpc('attr.get', { name: 'broker.pid' }, { nodeid: 3 }).get<{ value: string }>()).value);
  assert.notEqual(pid3, before[3]);
  assert.ok(alive(pid3));
  // Its modules are loaded again by rc1: the KVS answers there.
  await until('kvs on rank 3', async () => {
    await h.rpc('kvs.getroot', { namespace: 'primary' }, { nodeid: 3 }).get();
    return true;
  });
});

test('a killed router takes its subtree; both come back', async () => {
  const before = await brokerPids();
  process.kill(before[1], 'SIGKILL');
  await until('rank 1 lost', async () => (await statusOf(0, 1)) === 'lost');
  await waitGone([before[3]]); // cut off from its parent, rank 3 exits
  const r = await restart([1, 3]);
  assert.deepEqual(r.ranks, [1, 3]);
  await until('ranks 1 and 3 back', async () => (await statusOf(0, 1)) === 'full' && (await statusOf(1, 3)) === 'full');
});

test('a launcher told to detach outlives its parent\'s channel: the instance runs on until flux shutdown', async () => {
  const other = await startInstance(2);
  try {
    const detached = new Promise<void>((resolve) => other.launcher.on('message', (m: { type?: string }) => {
      if (m?.type === 'detached') resolve();
    }));
    other.launcher.send({ type: 'detach' });
    await detached;
    other.launcher.disconnect(); // what the extension host's exit does
    await new Promise((r) => setTimeout(r, 1500));
    const h2 = await Flux.open(other.uri);
    try {
      assert.equal(await h2.getattr('size'), '2', 'still serving after the channel closed');
      await h2.rpc('shutdown.start', { loglevel: 6 }, { nodeid: 0 }).get();
    } finally {
      h2.close();
    }
    await waitGone(other.pids);
  } finally {
    for (const pid of other.pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
});
