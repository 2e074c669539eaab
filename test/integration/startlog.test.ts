/**
 * The start log (`admin.eventlog`): rc1 posts `start`, rc3 posts `finish`; with
 * a statedir the history survives restarts, and a run killed with SIGKILL shows
 * as `crashed` (flux startlog --check exits 1), as flux-core's does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { flux, startInstance, waitGone } from './helpers';

test('flux startlog lists each run; a killed run is "crashed"; flux kvs ls -R of a fresh instance is flux-core\'s', async () => {
  const statedir = await fs.mkdtemp(path.join(os.tmpdir(), 'flux-startlog-'));
  const first = await flux(['start', '-s2', '-S', `statedir=${statedir}`, 'sh', '-c', 'flux kvs ls -R; flux startlog']);
  assert.equal(first.status, 0, first.stderr);
  const [ls, log1] = [first.stdout.split('\n').slice(0, 8).join('\n'), first.stdout.split('\n').slice(8).join('\n')];
  assert.equal(ls, '.:\nadmin       resource\n\nadmin:\neventlog\n\nresource:\nR           eventlog');
  assert.match(log1, /^\d{4}-\d\d-\d\d \d\d:\d\d - running \([\d.]+m?s\)\n$/);

  // A second run sees the first one finished; then it is killed outright.
  const inst = await startInstance(2, [`statedir=${statedir}`]);
  const second = await flux(['startlog'], inst.env);
  assert.match(second.stdout, /^\S+ \S+ - \S+ \S+ \([\d.]+m?s\)\n\S+ \S+ - running \(/);
  assert.equal((await flux(['startlog', '--check'], inst.env)).status, 0);
  inst.launcher.kill('SIGKILL');
  await waitGone(inst.pids);

  const third = await flux(['start', '-s1', '-S', `statedir=${statedir}`, 'sh', '-c', 'flux startlog; flux startlog --check --quiet; echo check=$?']);
  assert.equal(third.status, 0, third.stderr);
  const lines = third.stdout.trim().split('\n');
  assert.equal(lines.length, 4, third.stdout);
  assert.match(lines[1], / - crashed$/);
  assert.match(lines[2], / - running \(/);
  assert.equal(lines[3], 'check=1');
  await fs.rm(statedir, { recursive: true, force: true });
});
