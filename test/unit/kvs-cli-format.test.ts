/**
 * The bytes `flux kvs ls`, `dir` and `eventlog` print, pinned against flux-kvs.c's rules and the
 * flux-core 0.88 recordings (../shared/reference/flux-core-behaviour/kvs-*.txt).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  EventlogFormatter, decodeEventlog, dirLineDir, dirLineSymlink, encodeEventlogEntry, isCompactJson, kvLine, lsColumns,
} from '../../broker/src/cmd/kvs-format';
import { namespaceRow, NAMESPACE_HEADER } from '../../broker/src/cmd/kvs-namespace';

const REF = path.resolve(__dirname, '../../../shared/reference/flux-core-behaviour');

/** The output lines of the first `$ ...` block of a recording. */
function recorded(file: string): string {
  const text = fs.readFileSync(path.join(REF, file), 'utf8');
  const m = /^\$ .*\n([\s\S]*?)^\[exit status/m.exec(text);
  assert.ok(m, file);
  return m[1];
}

test('ls columns reproduce the recorded listings at 80 columns', () => {
  assert.equal(lsColumns(['admin', 'resource'], 80), recorded('kvs-ls.txt'));
  assert.equal(lsColumns(['R', 'eventlog'], 80), recorded('kvs-ls-resource.txt'));
  assert.equal(lsColumns(['J', 'R', 'eventlog', 'guest', 'jobspec'], 80), 'J           R           eventlog    guest       jobspec\n');
  assert.equal(lsColumns(['0030', '0031', '0032', '0034'], 80), '0030    0031    0032    0034\n');
  assert.equal(lsColumns(['exec', 'input', 'output'], 80), 'exec      input     output\n');
});

test('ls columns wrap when the next column would pass the width; 0 is unlimited; 1 is one per line', () => {
  const names = ['alpha', 'b', 'dead', 'ln', 'sub'];
  // columns of 9: 9+9 = 18 <= 20, 27 > 20
  assert.equal(lsColumns(names, 20), 'alpha    b\ndead     ln\nsub\n');
  assert.equal(lsColumns(names, 18), 'alpha    b\ndead     ln\nsub\n');
  assert.equal(lsColumns(names, 17), 'alpha\nb\ndead\nln\nsub\n');
  assert.equal(lsColumns(names, 1), 'alpha\nb\ndead\nln\nsub\n');
  assert.equal(lsColumns(names, 0), 'alpha    b        dead     ln       sub\n');
  // a name wider than the window still gets its own line
  assert.equal(lsColumns(['averyveryverylongname', 'x'], 10), 'averyveryverylongname\nx\n');
  assert.equal(lsColumns([], 80), '');
});

test('ls -F sizes a directory\'s columns by the undecorated names', () => {
  assert.equal(lsColumns(['d.', 'e.', 'm'], 80, 1), 'd.   e.   m\n');
  assert.equal(lsColumns(['d.', 'e.', 'm'], 80), 'd.    e.    m\n');
});

test('widths are counted in bytes, as strlen() does', () => {
  // é is 2 bytes: a column of 6 bytes, padded with 6 - 2 = 4 spaces
  assert.equal(lsColumns(['é', 'x'], 80), 'é    x\n');
  assert.equal(lsColumns(['é', 'x'], 7), 'é\nx\n');
});

test('dir lines: key = value, key., key -> target, ns::target', () => {
  assert.equal(kvLine('a.b.c', Buffer.from('1'), 80).toString(), 'a.b.c = 1\n');
  assert.equal(kvLine('a.b.f', Buffer.from('{"x":1}'), 80).toString(), 'a.b.f = {"x":1}\n');
  assert.equal(dirLineDir('a.b'), 'a.b.\n');
  assert.equal(dirLineSymlink('l', 'a.b'), 'l -> a.b\n');
  assert.equal(dirLineSymlink('l', 'a.b', 'ns1'), 'l -> ns1::a.b\n');
});

test('dir values are cut to width-3 bytes with "...", at a newline, and at a non-printable byte', () => {
  const v = Buffer.from('0123456789abcdef');
  assert.equal(kvLine('k', v, 0).toString(), 'k = 0123456789abcdef\n');
  assert.equal(kvLine('k', v, 20).toString(), 'k = 0123456789abc...\n');
  assert.equal(kvLine('k', v, 19).toString(), 'k = 0123456789ab...\n');
  // exactly width-3 fits without an ellipsis
  assert.equal(kvLine('k', Buffer.from('0123456789abc'), 20).toString(), 'k = 0123456789abc\n');
  // widths 1..3 mean no limit
  assert.equal(kvLine('k', v, 3).toString(), 'k = 0123456789abcdef\n');
  assert.equal(kvLine('k', Buffer.from('two\nlines'), 80).toString(), 'k = two...\n');
  // a trailing newline is dropped without an ellipsis
  assert.equal(kvLine('k', Buffer.from('one\n'), 80).toString(), 'k = one\n');
  assert.equal(kvLine('k', Buffer.from('tab\there'), 80).toString(), 'k = tab...\n');
  assert.equal(kvLine('k', Buffer.from('caf\u00e9'), 80).toString(), 'k = caf...\n');
  // the value is a C string: it ends at the first NUL, cut or not
  assert.equal(kvLine('k', Buffer.from('ab\0cd'), 0).toString('latin1'), 'k = ab\n');
  assert.equal(kvLine(undefined, Buffer.from('v'), 80).toString(), 'v\n');
});

test('eventlog lines: "%lf name key=value", --unformatted as stored, --human by minute', () => {
  const log = '{"timestamp":1700000000.25,"name":"submit","context":{"userid":1000,"urgency":16,"s":"x y"}}\n'
    + '{"timestamp":1700000001.5,"name":"alloc"}\n{"timestamp":1700000100.0,"name":"finish","context":{"status":0}}\n';
  const entries = decodeEventlog(log);
  assert.ok(entries);
  const text = new EventlogFormatter();
  assert.deepEqual(entries.map((e) => text.format(e)), [
    '1700000000.250000 submit userid=1000 urgency=16 s="x y"\n',
    '1700000001.500000 alloc\n',
    '1700000100.000000 finish status=0\n',
  ]);
  const raw = new EventlogFormatter({ unformatted: true });
  assert.equal(entries.map((e) => raw.format(e)).join(''), log);
  const prevTZ = process.env.TZ;
  process.env.TZ = 'UTC';
  try {
    const human = new EventlogFormatter({ human: true });
    assert.deepEqual(entries.map((e) => human.format(e)), [
      '[Nov14 22:13] submit userid=1000 urgency=16 s="x y"\n',
      '[  +1.250000] alloc\n',
      '[Nov14 22:15] finish status=0\n',
    ]);
  } finally {
    if (prevTZ === undefined) delete process.env.TZ;
    else process.env.TZ = prevTZ;
  }
});

test('eventlog colors: green time, yellow name (bold red exception), blue key, magenta/gray value', () => {
  const [a, b] = decodeEventlog('{"timestamp":1.5,"name":"exception","context":{"type":"x","n":2}}\n{"timestamp":2,"name":"ok"}\n') ?? [];
  const f = new EventlogFormatter({ color: true });
  assert.equal(f.format(a), '\x1b[32m1.500000\x1b[0m \x1b[1m\x1b[31mexception\x1b[0m \x1b[34mtype\x1b[0m=\x1b[35m"x"\x1b[0m \x1b[34mn\x1b[0m=\x1b[37m2\x1b[0m\n');
  assert.equal(f.format(b), '\x1b[32m2.000000\x1b[0m \x1b[33mok\x1b[0m\n');
});

test('eventlog decoding refuses what eventlog_decode refuses', () => {
  assert.deepEqual(decodeEventlog(''), []);
  assert.equal(decodeEventlog('{"timestamp":1,"name":"a"}'), undefined, 'no final newline');
  assert.equal(decodeEventlog('{"name":"a"}\n'), undefined, 'no timestamp');
  assert.equal(decodeEventlog('{"timestamp":1,"name":"a","context":[1]}\n'), undefined, 'context not an object');
  assert.equal(decodeEventlog('not json\n'), undefined);
  // a non-compact line is re-encoded compactly, as json_dumps would
  const [e] = decodeEventlog('{"timestamp": 1.5, "name": "a"}\n') ?? [];
  assert.equal(new EventlogFormatter({ unformatted: true }).format(e), '{"timestamp":1.5,"name":"a"}\n');
  assert.equal(isCompactJson('{"a":"x y"}'), true);
  assert.equal(isCompactJson('{"a": 1}'), false);
});

test('eventlog append encodes a jansson line: real timestamp, key order timestamp, name, context', () => {
  assert.equal(encodeEventlogEntry(2, 'second', { a: 1, b: 'x' }), '{"timestamp":2.0,"name":"second","context":{"a":1,"b":"x"}}\n');
  assert.equal(encodeEventlogEntry(0.1, 'first'), '{"timestamp":0.10000000000000001,"name":"first"}\n');
});

test('namespace list rows: %-36s %10u 0x%08X', () => {
  assert.equal(NAMESPACE_HEADER, 'NAMESPACE                                 OWNER      FLAGS\n');
  assert.equal(namespaceRow('primary', 1000, 0), `primary${' '.repeat(29)}       1000 0x00000000\n`);
  assert.equal(namespaceRow('x', 4294967295, 0xab), `x${' '.repeat(35)} 4294967295 0x000000AB\n`);
});
