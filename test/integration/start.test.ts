import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { FLUX, flux, waitGone } from './helpers';
import { Flux } from '../../broker/src/common/libflux/handle';

test('flux start --test-size=4 flux getattr size prints 4 (as flux-core does)', async () => {
  const r = await flux(['start', '--test-size=4', 'flux', 'getattr', 'size']);
  assert.equal(r.stderr, '');
  assert.equal(r.stdout, '4\n');
  assert.equal(r.status, 0);
});

test('the initial program\'s exit status is flux start\'s', async () => {
  assert.equal((await flux(['start', '-s2', 'sh', '-c', 'exit 3'])).status, 3);
  assert.equal((await flux(['start', '-s1', 'sh', '-c', 'kill -TERM $$'])).status, 143);
  const r = await flux(['start', '-s1', 'no-such-command-xyz']);
  assert.equal(r.status, 127);
  assert.match(r.stderr, /no-such-command-xyz: No such file or directory/);
});

test('CMD runs with FLUX_URI set to rank 0 and flux on PATH', async () => {
  const r = await flux(['start', '-s3', 'sh', '-c', 'echo "$FLUX_URI"; flux getattr rank; flux getattr local-uri']);
  assert.equal(r.status, 0, r.stderr);
  const [uri, rank, local] = r.stdout.trim().split('\n');
  assert.match(uri, /^local:\/\/.+\/local-0$/);
  assert.equal(rank, '0');
  assert.equal(local, uri);
});

test('-S tbon.topo and tbon.fanout shape the tree; tbon.* attributes follow it', async () => {
  const r = await flux(['start', '-s8', '-S', 'tbon.fanout=2', 'sh', '-c',
    'flux getattr tbon.topo; flux getattr tbon.maxlevel; flux getattr tbon.descendants; flux getattr tbon.fanout']);
  assert.equal(r.stdout, 'kary:2\n3\n7\n');
  assert.equal(r.stderr, 'flux-getattr: tbon.fanout: No such file or directory\n');
  const b = await flux(['start', '-s8', '-S', 'tbon.topo=binomial', 'flux', 'getattr', 'tbon.topo']);
  assert.equal(b.stdout, 'binomial\n');
  const d = await flux(['start', '-s2', 'flux', 'getattr', 'tbon.topo']);
  assert.equal(d.stdout, 'kary:32\n', 'default topology, as flux-core');
  const bad = await flux(['start', '-s2', '-S', 'tbon.topo=star', 'true']);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /^flux-broker: error creating 'star' topology: unknown topology scheme 'star'/);
});

test('bad usage is reported the liboptparse way', async () => {
  const r = await flux(['start', '--bogus']);
  assert.equal(r.status, 1);
  assert.equal(r.stderr, "flux-start: unrecognized option '--bogus'\nTry `flux-start --help' for more information.\n");
  const u = await flux(['nosuchcmd']);
  assert.equal(u.status, 1);
  assert.equal(u.stderr, "flux: `nosuchcmd' is not a flux command.  See 'flux --help'\n");
});

test('the rundir is removed at exit unless --test-rundir names it', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fluxtest-'));
  const r = await flux(['start', '-s2', `--test-rundir=${dir}`, 'flux', 'getattr', 'rundir']);
  assert.equal(r.stdout, `${dir}\n`);
  assert.ok(fs.existsSync(dir));
  fs.rmSync(dir, { recursive: true, force: true });
  const r2 = await flux(['start', '-s1', 'flux', 'getattr', 'rundir']);
  assert.equal(fs.existsSync(r2.stdout.trim()), false);
});

test('SIGKILL of flux start leaves no broker and no initial program behind', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fluxkill-'));
  const pidfile = path.join(dir, 'pids');
  // The initial program records every broker's pid and its own, then sleeps.
  const script = `for r in 0 1 2 3; do flux ping -c1 -r $r broker >/dev/null; done; ` +
    `echo $$ > ${pidfile}.prog; sleep 600 & echo $! > ${pidfile}.sleep; wait`;
  const launcher = spawn(process.execPath, [FLUX, 'start', '-s4', '-S', 'tbon.topo=kary:2', `--test-rundir=${dir}`, 'sh', '-c', script], { stdio: 'ignore' });
  const deadline = Date.now() + 20_000;
  while (!fs.existsSync(`${pidfile}.sleep`) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.ok(fs.existsSync(`${pidfile}.sleep`), 'initial program started');
  const uri = `local://${dir}/local-0`;
  const pids: number[] = [];
  for (let r = 0; r < 4; r++) {
    const g = await flux(['ping', '-c1', `${r}`], { ...process.env, FLUX_URI: uri });
    assert.equal(g.status, 0, g.stderr);
  }
  const h = await Flux.open(uri);
  for (let r = 0; r < 4; r++) pids.push(Number((await h.rpc('attr.get', { name: 'broker.pid' }, { nodeid: r }).get<{ value: string }>()).value));
  h.close();
  pids.push(Number(fs.readFileSync(`${pidfile}.prog`, 'utf8')), Number(fs.readFileSync(`${pidfile}.sleep`, 'utf8')));
  assert.equal(new Set(pids).size, 6);
  launcher.kill('SIGKILL');
  await waitGone(pids);
  fs.rmSync(dir, { recursive: true, force: true });
});
