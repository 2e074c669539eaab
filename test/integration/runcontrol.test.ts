/**
 * Run control on real instances: the state machine's order (rc1 top-down,
 * rc3 bottom-up), broker.rc1_path/rc3_path, the broker.online group and
 * quorum, state-machine.monitor, and `flux modprobe` with TOML and Python
 * rc files.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { existsSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { FLUX, flux, startInstance, waitGone } from './helpers';
import { Flux } from '../../broker/src/common/libflux/handle';
import { STATES } from '../../broker/src/broker/state-machine';

async function tmpdir(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), 'flux-rc-test-'));
}

test('the default rc1 loads heartbeat, content, kvs and kvs-watch on every rank, content-sqlite on rank 0; builtins are config, connector-local, groups, rexec, overlay', async () => {
  const r = await flux(['start', '-s4', '-S', 'tbon.fanout=2', 'sh', '-c',
    'flux module list; echo --; FLUX_URI=$(flux getattr rundir | sed "s|^|local://|")/local-3 flux module list; echo --; flux getattr broker.rc1_path; flux getattr broker.rc3_path']);
  assert.equal(r.status, 0, r.stderr);
  const blocks = r.stdout.split('--\n').slice(0, 2);
  assert.equal(blocks.length, 2);
  const builtins = ['config', 'connector-local', 'groups', 'rexec', 'overlay'];
  // In rc1 order, as flux-core's dmesg shows it: content, heartbeat, content-sqlite (rank 0), kvs,
  // kvs-watch; modules that come after them (resource, ...) follow.
  const expected = [[...builtins, 'content', 'heartbeat', 'content-sqlite', 'kvs', 'kvs-watch'], [...builtins, 'content', 'heartbeat', 'kvs', 'kvs-watch']];
  blocks.forEach((b, i) => {
    const names = b.trim().split('\n').slice(1).map((l) => l.split(/\s+/)[0]);
    assert.deepEqual(names.slice(0, expected[i].length), expected[i]);
  });
  assert.match(r.stdout, /flux modprobe rc1\nflux modprobe rc3\n$/);
});

test('empty broker.rc1_path/rc3_path: only the built-in modules', async () => {
  const r = await flux(['start', '-s2', '-o', '-Sbroker.rc1_path=,-Sbroker.rc3_path=', 'flux', 'module', 'list']);
  assert.equal(r.status, 0, r.stderr);
  const names = r.stdout.trim().split('\n').slice(1).map((l) => l.split(/\s+/)[0]);
  assert.deepEqual(names, ['config', 'connector-local', 'groups', 'rexec', 'overlay']);
});

test('rc1 runs top-down and rc3 bottom-up, each with FLUX_URI of its own rank', async () => {
  const dir = await tmpdir();
  const log = path.join(dir, 'order');
  // Each rc appends "rcN RANK" once its own broker answers; a leaf's rc3 sleeps a bit so order is observable.
  const rc = (n: number): string => `r=$(flux getattr rank); [ "$r" = 3 ] && [ ${n} = 3 ] && sleep 0.2; echo "rc${n} $r" >> ${log}`;
  const r = await flux(['start', '-s4', '-S', 'tbon.fanout=2', '-S', `broker.rc1_path=${rc(1)}`, '-S', `broker.rc3_path=${rc(3)}`, 'true']);
  assert.equal(r.status, 0, r.stderr);
  const lines = (await fs.readFile(log, 'utf8')).trim().split('\n');
  const at = (s: string): number => lines.indexOf(s);
  for (let rank = 0; rank < 4; rank++) {
    assert.ok(at(`rc1 ${rank}`) >= 0 && at(`rc3 ${rank}`) >= 0, lines.join('|'));
  }
  // kary:2: 0 → 1 → 3 and 0 → 2.
  assert.ok(at('rc1 0') < at('rc1 1') && at('rc1 1') < at('rc1 3') && at('rc1 0') < at('rc1 2'), lines.join('|'));
  assert.ok(at('rc3 3') < at('rc3 1') && at('rc3 1') < at('rc3 0') && at('rc3 2') < at('rc3 0'), lines.join('|'));
  await fs.rm(dir, { recursive: true, force: true });
});

test('a failing rc1 ends the instance with its status and says so in the log', async () => {
  const r = await flux(['start', '-s2', '-S', 'broker.rc1_path=exit 3', '-S', 'log-stderr-level=3', 'echo', 'never']);
  assert.equal(r.status, 3);
  assert.doesNotMatch(r.stdout, /never/);
  assert.match(r.stderr, /rc1\.0: exit 3 Exited \(rc=3\)/);
});

test('one argument with shell syntax runs through a shell', async () => {
  const r = await flux(['start', '-s1', 'echo one; echo two; exit 4']);
  assert.equal(r.stdout, 'one\ntwo\n');
  assert.equal(r.status, 4);
});

test('broker.online holds every rank; state-machine.monitor streams the state', async () => {
  const inst = await startInstance(4, ['tbon.fanout=2']);
  const h = await Flux.open(inst.uri);
  try {
    const g = await h.rpc('groups.get', { name: 'broker.online' }).get<{ members: string }>();
    assert.equal(g.members, '0-3');
    const s = await h.rpc('state-machine.monitor', {}).get<{ state: number }>();
    assert.equal(STATES[s.state], 'run');
    const leaf = await Flux.open(`local://${inst.rundir}/local-3`);
    try {
      assert.equal((await leaf.rpc('state-machine.get', {}).get<{ state: string }>()).state, 'run');
      await assert.rejects(leaf.rpc('groups.get', { name: 'broker.online' }).get(), /only available on rank 0/);
    } finally {
      leaf.close();
    }
  } finally {
    h.close();
    assert.equal(await inst.stop(), 0);
  }
});

test('flux modprobe: load/remove with requirements from FLUX_MODPROBE_PATH, list, show, errors', async () => {
  const dir = await tmpdir();
  await fs.writeFile(path.join(dir, 'extra.toml'), [
    '[[modules]]', 'name = "hb2"', 'module = "heartbeat"', 'ranks = "0"', 'args = ["period=5s"]',
    'requires = ["heartbeat"]', 'after = ["heartbeat"]', '',
  ].join('\n'));
  const inst = await startInstance(2, [], []);
  const env = { ...inst.env, FLUX_MODPROBE_PATH: dir };
  try {
    assert.equal((await flux(['module', 'remove', 'heartbeat'], env)).status, 0);
    const load = await flux(['modprobe', 'load', 'hb2'], env);
    assert.equal(load.status, 0, load.stderr);
    const list = await flux(['module', 'list'], env);
    assert.match(list.stdout, /^heartbeat /m);
    assert.match(list.stdout, /^hb2 /m);
    const again = await flux(['modprobe', 'load', 'hb2'], env);
    assert.equal(again.status, 0);
    assert.match(again.stderr, /All modules and dependencies are already loaded/);
    const mlist = await flux(['modprobe', 'list'], env);
    assert.match(mlist.stdout, /^hb2\s+0\s+-\s+heartbeat\s+yes$/m);
    const show = await flux(['modprobe', 'show', 'hb2'], env);
    assert.deepEqual(JSON.parse(show.stdout).args, ['period=5s']);
    // Removing heartbeat takes what requires it with it (hb2, content, kvs, ...), dependants first.
    const rm = await flux(['modprobe', 'remove', '--dry-run', 'heartbeat'], env);
    const order = rm.stdout.trim().split('\n').map((l) => l.replace(/^remove /, ''));
    for (const n of ['hb2', 'heartbeat', 'content', 'kvs']) assert.ok(order.includes(n), `${n} in ${order.join(' ')}`);
    assert.ok(order.indexOf('hb2') < order.indexOf('heartbeat'), order.join(' '));
    assert.ok(order.indexOf('kvs') < order.indexOf('content'), order.join(' '));
    assert.equal((await flux(['modprobe', 'remove', 'heartbeat'], env)).status, 0);
    assert.doesNotMatch((await flux(['module', 'list'], env)).stdout, /heartbeat|hb2/);
    const bad = await flux(['modprobe', 'load', 'nosuch'], env);
    assert.equal(bad.status, 1);
    assert.equal(bad.stderr, 'flux-modprobe: ERROR: no such module or task: nosuch\n');
    const usage = await flux(['modprobe', 'frob'], env);
    assert.equal(usage.status, 2);
    assert.match(usage.stderr, /invalid choice: 'frob'/);
  } finally {
    assert.equal(await inst.stop(), 0);
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('flux modprobe run FILE.py: setup() and @task run in dependency order through python3', async () => {
  const dir = await tmpdir();
  const file = path.join(dir, 'rc.py');
  const out = path.join(dir, 'out');
  await fs.writeFile(file, [
    'from flux.modprobe import task',
    '',
    'def setup(context):',
    '    context.setopt("heartbeat", "period=3s")',
    '    context.load_modules(["heartbeat"])',
    '',
    `@task("first", ranks="0", before=["heartbeat"])`,
    'def first(context):',
    `    open(${JSON.stringify(out)}, "a").write("first " + context.attr_get("rank") + "\\n")`,
    '',
    `@task("second", ranks="0", after=["heartbeat", "first"])`,
    'def second(context):',
    '    size = context.rpc("attr.get", {"name": "size"}).get()["value"]',
    `    open(${JSON.stringify(out)}, "a").write("second size=" + size + "\\n")`,
    '',
    `@task("elsewhere", ranks="1")`,
    'def elsewhere(context):',
    `    open(${JSON.stringify(out)}, "a").write("wrong rank\\n")`,
    '',
  ].join('\n'));
  const inst = await startInstance(2, ['broker.rc1_path=']);
  try {
    const r = await flux(['modprobe', 'run', '-v', file], inst.env);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'run first\nload heartbeat period=3s\nrun second\n');
    assert.equal(await fs.readFile(out, 'utf8'), 'first 0\nsecond size=2\n');
    assert.match((await flux(['module', 'list'], inst.env)).stdout, /^heartbeat /m);
    const broken = path.join(dir, 'broken.py');
    await fs.writeFile(broken, 'from flux.modprobe import task\n\n@task("boom")\ndef boom(context):\n    raise ValueError("no good")\n');
    const b = await flux(['modprobe', 'run', broken], inst.env);
    assert.equal(b.status, 1);
    assert.match(b.stderr, /flux-modprobe: task boom: ValueError: no good/);
  } finally {
    assert.equal(await inst.stop(), 0);
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('bad -S values stop the instance with flux-broker\'s message; setattr checks them too', async () => {
  const r = await flux(['start', '-s1', '-S', 'log-level=9', 'echo', 'never']);
  assert.equal(r.status, 1);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, 'flux-broker: log-level: Invalid argument\n');
  const m = await flux(['start', '-s1', '-o', '-Slog-stderr-mode=loud', 'true']);
  assert.equal(m.stderr, 'flux-broker: log-stderr-mode: Invalid argument\n');
  const s = await flux(['start', '-s1', 'flux setattr log-ring-size x; echo $?; flux setattr log-ring-size 10; flux getattr log-ring-size']);
  assert.equal(s.stdout, '1\n10\n');
  assert.match(s.stderr, /Invalid argument/);
  const o = await flux(['start', '-s1', '-o', '--frob', 'true']);
  assert.equal(o.status, 1);
  assert.match(o.stderr, /broker option '--frob' is not recognized/);
});

test('lsattr -v lists flux-core\'s boot attributes; parent-uri exists without a value', async () => {
  const r = await flux(['start', '-s4', 'flux lsattr -v; flux getattr parent-uri']);
  assert.match(r.stdout, /^broker\.boot-method {22}simple$/m);
  assert.match(r.stdout, /^broker\.mapping {26}\[\[0,1,4,1\]\]$/m);
  assert.match(r.stdout, /^parent-uri {30}-$/m);
  assert.match(r.stdout, /^rundir-cleanup {26}0$/m);
  assert.match(r.stderr, /flux-getattr: parent-uri: No such file or directory/);
});

test('-X -v shows each broker\'s command without starting it; --wrap runs brokers under a wrapper', async () => {
  const x = await flux(['start', '-s2', '-X', '-v', 'true']);
  assert.equal(x.status, 0);
  const lines = x.stderr.trim().split('\n');
  assert.equal(lines.length, 2);
  assert.match(lines[0], /^flux-start: .*broker\.js --rank=0 --size=2 .* -- true$/);
  assert.match(lines[1], /^flux-start: .*broker\.js --rank=1 --size=2 /);
  const dir = await tmpdir();
  const marker = path.join(dir, 'wrapped');
  // env(1) as the wrapper: it sets a variable that only a wrapped broker can pass on to rc1.
  const w = await flux(['start', '-s2', `--wrap=env,WRAPPED=yes`, '-S', `broker.rc1_path=echo "$WRAPPED" >> ${marker}`, 'true']);
  assert.equal(w.status, 0, w.stderr);
  assert.equal(await fs.readFile(marker, 'utf8'), 'yes\nyes\n');
  await fs.rm(dir, { recursive: true, force: true });
});

test('flux shutdown: only rank 0 in run; prints the shutdown log; the instance exits 0', async () => {
  const inst = await startInstance(4, ['tbon.fanout=2']);
  const leaf = { ...inst.env, FLUX_URI: `local://${inst.rundir}/local-3` };
  const bad = await flux(['shutdown'], leaf);
  assert.equal(bad.status, 1);
  assert.equal(bad.stderr, 'flux-shutdown: shutdown may only be initiated on rank 0\n');
  const r = await flux(['shutdown'], inst.env);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /^broker\.info\[0\]: shutdown: run->cleanup /m);
  assert.match(r.stderr, /^broker\.info\[0\]: children-complete: shutdown->finalize /m);
  assert.match(r.stderr, /^broker\.info\[0\]: rc3-success: finalize->goodbye /m);
  assert.doesNotMatch(r.stderr, /broker\.debug/);
  assert.equal(await inst.stop(), 0);
});

test('flux shutdown --background returns at once; an initial program gets SIGHUP (status 129)', async () => {
  const dir = await tmpdir();
  const r = await flux(['start', '-s2', '--test-rundir', dir, 'sh', '-c', `flux shutdown --background --quiet; sleep 30`]);
  assert.equal(r.status, 129);
  await fs.rm(dir, { recursive: true, force: true });
});

test('SIGKILL of flux start: rank 0 removes the rundir flux start made', async () => {
  const dir = await tmpdir();
  const out = path.join(dir, 'info');
  const launcher = spawn(process.execPath, [FLUX, 'start', '-s2', `flux getattr rundir > ${out}.tmp; flux getattr broker.pid >> ${out}.tmp; mv ${out}.tmp ${out}; sleep 600`], { stdio: 'ignore' });
  const deadline = Date.now() + 20_000;
  while (!existsSync(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const [rundir, pid] = (await fs.readFile(out, 'utf8')).trim().split('\n');
  assert.ok(existsSync(rundir));
  launcher.kill('SIGKILL');
  await waitGone([Number(pid)]);
  while (existsSync(rundir) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
  assert.equal(existsSync(rundir), false, `${rundir} is left behind`);
  await fs.rm(dir, { recursive: true, force: true });
});

test('--test-hosts gives each rank a made-up host name: hostlist, hostname, overlay status, online log', async () => {
  const r = await flux(['start', '-s4', '--test-hosts=node[0-3]', 'sh', '-c',
    'flux getattr hostlist; flux exec -r 2 flux getattr hostname; flux overlay status; flux dmesg | grep "online: node\\[0-3\\] (ranks 0-3)" | wc -l']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'node[0-3]\nnode2\n0 node0: full\n├─ 1 node1: full\n├─ 2 node2: full\n└─ 3 node3: full\n1\n');
  const short = await flux(['start', '-s4', '--test-hosts=node[0-2]', 'true']);
  assert.equal(short.status, 1);
  assert.equal(short.stderr, 'flux-start: --test-hosts: hostlist has 3 hosts, fewer than --test-size=4\n');
});

test('broker.shutdown ends a persistent instance the same way (answered at once)', async () => {
  const inst = await startInstance(2);
  const h = await Flux.open(inst.uri);
  try {
    assert.deepEqual(await h.rpc('broker.shutdown', {}).get(), {});
  } finally {
    h.close();
  }
  assert.equal(await inst.stop(), 0);
});
