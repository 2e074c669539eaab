/**
 * Drain, undrain and offline ranks end to end, as flux-core 0.88: the
 * resource module's drain state and `resource.status`, the scheduler told
 * through `resource.acquire` (under Fluxion, the default, and sched-simple),
 * `flux resource drain|undrain|status|list` output, drain state kept across a
 * restart with the same statedir, and a killed rank shown offline and avoided.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { shell, startInstance, waitGone, type Instance } from './helpers';
import { Flux } from '../../broker/src/common/libflux/handle';
import { FLAG_STREAMING } from '../../broker/src/common/libflux/message';

interface ShResult {
  stdout: string;
  stderr: string;
  status: number | null;
}


/** Run a shell line with `flux` (the built CLI) first on PATH inside the instance. */
function sh(inst: Instance, line: string, timeoutMs = 60_000): Promise<ShResult> {
  return shell(line, inst.env, { timeoutMs });
}

async function ok(inst: Instance, line: string): Promise<string> {
  const r = await sh(inst, line);
  assert.equal(r.status, 0, `${line}: ${r.stderr}`);
  return r.stdout;
}

/** Start a 4-rank (or `size`) instance under Fluxion (default) or sched-simple (modprobe alternatives). */
async function start(sched: 'fluxion' | 'sched-simple', size = 4, attrs: string[] = []): Promise<Instance> {
  const saved = process.env.FLUX_MODPROBE_PATH;
  let conf: string | undefined;
  if (sched === 'sched-simple') {
    conf = fs.mkdtempSync(path.join(os.tmpdir(), 'drain-modprobe-'));
    fs.writeFileSync(path.join(conf, 'sched.toml'), '[alternatives]\nsched = "sched-simple"\nfeasibility = "sched-simple"\n');
    process.env.FLUX_MODPROBE_PATH = conf;
  } else {
    delete process.env.FLUX_MODPROBE_PATH;
  }
  try {
    return await startInstance(size, attrs);
  } finally {
    if (saved === undefined) delete process.env.FLUX_MODPROBE_PATH;
    else process.env.FLUX_MODPROBE_PATH = saved;
    if (conf) fs.rmSync(conf, { recursive: true, force: true });
  }
}

/** The ranks of a job's R. */
async function jobRanks(inst: Instance, id: string): Promise<string> {
  const R = JSON.parse(await ok(inst, `flux job info ${id} R`)) as { execution: { R_lite: { rank: string }[] } };
  return R.execution.R_lite.map((e) => e.rank).join(',');
}

async function until(what: string, cond: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const t0 = Date.now();
  while (!(await cond().catch(() => false))) {
    if (Date.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

for (const sched of ['fluxion', 'sched-simple'] as const) {
  test(`${sched}: a drained node keeps its running job, gets no new one, and comes back with undrain`, async () => {
    const inst = await start(sched);
    try {
      const host = (await ok(inst, 'flux getattr hostname')).trim();
      // a job on every node, then rank 1 drained under it: draining, and the job goes on
      const long = (await ok(inst, 'flux submit -N4 sleep 300')).trim();
      await ok(inst, `flux job wait-event -t 30 ${long} start`);
      await ok(inst, 'flux resource drain 1 maintenance work');
      assert.equal(await ok(inst, 'flux resource drain -n -o "{state} {ranks} {reason} {nodelist}"'), `draining 1 maintenance work ${host}\n`);
      assert.equal(await ok(inst, 'flux resource status -s draining -n'), `    draining ✔      1 ${host}\n`);
      assert.match(await ok(inst, 'flux jobs -n -o "{state}" ' + long), /^RUN$/m);

      // draining again without -f: flux-core's error and hint, exit 1
      const again = await sh(inst, 'flux resource drain 1 other');
      assert.equal(again.status, 1);
      assert.equal(again.stderr, 'flux-resource: ERROR: [Errno 17] rank 1 already drained\nflux-resource: INFO: Use --force to overwrite existing drain reason\n');
      await ok(inst, 'flux resource drain -f 1 maintenance work');

      await ok(inst, `flux cancel ${long} && flux job wait-event -t 30 ${long} clean`);
      // the default drain listing: TIME STATE REASON NODELIST
      const list = await ok(inst, 'flux resource drain');
      assert.match(list, new RegExp(`^TIME {9}STATE {4}REASON {25}NODELIST\n[A-Z][a-z]{2}\\d\\d \\d\\d:\\d\\d  drained  maintenance work {15}${host}\n$`));
      assert.equal(await ok(inst, 'flux resource status'),
        `       STATEUP NNODES NODELIST\n       avail ✔      3 ${host},${host},${host}\n     drained ✔      1 ${host}\n`);
      const ncores = Number((await ok(inst, 'flux resource list -n')).split('\n')[0].trim().split(/\s+/)[2]) / 3;
      assert.equal(await ok(inst, 'flux resource list'), [
        '     STATE NNODES NCORES NGPUS NODELIST',
        `      free      3 ${String(3 * ncores).padStart(6)}     0 ${host},${host},${host}`,
        ' allocated      0      0     0 ',
        `      down      1 ${String(ncores).padStart(6)}     0 ${host}`,
        '',
      ].join('\n'));
      // the scheduler itself reports the drained node down (sched.resource-status)
      const h = await Flux.open(inst.uri);
      try {
        const rs = await h.rpc('sched.resource-status', {}, { nodeid: 0 }).get<{ down: { execution: { R_lite: { rank: string }[] } } }>();
        assert.deepEqual(rs.down.execution.R_lite.map((e) => e.rank), ['1']);
      } finally {
        h.close();
      }
      // with -s, empty lines stay (as flux-core prints them) unless --skip-empty
      assert.equal(await ok(inst, 'flux resource status -s all -n -o "{statex} {ranks}"'), 'avail 0,2-3\nexclude \nallocated \ntorpid \nhousekeeping \ndraining \ndrained 1\n');
      assert.equal(await ok(inst, 'flux resource status -s all --skip-empty -n -o "{statex} {ranks}"'), 'avail 0,2-3\ndrained 1\n');

      // new jobs avoid rank 1
      const three = (await ok(inst, 'flux submit -N3 true')).trim();
      await ok(inst, `flux job wait-event -t 30 ${three} clean`);
      assert.equal(await jobRanks(inst, three), '0,2-3');

      // a job needing all four nodes waits (satisfiable, so not refused) until the undrain
      const all = (await ok(inst, 'flux submit -N4 true')).trim();
      await ok(inst, `flux job wait-event -t 30 ${all} priority`);
      await ok(inst, 'flux resource list >/dev/null'); // a round trip through the scheduler after its alloc request
      assert.doesNotMatch(await ok(inst, `flux job eventlog ${all}`), /\balloc\b/);
      await ok(inst, 'flux resource undrain 1');
      await ok(inst, `flux job wait-event -t 30 ${all} clean`);
      assert.equal(await jobRanks(inst, all), '0-3');
      assert.equal(await ok(inst, 'flux resource drain -n'), '');

      // undrain of a node that is not drained: flux-core's message
      const un = await sh(inst, 'flux resource undrain 2');
      assert.equal(un.status, 1);
      assert.equal(un.stderr, `flux-resource: ERROR: ${host} (rank 2) not drained\n`);
      await ok(inst, 'flux resource undrain -f 2');
    } finally {
      await inst.stop();
    }
  });
}

test('resource.drain/undrain/status payloads and errors, as flux-core\'s', async () => {
  const inst = await start('fluxion', 2);
  const h = await Flux.open(inst.uri);
  try {
    const err = async (topic: string, payload: Record<string, unknown>): Promise<string> => {
      try {
        await h.rpc(topic, payload, { nodeid: 0 }).get();
      } catch (e) {
        return `${(e as { errnum: number }).errnum} ${(e as Error).message}`;
      }
      return 'ok';
    };
    assert.equal(await err('resource.drain', { targets: '5' }), '22 idset is out of range');
    assert.equal(await err('resource.drain', { targets: 'nosuchhost' }), '22 invalid targets: invalid hostname: nosuchhost');
    assert.equal(await err('resource.drain', { targets: '0', mode: 'bogus' }), '22 Invalid mode specified');
    assert.equal(await err('resource.drain', { targets: '0-1', reason: 'r1' }), 'ok');
    assert.equal(await err('resource.drain', { targets: '0-1', reason: 'r2' }), '17 ranks 0-1 already drained');
    assert.equal(await err('resource.drain', { targets: '1', reason: 'r2', mode: 'update' }), 'ok');
    assert.equal(await err('resource.undrain', { targets: '0', mode: 'x' }), "22 invalid undrain mode 'x' specified");
    const st = await h.rpc('resource.status', {}, { nodeid: 0 }).get<{ R: unknown; drain: Record<string, { timestamp: number; reason: string }>; online: string; offline: string; exclude: string }>();
    assert.deepEqual(Object.keys(st).sort(), ['R', 'drain', 'exclude', 'offline', 'online']);
    assert.deepEqual(Object.keys(st.drain), ['0-1']);
    assert.equal(st.drain['0-1'].reason, 'r1', 'update keeps the reason of drained ranks');
    assert.ok(Number.isInteger(st.drain['0-1'].timestamp) && Math.abs(st.drain['0-1'].timestamp - Date.now() / 1000) < 60);
    assert.equal(st.online, '0-1');
    assert.equal(st.offline, '');
    assert.equal(st.exclude, '');
    assert.equal(await err('resource.undrain', { targets: '0-1' }), 'ok');
    // a hostname names every rank on that host (here all of them share one)
    const host = (await h.rpc('attr.get', { name: 'hostname' }, { nodeid: 0 }).get<{ value: string }>()).value;
    assert.equal(await err('resource.drain', { targets: host }), 'ok');
    const st2 = await h.rpc('resource.status', {}, { nodeid: 0 }).get<{ drain: Record<string, { reason: string }> }>();
    assert.deepEqual(Object.entries(st2.drain).map(([k, v]) => [k, v.reason]), [['0-1', '']]);
    assert.equal(await err('resource.drain', { targets: '1', reason: 'now with one' }), 'ok', 'drained without a reason is not "already drained"');
    assert.equal(await err('resource.undrain', { targets: host }), 'ok');
    // the journal: this run's events in order, then the end-of-backlog marker
    const events: string[] = [];
    for await (const m of h.rpc('resource.journal', {}, { nodeid: 0, flags: FLAG_STREAMING })) {
      const { events: evs } = JSON.parse(m.payload!.toString('utf8').replace(/\0$/, '')) as { events: { name: string; context: { idset?: string } }[] };
      if (evs.length === 0) break;
      for (const e of evs) events.push(`${e.name} ${e.context.idset ?? ''}`.trim());
    }
    assert.deepEqual(events.filter((e) => /drain/.test(e)), ['drain 0-1', 'drain 1', 'undrain 0-1', 'drain 0-1', 'drain 1', 'undrain 0-1']);
    assert.ok(events.includes('resource-define'));
    assert.ok(events.some((e) => e.startsWith('online')));
    const sched = await h.rpc('resource.sched-status', {}, { nodeid: 0 }).get<{ all: unknown; down: { execution: { R_lite: unknown[] } }; allocated: unknown }>();
    assert.deepEqual(sched.down.execution.R_lite, []);
  } finally {
    h.close();
    await inst.stop();
  }
});

test('drain state survives a restart with the same statedir', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'drain-statedir-'));
  try {
    const first = await start('fluxion', 2, [`statedir=${dir}`]);
    try {
      await ok(first, 'flux resource drain 0 bad disk');
    } finally {
      await first.stop();
    }
    const second = await start('fluxion', 2, [`statedir=${dir}`]);
    try {
      assert.equal(await ok(second, 'flux resource drain -n -o "{state} {ranks} {reason}"'), 'drained 0 bad disk\n');
      // the scheduler was told as well: a one-node job lands on rank 1, not on the first rank
      const one = (await ok(second, 'flux submit -N1 true')).trim();
      await ok(second, `flux job wait-event -t 30 ${one} clean`);
      assert.equal(await jobRanks(second, one), '1');
      const log = await ok(second, 'flux kvs get resource.eventlog');
      assert.match(log, /"name":"drain","context":\{"idset":"0","nodelist":"[^"]+","reason":"bad disk","overwrite":0\}/);
    } finally {
      await second.stop();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a killed rank is offline in flux resource status and jobs avoid it; restarted, it is used again', async () => {
  const inst = await start('fluxion', 4, ['tbon.topo=kary:3']);
  const h = await Flux.open(inst.uri);
  try {
    const host = (await ok(inst, 'flux getattr hostname')).trim();
    // rank 1, a leaf of rank 0 (kary:3): a scheduler not told would place -N3 on 0-2
    const pid1 = Number((await h.rpc('attr.get', { name: 'broker.pid' }, { nodeid: 1 }).get<{ value: string }>()).value);
    process.kill(pid1, 'SIGKILL');
    await waitGone([pid1]);
    await until('rank 1 offline', async () => (await h.rpc('resource.status', {}, { nodeid: 0 }).get<{ offline: string }>()).offline === '1');
    assert.equal(await ok(inst, 'flux resource status'),
      `       STATEUP NNODES NODELIST\n       avail ✔      3 ${host},${host},${host}\n      avail* ✗      1 ${host}\n`);
    assert.equal(await ok(inst, 'flux resource status -s offline --skip-empty -n -o "{state} {ranks}"'), 'avail* 1\n');
    assert.match(await ok(inst, 'flux resource list -n'), new RegExp(`^ {6}down {6}1 .* ${host}\n$`, 'm'));
    const three = (await ok(inst, 'flux submit -N3 true')).trim();
    await ok(inst, `flux job wait-event -t 30 ${three} clean`);
    assert.equal(await jobRanks(inst, three), '0,2-3');

    // started again, it rejoins: online, up for the scheduler, and a -N4 job runs
    const back = new Promise<{ ranks: number[] }>((resolve) => {
      const onMsg = (m: { type?: string; ranks: number[] }): void => {
        if (m?.type !== 'restart-ranks') return;
        inst.launcher.off('message', onMsg);
        resolve(m);
      };
      inst.launcher.on('message', onMsg);
    });
    inst.launcher.send({ type: 'restart-ranks', ranks: [1] });
    assert.deepEqual((await back).ranks, [1]);
    await until('rank 1 online', async () => (await h.rpc('resource.status', {}, { nodeid: 0 }).get<{ offline: string }>()).offline === '');
    assert.equal(await ok(inst, 'flux resource status'), `       STATEUP NNODES NODELIST\n       avail ✔      4 ${host},${host},${host},${host}\n`);
    const four = (await ok(inst, 'flux submit -N4 true')).trim();
    await ok(inst, `flux job wait-event -t 30 ${four} clean`);
    assert.equal(await jobRanks(inst, four), '0-3');
  } finally {
    h.close();
    await inst.stop();
  }
});
