// A broker that has grown starts its subprocesses from a small spawner process (fork(2) from a
// broker with a large heap is slow): it is a child of the broker, serves flux exec and jobs,
// survives nothing (a spawner killed takes its running children with it, reported killed; the
// next spawn forks a new one) and leaves with the broker. With FLUX_SPAWNER_RSS_MIB set above the
// broker's size, it spawns by itself.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { spawn } from 'node:child_process';
import { Flux } from '../../broker/src/common/libflux/handle';
import { FLUX, alive, flux, startInstance, waitGone, type Instance } from './helpers';

let inst: Instance;
let h: Flux;

before(async () => {
  inst = await startInstance(2);
  h = await Flux.open(inst.uri);
});

after(async () => {
  h?.close();
  await inst?.stop();
});

async function brokerPid(rank: number): Promise<number> {
  return Number((await h.rpc('attr.get', { name: 'broker.pid' }, { nodeid: rank }).get<{ value: string }>()).value);
}

/** Children of `ppid` running dist/spawner.js, from /proc. */
function spawnersOf(ppid: number): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (parent !== ppid) continue;
      if (fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').some((a) => a.endsWith('dist/spawner.js'))) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

test('flux exec and jobs run through one spawner per broker, a child of the broker, forked at the first spawn', async () => {
  for (const rank of [0, 1]) assert.deepEqual(spawnersOf(await brokerPid(rank)), [], `rank ${rank}: no spawner before anything ran`);
  const r = await flux(['exec', '-r', 'all', '-l', 'sh', '-c', 'echo $PPID'], inst.env);
  assert.equal(r.status, 0, r.stderr);
  for (const rank of [0, 1]) {
    const sp = spawnersOf(await brokerPid(rank));
    assert.equal(sp.length, 1, `rank ${rank}: one spawner`);
    // the task's parent is the spawner, not the broker
    assert.match(r.stdout, new RegExp(`^${rank}: ${sp[0]}$`, 'm'));
  }
  const job = await flux(['run', '-N2', 'true'], inst.env);
  assert.equal(job.status, 0, job.stderr);
});

test('a spawner killed: its running children are killed and reported so, the next spawn works', async () => {
  const b1 = await brokerPid(1);
  const [sp] = spawnersOf(b1);
  assert.ok(sp, 'rank 1 has a spawner');
  const exec = spawn(process.execPath, [FLUX, 'exec', '-r', '1', 'sh', '-c', 'echo $$; exec sleep 60'], { env: inst.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  exec.stdout.on('data', (d: Buffer) => (out += d.toString()));
  exec.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const done = new Promise<number | null>((res) => exec.once('exit', (code) => res(code)));
  while (!/^\d+$/m.test(out)) await new Promise((r) => setTimeout(r, 20));
  const sleeper = Number(/^(\d+)$/m.exec(out)![1]);
  assert.ok(alive(sleeper));
  process.kill(sp, 'SIGKILL');
  const code = await done;
  assert.equal(code, 137, `flux exec reports the task killed: ${err}`);
  await waitGone([sleeper]);
  const again = await flux(['exec', '-r', '1', 'echo', 'hi'], inst.env);
  assert.equal(again.status, 0, again.stderr);
  assert.equal(again.stdout, 'hi\n');
  const now = spawnersOf(b1);
  assert.equal(now.length, 1);
  assert.notEqual(now[0], sp);
});

test('the spawners leave with their brokers', async () => {
  const spawners = [...spawnersOf(await brokerPid(0)), ...spawnersOf(await brokerPid(1))];
  assert.equal(spawners.length, 2);
  h.close();
  await inst.stop();
  await waitGone(spawners);
  inst = undefined as unknown as Instance;
});

test('a broker below FLUX_SPAWNER_RSS_MIB spawns by itself: no spawner process', async () => {
  process.env.FLUX_SPAWNER_RSS_MIB = '100000';
  let small: Instance;
  try {
    small = await startInstance(2);
  } finally {
    delete process.env.FLUX_SPAWNER_RSS_MIB;
  }
  const hs = await Flux.open(small.uri);
  try {
    const r = await flux(['exec', '-r', 'all', '-l', 'sh', '-c', 'echo $PPID'], small.env);
    assert.equal(r.status, 0, r.stderr);
    for (const rank of [0, 1]) {
      const pid = Number((await hs.rpc('attr.get', { name: 'broker.pid' }, { nodeid: rank }).get<{ value: string }>()).value);
      assert.deepEqual(spawnersOf(pid), [], `rank ${rank}: no spawner`);
      // the task's parent is the broker itself
      assert.match(r.stdout, new RegExp(`^${rank}: ${pid}$`, 'm'));
    }
  } finally {
    hs.close();
    await small.stop();
  }
});
