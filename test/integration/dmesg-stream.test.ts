// "Flux: Show dmesg" without the editor (extension/src/dmesg/dmesg-stream.ts) on 4 real ranks:
// every rank's history merged in time order, then new lines from any rank as they are logged,
// each once; "from now" skips the history.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DmesgStream } from '../../extension/src/dmesg/dmesg-stream';
import { FLUX, flux, startInstance, type Instance } from './helpers';

/** `flux logger MSG` run on one rank. */
function logOn(rank: number, msg: string): ReturnType<typeof flux> {
  return flux(['exec', '-r', String(rank), process.execPath, FLUX, 'logger', msg], inst.env);
}

let inst: Instance;

before(async () => {
  inst = await startInstance(4);
});

after(async () => {
  await inst?.stop();
});

function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const tick = (): void => {
      if (cond()) resolve();
      else if (Date.now() - t0 > ms) reject(new Error(`${what}: not within ${ms} ms`));
      else setTimeout(tick, 20);
    };
    tick();
  });
}

test('history of every rank in time order, then live lines from any rank, each once', async () => {
  for (const r of [3, 1]) {
    const res = await logOn(r, `before-${r}`);
    assert.equal(res.status, 0, res.stderr);
  }
  const lines: string[] = [];
  const f = new DmesgStream(inst.uri, [0, 1, 2, 3], { fromNow: false, line: (s) => lines.push(s), problem: (r, m) => assert.fail(`rank ${r}: ${m}`) });
  try {
    await f.start();
    const ranksSeen = new Set(lines.map((l) => /\[(\d+)\]: /.exec(l)?.[1]));
    assert.deepEqual([...ranksSeen].sort(), ['0', '1', '2', '3'], 'every rank\'s history is there');
    const i3 = lines.findIndex((l) => l.endsWith('before-3'));
    const i1 = lines.findIndex((l) => l.endsWith('before-1'));
    assert.ok(i3 >= 0 && i1 > i3, `rank 3's line (logged first) before rank 1's: ${i3} ${i1}`);
    const stamps = lines.map((l) => l.slice(0, l.indexOf(' ')));
    assert.deepEqual([...stamps].sort(), stamps, 'in time order');

    const res = await logOn(2, 'live-2');
    assert.equal(res.status, 0, res.stderr);
    await waitFor(() => lines.some((l) => l.endsWith('live-2')), 10_000, 'the live line');
    assert.match(lines.find((l) => l.endsWith('live-2')) ?? '', /\.notice\[2\]: live-2$/);
    assert.equal(lines.filter((l) => l.endsWith('before-1')).length, 1, 'no line twice');
  } finally {
    f.stop();
  }
});

test('from now: no history, only what is logged next', async () => {
  const lines: string[] = [];
  const f = new DmesgStream(inst.uri, [0, 1, 2, 3], { fromNow: true, line: (s) => lines.push(s), problem: () => {} });
  try {
    await f.start();
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(lines.length, 0, lines.join('\n'));
    const res = await logOn(1, 'fresh-1');
    assert.equal(res.status, 0, res.stderr);
    await waitFor(() => lines.some((l) => l.endsWith('fresh-1')), 10_000, 'the new line');
    assert.ok(!lines.some((l) => l.endsWith('before-3')));
  } finally {
    f.stop();
  }
});
