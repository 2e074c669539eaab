// "Flux: Run on Ranks…" without the terminal (extension/src/exec/run-session.ts) on a real
// 4-rank instance: labelled output as flux exec -l prints it, stdin broadcast, Ctrl-D, Ctrl-C,
// and flux exec's exit code and summary.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as os from 'node:os';
import * as path from 'node:path';
import { Flux } from '../../broker/src/common/libflux/handle';
import { RunSession, parseRanks } from '../../extension/src/exec/run-session';
import { ROOT, startInstance, type Instance } from './helpers';

let inst: Instance;
let h: Flux;

before(async () => {
  inst = await startInstance(4);
  h = await Flux.open(inst.uri);
});

after(async () => {
  h?.close();
  await inst?.stop();
});

/** The environment the extension passes: its own, with the bundled `flux` first on PATH. */
function env(): Record<string, string> {
  const e: Record<string, string> = {};
  for (const [k, v] of Object.entries(inst.env)) if (v !== undefined) e[k] = v;
  e.PATH = `${path.join(ROOT, 'dist/bin')}:${e.PATH ?? ''}`;
  return e;
}

test('ranks are parsed as flux exec takes them', () => {
  assert.deepEqual(parseRanks('all', 4), [0, 1, 2, 3]);
  assert.deepEqual(parseRanks(' 1-2 ', 4), [1, 2]);
  assert.throws(() => parseRanks('5', 4), /rank 5 is not in this instance \(ranks 0-3\)/);
  assert.throws(() => parseRanks('x', 4), /'x' is not an idset/);
});

test('output is labelled per rank and line; the exit code and summary are flux exec\'s', async () => {
  let out = '';
  const s = new RunSession(h, [0, 1, 2, 3], 'echo "hi from $(flux getattr rank)"; echo oops >&2; exit $(flux getattr rank)', {
    cwd: os.tmpdir(), env: env(), write: (t) => (out += t),
  });
  const r = await s.run();
  for (let rank = 0; rank < 4; rank++) {
    assert.ok(out.includes(`${rank}: hi from ${rank}\r\n`), `rank ${rank}'s line in ${JSON.stringify(out)}`);
    assert.match(out, new RegExp(`\x1b\\[33m[^\x1b]*${rank}: oops\r\n[^\x1b]*\x1b\\[0m`), `rank ${rank}'s stderr line, in colour`);
  }
  assert.equal(r.code, 3);
  assert.deepEqual([...r.summary].sort(), ['1: Exit 1', '2: Exit 2', '3: Exit 3']);
});

test('typed input reaches every rank; Ctrl-D ends it', async () => {
  let out = '';
  const s = new RunSession(h, [1, 2], 'cat', { env: env(), write: (t) => (out += t) });
  const done = s.run();
  // Give both processes time to start: input before `started` is not lost, but this keeps the test honest about streaming.
  for (let i = 0; i < 50 && !out && i < 50; i++) await new Promise((r) => setTimeout(r, 20));
  s.input('hello\r');
  s.input('\x04');
  const r = await done;
  assert.equal(r.code, 0);
  assert.ok(out.includes('1: hello\r\n') && out.includes('2: hello\r\n'), JSON.stringify(out));
});

test('Ctrl-C interrupts every rank: 130, summarized as Interrupt', async () => {
  const s = new RunSession(h, [0, 3], 'echo ready; exec sleep 30', { env: env(), write: () => {} });
  const done = s.run();
  await new Promise((r) => setTimeout(r, 700));
  s.input('\x03');
  const r = await done;
  assert.equal(r.code, 130);
  assert.deepEqual(r.summary, ['[0,3]: Interrupt']);
});

test('a command that cannot be found exits 127 everywhere', async () => {
  const s = new RunSession(h, [2], 'no-such-command-xyz', { env: env(), write: () => {} });
  const r = await s.run();
  assert.equal(r.code, 127);
  assert.deepEqual(r.summary, ['2: Exit 127']);
});
