import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as treeobj from '../../broker/src/common/libkvs/treeobj';
import { base64DecodeStrict } from '../../broker/src/common/libkvs/base64';
import { compareKeysUtf8, formatReal, janssonDumps, JsonReal, quoteString, sortKeysUtf8 } from '../../broker/src/common/libkvs/jansson';
import { FluxError } from '../../broker/src/common/libflux/errno';

const EINVAL = 22, EPROTO = 71;

function errnumOf(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof FluxError ? e.errnum : -1;
  }
  return undefined;
}

test('vectors: §12 item 15 (val "hello") and the empty directory', () => {
  const v = treeobj.createVal('hello');
  assert.equal(treeobj.encode(v), '{"data":"aGVsbG8=","type":"val","ver":1}');
  assert.deepEqual(treeobj.decodeVal(v), Buffer.from('hello'));
  const d = treeobj.createDir();
  assert.equal(treeobj.encode(d), '{"data":{},"type":"dir","ver":1}');
  assert.equal(treeobj.hash('sha1', d), 'sha1-c0a9faf907dda6216fd73bf81d0b3b21a1a8cb91');
  // flux kvs get --treeobj a.b.c after put a.b.c=1 (recorded on flux-core 0.88)
  assert.equal(treeobj.encode(treeobj.createVal('1')), '{"data":"MQ==","type":"val","ver":1}');
});

test('encoding is jansson COMPACT|SORT_KEYS: byte-order keys, raw UTF-8, uppercase \\u escapes, no slash escape', () => {
  const dir = treeobj.createDir();
  // UTF-16 order would put U+1F600 (surrogates D83D..) before U+FFFD; UTF-8 byte order does not.
  for (const name of ['b', 'B', 'a/b', '\u{1F600}', '\uFFFD', 'é', 'a\u0001"\\\n']) {
    treeobj.insertEntry(dir, name, treeobj.createVal(''));
  }
  const val = '{"data":"","type":"val","ver":1}';
  assert.equal(treeobj.encode(dir),
    `{"data":{"B":${val},"a\\u0001\\"\\\\\\n":${val},"a/b":${val},"b":${val},"é":${val},"\uFFFD":${val},"\u{1F600}":${val}},"type":"dir","ver":1}`);
  assert.equal(quoteString('\u007f\u001f\t\b\f\r'), '"\u007f\\u001F\\t\\b\\f\\r"');
  assert.equal(errnumOf(() => quoteString('\ud800')), EINVAL, 'lone surrogate has no UTF-8 form');
});

test('jansson number formatting ("%.17g" reals, ".0" suffix, exponent without + or leading zeros)', () => {
  const cases: Array<[number, string]> = [
    [0.1, '0.10000000000000001'], [1, '1.0'], [1e20, '1e20'], [1e-5, '1.0000000000000001e-5'],
    [1732491234.5, '1732491234.5'], [-0, '-0.0'], [1e16, '10000000000000000.0'], [1e17, '1e17'],
    [1 / 3, '0.33333333333333331'], [5e-324, '4.9406564584124654e-324'], [1.7976931348623157e308, '1.7976931348623157e308'],
  ];
  for (const [x, s] of cases) assert.equal(formatReal(x), s, String(x));
  assert.equal(janssonDumps({ t: new JsonReal(2), i: 2, b: 2n ** 62n, n: null, f: false }),
    '{"t": 2.0, "i": 2, "b": 4611686018427387904, "n": null, "f": false}');
  assert.equal(janssonDumps([1, [2, 3]], { compact: true }), '[1,[2,3]]');
  assert.equal(errnumOf(() => janssonDumps(NaN)), EINVAL);
});

test('validation follows treeobj_validate() (EINVAL) and decode() gives EPROTO', () => {
  const ref = 'sha1-c0a9faf907dda6216fd73bf81d0b3b21a1a8cb91';
  const good: unknown[] = [
    { ver: 1, type: 'val', data: '!!not base64 is not checked here' },
    { ver: 1, type: 'valref', data: [ref, ref] },
    { ver: 1, type: 'dirref', data: [ref] },
    { ver: 1, type: 'symlink', data: { target: 'a.b' } },
    { ver: 1, type: 'symlink', data: { target: 'a.b', namespace: 'ns', extra: 1 } },
    { ver: 1, type: 'dir', data: { x: { ver: 1, type: 'dirref', data: [ref] } } },
  ];
  for (const o of good) assert.equal(errnumOf(() => treeobj.validate(o)), undefined, JSON.stringify(o));
  const bad: unknown[] = [
    null, [], 'x', { ver: 2, type: 'val', data: '' }, { ver: 1, type: 'val', data: '', x: 1 },
    { ver: 1, type: 'val' }, { ver: 1, type: 'val', data: 5 }, { ver: 1, type: 'hdir', data: {} },
    { ver: 1, type: 'valref', data: [] }, { ver: 1, type: 'valref', data: ['sha1-zz'] },
    { ver: 1, type: 'dirref', data: ref }, { ver: 1, type: 'symlink', data: 'a.b' },
    { ver: 1, type: 'symlink', data: { namespace: 'x' } }, { ver: 1, type: 'symlink', data: { target: 'a', namespace: 3 } },
    { ver: 1, type: 'dir', data: { x: { ver: 1, type: 'val', data: 1 } } }, { ver: '1', type: 'val', data: '' },
  ];
  for (const o of bad) assert.equal(errnumOf(() => treeobj.validate(o)), EINVAL, JSON.stringify(o));
  assert.equal(errnumOf(() => treeobj.decode('{"ver":1,')), EPROTO);
  assert.equal(errnumOf(() => treeobj.decode('{"ver":1,"type":"val"}')), EPROTO);
  assert.deepEqual(treeobj.decode(Buffer.from('{"data":"aGVsbG8=","type":"val","ver":1}')), treeobj.createVal('hello'));
});

test('symlinks: namespace optional, key omitted when absent', () => {
  assert.equal(treeobj.encode(treeobj.createSymlink('a.b')), '{"data":{"target":"a.b"},"type":"symlink","ver":1}');
  assert.equal(treeobj.encode(treeobj.createSymlink('a.b', 'job-5')),
    '{"data":{"namespace":"job-5","target":"a.b"},"type":"symlink","ver":1}');
  assert.deepEqual(treeobj.getSymlink(treeobj.createSymlink('x', 'ns')), { target: 'x', namespace: 'ns' });
});

test('directory entries are plain keys, including __proto__', () => {
  const dir = treeobj.createDir();
  treeobj.insertEntry(dir, '__proto__', treeobj.createVal('p'));
  treeobj.insertEntry(dir, 'constructor', treeobj.createVal('c'));
  assert.deepEqual(treeobj.decodeVal(treeobj.getEntry(dir, '__proto__')), Buffer.from('p'));
  assert.equal(treeobj.peekEntry(dir, 'toString'), undefined);
  assert.equal(errnumOf(() => treeobj.getEntry(dir, 'hasOwnProperty')), 2);
  assert.equal(treeobj.getCount(dir), 2);
  assert.match(treeobj.encode(dir), /^\{"data":\{"__proto__":/);
  const round = treeobj.decode(treeobj.encode(dir));
  assert.deepEqual(treeobj.decodeVal(treeobj.getEntry(round, '__proto__')), Buffer.from('p'));
  treeobj.deleteEntry(dir, '__proto__');
  assert.equal(errnumOf(() => treeobj.deleteEntry(dir, '__proto__')), 2);
  assert.equal(errnumOf(() => treeobj.insertEntry(treeobj.createVal('x'), 'a', treeobj.createDir())), EINVAL);
  assert.equal(errnumOf(() => treeobj.insertEntry(dir, 'a', { ver: 1, type: 'val' })), EINVAL);
});

test('base64 decoding accepts and refuses what ccan/base64 does', () => {
  assert.deepEqual(base64DecodeStrict('aGVsbG8='), Buffer.from('hello'));
  assert.deepEqual(base64DecodeStrict('aGVsbG8'), Buffer.from('hello'), 'padding optional');
  assert.deepEqual(base64DecodeStrict(''), Buffer.alloc(0));
  assert.deepEqual(base64DecodeStrict('AAECAw=='), Buffer.from([0, 1, 2, 3]));
  for (const bad of ['a', 'aGVsb G8=', 'aGV=bG8=', 'aGVsbG8*', 'aGVsbG8=A']) {
    assert.equal(base64DecodeStrict(bad), undefined, bad);
  }
  assert.equal(errnumOf(() => treeobj.decodeVal({ ver: 1, type: 'val', data: '!!' })), EINVAL);
  assert.equal(errnumOf(() => treeobj.decodeVal(treeobj.createDir())), EINVAL);
});

test('sortKeysUtf8 (fast path and wide-character path) orders keys exactly as the UTF-8 memcmp comparator', () => {
  const alphabet = ['a', 'b', 'Z', '0', '.', '', 'é', '\u00ff', '\u0100', '\ud7ff', '\ue000', '\uffff', '\ud83d\ude00', '\ud800\udc00'];
  let seed = 12345;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  for (const wide of [false, true]) {
    const pool = wide ? alphabet : alphabet.slice(0, 10);
    for (let round = 0; round < 50; round++) {
      const keys = Array.from({ length: 30 }, () => Array.from({ length: 1 + rand(4) }, () => pool[rand(pool.length)]).join(''));
      const expected = [...keys].sort(compareKeysUtf8);
      assert.deepEqual(sortKeysUtf8([...keys]), expected);
    }
  }
  // The case where UTF-16 order and UTF-8 order disagree: U+E000 sorts before U+1F600 in UTF-8.
  assert.deepEqual(sortKeysUtf8(['\ud83d\ude00', '\ue000']), ['\ue000', '\ud83d\ude00']);
  assert.equal(quoteString('plain/ascii'), '"plain/ascii"');
  assert.equal(quoteString('tab\there'), '"tab\\there"');
});
