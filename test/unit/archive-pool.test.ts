/** libfilemap/pool.ts: the semaphore and ordered pool that let `flux archive` overlap its round trips. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Limiter, runOrdered } from '../../broker/src/common/libfilemap/pool';

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

test('Limiter: at most the limit in use, first come first served, oversize requests take it all', async () => {
  const l = new Limiter(10);
  const order: string[] = [];
  await l.acquire(6);
  const a = l.acquire(6).then(() => order.push('a'));
  const b = l.acquire(2).then(() => order.push('b'));
  await tick();
  assert.equal(order.length, 0, 'b waits behind a even though it would fit');
  l.release(6);
  await a;
  await b;
  assert.deepEqual(order, ['a', 'b']);
  l.release(6);
  l.release(2);
  await l.acquire(100); // more than the limit: waits for everything, then holds it all
  const c = l.acquire(1).then(() => order.push('c'));
  await tick();
  assert.deepEqual(order, ['a', 'b']);
  l.release(100);
  await c;
});

test('runOrdered: bounded width, started in order, the lowest failing index is thrown', async () => {
  let running = 0;
  let peak = 0;
  const started: number[] = [];
  await runOrdered(20, 4, async (i) => {
    started.push(i);
    running++;
    peak = Math.max(peak, running);
    await new Promise((r) => setTimeout(r, (i * 7) % 5));
    running--;
  });
  assert.deepEqual(started, [...Array(20).keys()]);
  assert.equal(peak, 4);
  const ran: number[] = [];
  await assert.rejects(runOrdered(50, 3, async (i) => {
    ran.push(i);
    await new Promise((r) => setTimeout(r, i === 2 ? 20 : 1));
    if (i === 2 || i === 3) throw new Error(`task ${i}`);
  }), /task 2/);
  assert.ok(ran.length < 50, 'no new task starts after a failure');
  await runOrdered(0, 4, () => Promise.reject(new Error('never')));
});
