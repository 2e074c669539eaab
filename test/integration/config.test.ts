/**
 * Broker configuration: `flux start -c DIR` / `--conf`, `config.get` through
 * `flux config get`, `flux config reload`, and bad files stopping start-up.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { flux, startInstance } from './helpers';

test('-c DIR merges its *.toml files; --conf updates them; flux config get picks keys and types', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'flux-conf-'));
  await fs.writeFile(path.join(dir, 'a.toml'), '[kvs]\ngc-threshold = 100\n');
  await fs.writeFile(path.join(dir, 'b.toml'), '[sched]\nperiod = "5m"\n');
  await fs.writeFile(path.join(dir, 'ignored.txt'), 'not toml');
  const r = await flux(['start', '-s2', '-c', dir, '--conf', 'kvs.gc-threshold=5', '--conf', '{"x":{"y":[1,2]}}', 'sh', '-c',
    'flux config get; flux config get kvs.gc-threshold; flux config get -t fsd-integer sched.period; flux config get x; ' +
    'flux config get -d dflt no.such; flux config get -q no.such || echo quiet=$?; ' +
    'FLUX_URI=$(flux getattr rundir | sed "s|^|local://|")/local-1 flux config get sched.period']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, [
    '{"kvs":{"gc-threshold":5},"sched":{"period":"5m"},"x":{"y":[1,2]}}', '5', '300', '{"y":[1,2]}', 'dflt', 'quiet=1', '5m', '',
  ].join('\n'));
  assert.equal(r.stderr, '');
  const bad = await flux(['start', '-s1', '-c', dir, 'flux config get -t string kvs.gc-threshold; flux config get nope']);
  assert.equal(bad.stderr, 'flux-config: kvs.gc-threshold does not have the requested type\nflux-config: nope is not set\n');
  await fs.rm(dir, { recursive: true, force: true });
});

test('a bad config file stops flux start with the file and line; reload keeps the old config on error', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'flux-conf-'));
  await fs.writeFile(path.join(dir, 'a.toml'), '[a]\nb = 1\n');
  const broken = path.join(dir, 'z.toml');
  await fs.writeFile(broken, 'x = [\n');
  const r = await flux(['start', '-s1', '-c', dir, 'echo', 'never']);
  assert.equal(r.status, 1);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, new RegExp(`^flux-start: Config file error: ${broken}:\\d+: `));
  await fs.rm(broken);
  const inst = await startInstance(1, [], ['-c', dir]);
  try {
    await fs.writeFile(path.join(dir, 'a.toml'), '[a]\nb = 2\n');
    assert.equal((await flux(['config', 'reload'], inst.env)).status, 0);
    assert.equal((await flux(['config', 'get', 'a.b'], inst.env)).stdout, '2\n');
    await fs.writeFile(broken, 'x = [\n');
    const fail = await flux(['config', 'reload'], inst.env);
    assert.equal(fail.status, 1);
    assert.match(fail.stderr, /^flux-config: reload: .*z\.toml:\d+: /);
    assert.equal((await flux(['config', 'get', 'a.b'], inst.env)).stdout, '2\n');
  } finally {
    assert.equal(await inst.stop(), 0);
    await fs.rm(dir, { recursive: true, force: true });
  }
});
