/**
 * `flux pstree` on a real instance: the root `.`, running jobs combined (`3*[sleep]`), -a with
 * states, -X, -x details, truncation at COLUMNS, --skip-root and the argument errors of
 * flux-core 0.88's flux-pstree.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { flux, startInstance, type Instance } from './helpers';

let inst: Instance;
const run = (args: string[], env: NodeJS.ProcessEnv = {}): ReturnType<typeof flux> => flux(args, { ...inst.env, ...env });

before(async () => {
  inst = await startInstance(2);
});

after(async () => {
  await inst.stop();
});

test('an empty instance', async () => {
  assert.equal((await run(['pstree'])).stdout, '.\n');
  assert.equal((await run(['pstree', '-a'])).stdout, '.\n');
  assert.equal((await run(['pstree', '--skip-root=yes'])).stdout, '');
  assert.equal((await run(['pstree', '-x'])).stdout, '       JOBID USER     ST NTASKS NNODES  RUNTIME\n');
  const noskip = await run(['pstree', '-x', '--skip-root=no']);
  assert.equal(noskip.stdout.split('\n').length, 3);
  assert.match(noskip.stdout.split('\n')[1], /^ {11}\. \S+ +R +2 +2 +\S+ \.$/);
});

test('jobs under the root, combined, with states, details and truncation', async () => {
  const done = (await run(['submit', 'true'])).stdout.trim();
  assert.equal((await run(['job', 'wait-event', '-t', '20', done, 'clean'])).status, 0);
  const ids = (await run(['submit', '--cc=1-3', 'sleep', '300'])).stdout.trim().split('\n');
  for (const id of ids) assert.equal((await run(['job', 'wait-event', '-t', '20', id, 'start'])).status, 0);

  assert.equal((await run(['pstree'])).stdout, '.\n└── 3*[sleep]\n');
  assert.equal((await run(['pstree', '-X'])).stdout, '.\n├── sleep\n├── sleep\n└── sleep\n');
  assert.equal((await run(['pstree', '-a'])).stdout, '.\n├── 3*[sleep:R]\n└── true:CD\n');
  assert.equal((await run(['pstree', '-a', '--ascii', '--label={name} foo'])).stdout, '. foo\n|-- 3*[sleep foo]\n`-- true foo\n');
  assert.equal((await run(['pstree', '-a', '-C'])).stdout, '.\n├─3*[sleep:R]\n└─true:CD\n');
  assert.equal((await run(['pstree', '-a'], { COLUMNS: '10' })).stdout, '.\n├── 3*[sl+\n└── true:+\n');
  assert.equal((await run(['pstree', '-al'], { COLUMNS: '10' })).stdout, '.\n├── 3*[sleep:R]\n└── true:CD\n');
  assert.equal((await run(['pstree', '--skip-root=yes'])).stdout, '3*[sleep]\n');
  assert.equal((await run(['pstree', done])).stdout, 'true\n');
  const x = (await run(['pstree', '-x'])).stdout.split('\n');
  assert.equal(x[0], '       JOBID USER     ST NTASKS NNODES  RUNTIME');
  assert.equal(x.length, 5);
  for (const l of x.slice(1, 4)) assert.match(l, /^ +ƒ\S+ \S+ +R +1 +1 +\S+ sleep$/);
  assert.equal((await run(['pstree', '-n', '--detail-format={id.f58}', ...ids.slice(0, 1)])).stdout, `${ids[0]} sleep\n`);
  await run(['cancel', ...ids]);
});

test('argument errors', async () => {
  const yn = await run(['pstree', '--skip-root=foo']);
  assert.equal(yn.status, 1);
  assert.equal(yn.stderr, "flux-pstree: ERROR: --skip-root requires either 'yes' or 'no'\n");
  const det = await run(['pstree', '--details=foo']);
  assert.equal(det.status, 1);
  assert.equal(det.stderr, "flux-pstree: ERROR: Unknown --details format 'foo'\n");
  const f = await run(['pstree', '--filter=bubbling']);
  assert.equal(f.status, 1);
  assert.match(f.stderr, /Invalid filter specified: bubbling/);
  const ill = await run(['pstree', 'IllegalID']);
  assert.equal(ill.status, 2);
  assert.match(ill.stderr, /invalid JobID value: 'IllegalID'/);
  const unk = await run(['pstree', '123456789']);
  assert.equal(unk.status, 0);
  assert.match(unk.stderr, /unknown/);
});
