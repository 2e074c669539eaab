/**
 * FLUID job ids. Vectors marked VERIFIED are flux-core's own test tables
 * (src/common/libutil/test/fluid.c, test/basemoji.c, src/common/libjob/test/job.c)
 * or recordings of flux-core 0.88 (../shared/reference/flux-core-behaviour).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  detectJobIdFormat,
  encodeJobId,
  encodeF58,
  f58UseAscii,
  fluidCompose,
  FluidGenerator,
  fluidGenerator,
  fluidSeq,
  fluidTimestamp,
  jobKvsKey,
  parseJobId,
  tryParseJobId,
} from '../../broker/src/common/libjob/jobid';
import { janssonRealRepr, jsonPathKey, parseJson, pythonFloatRepr, stringifyJson } from '../../broker/src/common/libjob/json';
import { FluxError } from '../../broker/src/common/libflux/errno';

const MAX = 18446744073709551615n;

// VERIFIED: libjob/test/job.c jobid_parse_tests (encode and parse both ways).
const ENCODINGS: [bigint, Record<string, string>][] = [
  [0n, { dec: '0', hex: '0x0', dothex: '0000.0000.0000.0000', kvs: 'job.0000.0000.0000.0000', words: 'academy-academy-academy--academy-academy-academy', emoji: '😃', f58: 'ƒ1' }],
  [1n, { dec: '1', hex: '0x1', dothex: '0000.0000.0000.0001', kvs: 'job.0000.0000.0000.0001', words: 'acrobat-academy-academy--academy-academy-academy', emoji: '😄', f58: 'ƒ2' }],
  [65535n, { dec: '65535', hex: '0xffff', dothex: '0000.0000.0000.ffff', kvs: 'job.0000.0000.0000.ffff', words: 'nevada-archive-academy--academy-academy-academy', emoji: '💁📚', f58: 'ƒLUv' }],
  [6787342413402046n, { dec: '6787342413402046', hex: '0x181d0d4d850fbe', dothex: '0018.1d0d.4d85.0fbe', kvs: 'job.0018.1d0d.4d85.0fbe', words: 'cake-plume-nepal--neuron-pencil-academy', emoji: '👴😱🔚🎮🕙🚩', f58: 'ƒuzzybunny' }],
  // VERIFIED: t2200-job-ingest / t2201 MAXJOBID_* (dec, hex, kvs, dothex, words, f58)
  [MAX, { dec: '18446744073709551615', hex: '0xffffffffffffffff', dothex: 'ffff.ffff.ffff.ffff', kvs: 'job.ffff.ffff.ffff.ffff', words: 'natural-analyze-verbal--natural-analyze-verbal', emoji: '🚹💗💧👗😷📷📚', f58: 'ƒjpXCZedGfVQ' }],
];

test('every encoding of flux-core vectors, both ways', () => {
  for (const [id, forms] of ENCODINGS) {
    for (const [type, text] of Object.entries(forms)) {
      assert.equal(encodeJobId(id, type, { ascii: false }), text, `${id} as ${type}`);
      assert.equal(parseJobId(text), id, `parse ${text}`);
    }
  }
});

test('the brief vector 6731191091817518 (VERIFIED in fluid.c tests: ƒuZZybuNNy, 0x17e9fb8df16c2e)', () => {
  const id = 6731191091817518n;
  assert.equal(encodeJobId(id, 'f58', { ascii: false }), 'ƒuZZybuNNy');
  assert.equal(encodeJobId(id, 'f58', { ascii: true }), 'fuZZybuNNy');
  assert.equal(encodeJobId(id, 'hex'), '0x17e9fb8df16c2e');
  assert.equal(encodeJobId(id, 'kvs'), 'job.0017.e9fb.8df1.6c2e');
  assert.equal(jobKvsKey(id), 'job.0017.e9fb.8df1.6c2e');
  assert.equal(jobKvsKey(id, 'eventlog'), 'job.0017.e9fb.8df1.6c2e.eventlog');
  for (const s of ['ƒuZZybuNNy', 'fuZZybuNNy', '0x17e9fb8df16c2e', 'job.0017.e9fb.8df1.6c2e', '0017.e9fb.8df1.6c2e', '6731191091817518'])
    assert.equal(parseJobId(s), id, s);
  // Past 2^53: a Number would have rounded this id.
  assert.notEqual(BigInt(Number(MAX - 1n)), MAX - 1n);
});

// VERIFIED: fluid.c f58_tests / f58_alt_tests / fluid_parse_tests.
test('F58 table from fluid.c', () => {
  const table: [bigint, string][] = [
    [0n, '1'], [1n, '2'], [57n, 'z'], [1234n, 'NH'], [1888n, 'ZZ'], [3363n, 'zz'], [3364n, '211'], [4369n, '2JL'],
    [65535n, 'LUv'], [4294967295n, '7YXq9G'], [633528662n, 'xyzzy'], [6731191091817518n, 'uZZybuNNy'],
    [18446744073709551614n, 'jpXCZedGfVP'], [18446744073709551615n, 'jpXCZedGfVQ'],
  ];
  for (const [id, b58] of table) {
    assert.equal(encodeF58(id, { ascii: false }), 'ƒ' + b58);
    assert.equal(encodeF58(id, { ascii: true }), 'f' + b58);
    assert.equal(encodeJobId(id, 'f58plain'), 'f' + b58);
    assert.equal(parseJobId('ƒ' + b58), id);
    assert.equal(parseJobId('f' + b58), id);
  }
  assert.equal(parseJobId('f111'), 0n); // leading zero digits
});

test('F58 prefix follows FLUX_F58_FORCE_ASCII and the locale', () => {
  assert.equal(f58UseAscii({ FLUX_F58_FORCE_ASCII: '1', LANG: 'C.UTF-8' }), true);
  assert.equal(f58UseAscii({ LANG: 'C.UTF-8' }), false);
  assert.equal(f58UseAscii({ LC_ALL: 'C' }), true);
  assert.equal(f58UseAscii({ LC_ALL: 'en_US.utf8', LANG: 'C' }), false);
});

// VERIFIED: fluid_parse_tests rows in other forms, and emoji rows.
test('fluid_parse table', () => {
  const rows: [bigint, string][] = [
    [1234n, '1234'], [3364n, '3364'], [18446744073709551614n, '18446744073709551614'],
    [0n, '0x0'], [57n, '0x39'], [1234n, '0x4d2'], [3363n, '0xd23'], [633528662n, '0x25c2e156'],
    [0n, '0.0.0.0'], [57n, '0.0.0.0039'], [65535n, '0.0.0.ffff'], [4294967295n, '0000.0000.ffff.ffff'],
    [57n, '🙊'], [1234n, '😁👌'], [1888n, '😆🐻'], [4369n, '😊🌀'], [4294967295n, '😳🏪🍖🍸'],
  ];
  for (const [id, s] of rows) assert.equal(parseJobId(s), id, s);
  assert.equal(parseJobId(' 0xffff   '), 65535n);
  assert.equal(parseJobId('  1234  '), 1234n);
});

// VERIFIED: basemoji.c test table.
test('basemoji table', () => {
  const rows: [bigint, string][] = [
    [0n, '😃'], [1n, '😄'], [1234n, '😁👌'], [65535n, '💁📚'], [12342435n, '😠🙇📍'],
    [2034152287593n, '😪🏭🐭🍑👨'], [21900760568561664n, '🎆🍧🎆🐾🕓😃'],
    [18446743892750589633n, '🚹💗🔥😜💟🎱💃'], [18446744073709551615n, '🚹💗💧👗😷📷📚'],
  ];
  for (const [id, s] of rows) {
    assert.equal(encodeJobId(id, 'emoji'), s);
    assert.equal(parseJobId(s), id);
  }
});

// VERIFIED: the rejections in fluid.c / job.c tests.
test('bad ids are EINVAL', () => {
  for (const s of ['', '   ', 'boo', 'f', '-1', 'bogus', 'a-a-a--a-a-a', 'flux', 'f1230', 'x1', 'ƒ', 'ƒ1234567890123', '12a', '1.2.3']) {
    assert.throws(() => parseJobId(s), (e: unknown) => e instanceof FluxError && e.errnum === 22, JSON.stringify(s));
    assert.equal(tryParseJobId(s), undefined);
  }
  // decimal beyond 64 bits: strtoull's ERANGE
  assert.throws(() => parseJobId('18446744073709551616'), (e: unknown) => e instanceof FluxError && e.errnum === 34);
  // unknown encoding: EPROTO as flux_job_id_encode
  assert.throws(() => encodeJobId(1n, 'foo'), (e: unknown) => e instanceof FluxError && e.errnum === 71);
});

test('parse order: dothex and words win over an f prefix', () => {
  assert.equal(detectJobIdFormat('f000.0000.0000.0001'), 'dothex');
  assert.equal(detectJobIdFormat('fluid-academy-academy--academy-academy-academy'), 'words');
  assert.equal(detectJobIdFormat('fuZZybuNNy'), 'f58');
  assert.equal(detectJobIdFormat('😃'), 'emoji');
  assert.equal(detectJobIdFormat('0x10'), 'hex');
  assert.equal(detectJobIdFormat('10'), 'dec');
  // words: case-insensitive, trailing junk after six words ignored (mn_decode stops at an unknown word)
  assert.equal(parseJobId('ACROBAT-academy-academy--academy-academy-academy'), 1n);
  assert.equal(parseJobId('acrobat-academy-academy--academy-academy-academy-zzz'), 1n);
  assert.throws(() => parseJobId('acrobat-academy-academy--academy-academy'));
});

test('submit --cc ids of the recording are F58 FLUIDs with generator 0 and increasing sequence (VERIFIED submit-cc.txt)', () => {
  const rec = fs.readFileSync(path.resolve(__dirname, '../../../shared/reference/flux-core-behaviour/submit-cc.txt'), 'utf8');
  const lines = rec.split('\n').filter((l) => l.startsWith('ƒ'));
  const ids = lines.map(parseJobId);
  assert.equal(ids.length, 5);
  for (let i = 1; i < ids.length; i++) assert.ok(ids[i] > ids[i - 1]);
  ids.forEach((id, i) => {
    assert.equal(fluidGenerator(id), 0);
    assert.equal(encodeF58(id, { ascii: false }), lines[i]);
  });
  // ƒ6jaPtbZ and ƒ6jaPtba: same millisecond, consecutive sequence numbers
  assert.equal(ids[1] - ids[0], 1n);
  assert.equal(fluidTimestamp(ids[0]), fluidTimestamp(ids[1]));
});

test('compose and split', () => {
  const id = fluidCompose(123456789n, 5, 7);
  assert.equal(fluidTimestamp(id), 123456789n);
  assert.equal(fluidGenerator(id), 5);
  assert.equal(fluidSeq(id), 7);
  assert.throws(() => fluidCompose(1n << 40n, 0, 0));
  assert.throws(() => fluidCompose(0n, 16384, 0));
  assert.throws(() => fluidCompose(0n, 0, 1024));
});

test('generator: unique, increasing, waits when 1023 ids were made in one ms', () => {
  let now = 1000;
  let reads = 0;
  const clock = (): number => {
    reads++;
    // time advances only when the generator has to wait (many reads in a row)
    if (reads % 2000 === 0) now++;
    return now;
  };
  const gen = new FluidGenerator(3, 0n, clock);
  const seen = new Set<bigint>();
  let last = -1n;
  for (let i = 0; i < 5000; i++) {
    const id = gen.generate();
    assert.ok(id > last, 'increasing');
    assert.ok(!seen.has(id), 'unique');
    assert.equal(fluidGenerator(id), 3);
    assert.ok(fluidSeq(id) <= 1022, 'flux-core never hands out sequence 1023');
    seen.add(id);
    last = id;
  }
  assert.ok(fluidTimestamp(last) > 0n, 'the clock had to advance');
});

test('generator continues across restarts from the last timestamp + 1 (fluid.c restart test)', () => {
  let t = 0;
  const clock = (): number => t;
  let gen = new FluidGenerator(0, 0n, clock);
  let last = -1n;
  for (let i = 0; i < 2000; i++) {
    const id = gen.generate();
    assert.ok(id > last);
    last = id;
    // restart with a clock that went back to zero
    gen = new FluidGenerator(0, fluidTimestamp(id) + 1n, clock);
  }
  t = 5;
  assert.equal(gen.saveTimestamp(), fluidTimestamp(last) + 1n + 5n);
  // the timestamp continues past 2^53 / 2^24 without losing digits
  const big = new FluidGenerator(1, (1n << 40n) - 2n, () => 0);
  const id = big.generate();
  assert.equal(fluidTimestamp(id), (1n << 40n) - 2n);
  assert.ok(id > BigInt(Number.MAX_SAFE_INTEGER));
});

test('BigInt-safe JSON: ids past 2^53 survive parse and stringify', () => {
  const text = '{"id":18446744073709551615,"ids":[6731191091817518,9007199254740993],"t":1.5,"n":-12,"s":"12345678901234567890"}';
  const v = parseJson(text) as Record<string, unknown>;
  assert.equal(v.id, 18446744073709551615n);
  assert.deepEqual(v.ids, [6731191091817518, 9007199254740993n]);
  assert.equal(v.s, '12345678901234567890');
  assert.equal(stringifyJson(v), text);
  assert.equal(stringifyJson({ a: 1, b: [1, 2], c: { d: null } }, { layout: 'python' }), '{"a": 1, "b": [1, 2], "c": {"d": null}}');
  assert.equal(stringifyJson({ a: 1, b: [1, 2] }), '{"a":1,"b":[1,2]}');
  assert.equal(stringifyJson({ s: 'ƒ\n"' }, { layout: 'python' }), '{"s": "ƒ\\n\\""}');
  // a __proto__ key stays data
  const p = parseJson('{"__proto__": 12345678901234567890}') as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(p), Object.prototype);
  assert.equal(Object.keys(p)[0], '__proto__');
  assert.throws(() => parseJson('{"a": 12345678901234567890'));
  assert.throws(() => parseJson('[1,]  '));
});

test('jansson layout reproduces flux-core eventlog lines byte for byte (VERIFIED job-info.txt)', () => {
  const rec = fs.readFileSync(path.resolve(__dirname, '../../../shared/reference/flux-core-behaviour/job-info.txt'), 'utf8');
  const lines = rec.split('\n').filter((l) => l.startsWith('{"timestamp"'));
  assert.ok(lines.length >= 20);
  for (const l of lines) assert.equal(stringifyJson(parseJson(l), { layout: 'jansson' }), l);
  assert.equal(janssonRealRepr(0.05), '0.050000000000000003');
  assert.equal(janssonRealRepr(1e-5), '1.0000000000000001e-5');
  assert.equal(stringifyJson({ d: 300 }, { layout: 'jansson', floatPaths: new Set([jsonPathKey(['d'])]) }), '{"d":300.0}');
});

test('Python float repr as json.dumps writes it', () => {
  const rows: [number, string][] = [[300, '300.0'], [0.05, '0.05'], [1e16, '1e+16'], [1.5e16, '1.5e+16'], [1e-5, '1e-05'], [0.0001, '0.0001'], [-3, '-3.0'], [123.456, '123.456']];
  for (const [x, s] of rows) assert.equal(pythonFloatRepr(x), s);
  assert.equal(stringifyJson({ t: 0.5, n: 2 }, { layout: 'python' }), '{"t": 0.5, "n": 2}');
});
