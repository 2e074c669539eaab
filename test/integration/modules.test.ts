import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { flux, startInstance, type Instance } from './helpers';
import { Flux } from '../../broker/src/common/libflux/handle';
import { FluxError } from '../../broker/src/common/libflux/errno';

let inst: Instance;
before(async () => {
  inst = await startInstance(3, ['tbon.topo=kary:2']);
});
after(async () => {
  assert.equal(await inst.stop(), 0);
});

interface Mod {
  name: string;
  path: string;
  status: number;
  services: string[];
}

test('every rank runs the heartbeat module in a thread, listed with the built-ins', async () => {
  const h = await Flux.open(inst.uri);
  try {
    for (let r = 0; r < 3; r++) {
      const { mods } = await h.rpc('module.list', {}, { nodeid: r }).get<{ mods: Mod[] }>();
      const names = mods.map((m) => m.name);
      for (const n of ['connector-local', 'heartbeat', 'overlay']) assert.ok(names.includes(n), `rank ${r}: ${n} in ${names.join(' ')}`);
      // Built-ins have no file; everything rc1 loads (heartbeat, content, kvs, ...) is a bundled module file.
      const builtins = ['config', 'connector-local', 'groups', 'rexec', 'overlay'];
      for (const m of mods) {
        if (builtins.includes(m.name)) assert.equal(m.path, 'builtin', `rank ${r}: ${m.name} is built in`);
        else assert.match(m.path, new RegExp(`dist/modules/${m.name}\\.js$`), `rank ${r}: ${m.name} is a module file`);
      }
      const hb = mods.find((m) => m.name === 'heartbeat')!;
      assert.equal(hb.status, 1);
      assert.match(hb.path, /dist\/modules\/heartbeat\.js$/);
      const p = await h.rpc('heartbeat.ping', { seq: 1, pad: '' }, { nodeid: r }).get<{ rank: number; seq: number }>();
      assert.deepEqual([p.rank, p.seq], [r, 1]);
    }
    const list = await flux(['module', 'list'], inst.env);
    assert.match(list.stdout, /^Module {20}Idle {2}S Sendq Recvq Service\n/);
    assert.match(list.stdout, /^heartbeat {17}\s+\d+ {2}R {5}0 {5}0 \n/m);
  } finally {
    h.close();
  }
});

test('load, remove and reload with flux-core\'s errors', async () => {
  const dup = await flux(['module', 'load', 'heartbeat'], inst.env);
  assert.deepEqual([dup.stderr, dup.status], ['flux-module: load heartbeat: File exists\n', 1]);
  const none = await flux(['module', 'load', 'nosuch'], inst.env);
  assert.deepEqual([none.stderr, none.status], ['flux-module: load nosuch: module not found in search path\n', 1]);
  assert.equal((await flux(['module', 'remove', 'heartbeat'], inst.env)).status, 0);
  const gone = await flux(['module', 'remove', 'heartbeat'], inst.env);
  assert.deepEqual([gone.stderr, gone.status], ['flux-module: remove heartbeat: No such file or directory\n', 1]);
  assert.equal((await flux(['module', 'remove', '-f', 'heartbeat'], inst.env)).status, 0);
  const h = await Flux.open(inst.uri);
  try {
    await assert.rejects(h.rpc('heartbeat.ping', {}).get(), (e: unknown) => e instanceof FluxError && e.errnum === 38);
  } finally {
    h.close();
  }
  // A module whose start fails is a load error (with the module's message) and does not stay listed.
  const bad = await flux(['module', 'load', 'heartbeat', 'bogus=1'], inst.env);
  assert.deepEqual([bad.stderr, bad.status], ['flux-module: load heartbeat: unknown option: bogus=1\n', 1]);
  assert.doesNotMatch((await flux(['module', 'list'], inst.env)).stdout, /^heartbeat/m);
  assert.equal((await flux(['module', 'load', 'heartbeat', 'period=0.05'], inst.env)).status, 0);
  assert.equal((await flux(['module', 'reload', 'heartbeat', 'period=0.05'], inst.env)).status, 0);
});

test('heartbeat.pulse events come from the module on rank 0 at its period', async () => {
  const h = await Flux.open(inst.uri.replace(/local-0$/, 'local-2'));
  try {
    const seqs: number[] = [];
    let done: () => void = () => {};
    const got = new Promise<void>((r) => (done = r));
    h.onEvent((m) => {
      if (m.topic === 'heartbeat.pulse' && seqs.push(m.aux1) === 5) done();
    });
    await h.subscribe('heartbeat.pulse');
    await Promise.race([got, new Promise((_r, rej) => setTimeout(() => rej(new Error('no 5 pulses in 5 s: at the default 2 s period this could not pass')), 5000))]);
    for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i] > seqs[i - 1]);
  } finally {
    h.close();
  }
});

test('flux module stats: message counters, clear, --parse, rusage, and flux-core\'s errors', async () => {
  const h = await Flux.open(inst.uri);
  try {
    await h.rpc('heartbeat.stats-clear', {}).get();
    for (let i = 0; i < 3; i++) await h.rpc('heartbeat.ping', { seq: i, pad: '' }).get();
    const st = await h.rpc('heartbeat.stats-get', {}).get<{ rx: { request: number }; tx: { response: number } }>();
    assert.ok(st.rx.request >= 4, `3 pings + this stats-get were received: ${JSON.stringify(st)}`);
    assert.ok(st.tx.response >= 3);
  } finally {
    h.close();
  }
  const json = await flux(['module', 'stats', 'heartbeat'], inst.env);
  assert.equal(json.status, 0, json.stderr);
  assert.deepEqual(Object.keys(JSON.parse(json.stdout) as object), ['tx', 'rx']);
  assert.match(json.stdout, /^\{\n "tx": \{\n {2}"request": \d+,\n/, 'indented by one space like jansson');
  assert.equal((await flux(['module', 'stats', '-C', 'heartbeat'], inst.env)).status, 0);
  const parsed = await flux(['module', 'stats', '-p', 'tx.response', 'heartbeat'], inst.env);
  assert.match(parsed.stdout, /^\d+\n$/);
  const broker = await flux(['module', 'stats', 'broker'], inst.env);
  assert.ok((JSON.parse(broker.stdout) as { rx: { request: number } }).rx.request > 0);
  const ru = await flux(['module', 'stats', '-R', 'heartbeat'], inst.env);
  assert.ok((JSON.parse(ru.stdout) as { maxrss: number }).maxrss > 0);
  const missing = await flux(['module', 'stats', '--parse', 'kvs.size', 'heartbeat'], inst.env);
  assert.deepEqual([missing.stderr, missing.status], ["flux-module: `kvs.size' not found in response\n", 1]);
  const none = await flux(['module', 'stats', 'nosuchmodule'], inst.env);
  assert.deepEqual([none.stderr, none.status], ['flux-module: nosuchmodule.stats-get: No service matching nosuchmodule.stats-get is registered\n', 1]);
});
