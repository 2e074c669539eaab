/**
 * The pure parts of `flux exec` and the rexec service: exit codes and the
 * per-idset failure summary (in flux-core's zhashx order), rank filtering,
 * RFC 42 I/O objects, line buffering and wait statuses.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ExitSummary,
  ZhashxOrder,
  encodeIdsetBrackets,
  exitOf,
  filterRanks,
  launchFailureCode,
  strsignal,
} from '../../broker/src/cmd/exec-summary';
import { LineBuffer, ioDecode, ioEncode, waitStatus } from '../../broker/src/broker/rexec-proc';
import { parseCmd } from '../../broker/src/broker/rexec';
import { FluxError } from '../../broker/src/common/libflux/errno';

test('idsets in summaries: brackets only around more than one rank', () => {
  assert.equal(encodeIdsetBrackets([2]), '2');
  assert.equal(encodeIdsetBrackets([3, 1, 2]), '[1-3]');
  assert.equal(encodeIdsetBrackets([0, 2, 3, 7]), '[0,2-3,7]');
  assert.equal(encodeIdsetBrackets([]), '');
});

test('exit codes: remote code, 128+signal, launch failures', () => {
  assert.deepEqual(exitOf(0), { code: 0, key: undefined });
  assert.deepEqual(exitOf(1 << 8), { code: 1, key: 'Exit 1' });
  assert.deepEqual(exitOf(9), { code: 137, key: 'Killed' });
  assert.deepEqual(exitOf(15 | 0x80), { code: 143, key: 'Terminated' }); // core-dump bit ignored
  assert.deepEqual(exitOf(2), { code: 130, key: 'Interrupt' });
  assert.equal(strsignal(11), 'Segmentation fault');
  assert.equal(strsignal(34), 'Real-time signal 2');
  assert.equal(launchFailureCode(2), 127); // ENOENT
  assert.equal(launchFailureCode(13), 126); // EACCES
  assert.equal(launchFailureCode(1), 126); // EPERM
  assert.equal(launchFailureCode(113), 68); // EHOSTUNREACH
  assert.equal(launchFailureCode(22), 1);
});

test('summary lines match the recording (exec-echo-hi.txt) in any completion order', () => {
  const orders = [[1, 2, 3], [1, 3, 2], [2, 1, 3], [2, 3, 1], [3, 1, 2], [3, 2, 1]];
  for (const order of orders) {
    const s = new ExitSummary();
    s.completed(0, 0);
    for (const r of order) s.completed(r, r << 8);
    assert.deepEqual(s.lines(), ['1: Exit 1', '2: Exit 2', '3: Exit 3'], order.join(','));
    assert.equal(s.code, 3);
  }
  const s = new ExitSummary();
  for (const r of [1, 2, 3]) s.completed(r, 2 << 8);
  s.completed(0, 9);
  assert.deepEqual(s.lines(), ['0: Killed', '[1-3]: Exit 2'], 'zhashx order, not insertion order');
  assert.equal(s.code, 137);
  s.failed(2);
  assert.equal(s.code, 137, 'the largest code wins');
  const f = new ExitSummary();
  f.failed(2);
  f.completed(0, 0);
  assert.equal(f.code, 127);
  assert.deepEqual(f.lines(), []);
});

test('zhashx order: not insertion order, stable across growth', () => {
  const z = new ZhashxOrder<number>();
  const keys = ['Exit 1', 'Exit 2', 'Exit 3', 'Killed', 'Terminated', 'Exit 127', 'Exit 5'];
  keys.forEach((k, i) => z.insert(k, i));
  const got = z.entries().map(([k]) => k);
  assert.deepEqual([...got].sort(), [...keys].sort());
  assert.notDeepEqual(got, keys);
  for (const [k, v] of z.entries()) assert.equal(z.get(k), v);
  z.insert('Exit 1', 99);
  assert.equal(z.get('Exit 1'), 0, 'a duplicate insert leaves the item');
});

test('rank filtering as flux-core filter_ranks()', () => {
  const all = [0, 1, 2, 3];
  assert.deepEqual(filterRanks(all, 'all', undefined, false), all);
  assert.deepEqual(filterRanks(all, 'all', '0', false), [1, 2, 3]);
  assert.deepEqual(filterRanks(all, '1,3', undefined, false), [1, 3]);
  assert.deepEqual(filterRanks(all, '[0-2]', '1,9', false), [0, 2]);
  assert.throws(() => filterRanks(all, '7', undefined, false), (e: unknown) => e instanceof FluxError && e.message === 'One or more invalid --ranks specified: 7');
  assert.throws(() => filterRanks(all, 'foo', undefined, false), /failed to decode idset 'foo': Invalid argument/);
  assert.throws(() => filterRanks(all, 'all', 'x', false), /error decoding --exclude idset: Invalid argument/);
  // --jobid: indices into the job's ranks
  assert.deepEqual(filterRanks([4, 6, 9], '1-2', '0', true), [6, 9]);
});

test('RFC 42 I/O objects: UTF-8 text, base64 otherwise, eof', () => {
  assert.deepEqual(ioEncode('stdout', '0', Buffer.from('hi\n'), false), { stream: 'stdout', rank: '0', data: 'hi\n' });
  assert.equal(JSON.stringify(ioEncode('stderr', '3', Buffer.from([0xff, 0x00]), false)),
    '{"stream":"stderr","rank":"3","encoding":"base64","data":"/wA="}');
  assert.deepEqual(ioEncode('stdout', '1', undefined, true), { stream: 'stdout', rank: '1', eof: true });
  const back = ioDecode({ stream: 'stdin', rank: '0', encoding: 'base64', data: '/wA=', eof: true });
  assert.deepEqual([...back.data], [0xff, 0]);
  assert.equal(back.eof, true);
  assert.throws(() => ioDecode({ stream: 'stdin', rank: '0' }), (e: unknown) => e instanceof FluxError && e.errnum === 71);
  assert.throws(() => ioDecode({ rank: '0', data: 'x' }), (e: unknown) => e instanceof FluxError && e.errnum === 71);
});

test('output goes out in whole lines, all of a read at once; a full buffer goes out as it is', () => {
  const got: string[] = [];
  const lb = new LineBuffer((b) => got.push(b.toString()), 8);
  lb.push(Buffer.from('ab\ncd'));
  lb.push(Buffer.from('e\nf'));
  lb.push(Buffer.from('ghijklmnop'));
  lb.push(Buffer.from('1\n2\n3\n4'));
  lb.flush();
  assert.deepEqual(got, ['ab\n', 'cde\n', 'fghijklm', 'nop1\n2\n3\n', '4']);
});

test('wait statuses', () => {
  assert.equal(waitStatus(0, null), 0);
  assert.equal(waitStatus(3, null), 3 << 8);
  assert.equal(waitStatus(null, 'SIGKILL'), 9);
  assert.equal(waitStatus(null, 'SIGTERM'), 15);
});

test('command objects are checked as flux-core checks them', () => {
  const ok = { cmdline: ['echo'], env: {}, opts: {}, channels: [] };
  assert.deepEqual(parseCmd({ ...ok, cwd: '/tmp', label: 'x' }), { ...ok, cwd: '/tmp', label: 'x' });
  for (const bad of [null, { ...ok, cmdline: 'echo' }, { ...ok, env: { A: 1 } }, { ...ok, label: '' }, { ...ok, channels: undefined }]) {
    assert.throws(() => parseCmd(bad), (e: unknown) => e instanceof FluxError && e.errnum === 71 && e.message === 'error parsing command string');
  }
});
