import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lz4CompressBlock, lz4DecompressBlock } from '../../broker/src/modules/content-sqlite/lz4';

// Blocks written by liblz4 1.9.4's LZ4_compress_default() (the call flux-core's content-sqlite
// makes), captured once through its C API. Decoding them proves the format, not just a round trip.
const jobs = Array.from({ length: 40 }, (_, i) => `{"id":${i},"name":"job-${i * i}","state":"RUN"}`).join('');
const LIBLZ4: Array<[Buffer, string]> = [
  [Buffer.from('hello'), '5068656c6c6f'],
  [Buffer.from('a'.repeat(300)), '1f610100ff14506161616161'],
  [Buffer.from('abcdefghijklmnopqrstuvwxyz'.repeat(4)), 'ff0b6162636465666768696a6b6c6d6e6f707172737475767778797a1a003650767778797a'],
  [Buffer.from(jobs), 'f00d7b226964223a302c226e616d65223a226a6f622d30222c227374617410005252554e227d2500193125001f31250003193225001f34250003193325001f39250003193425002f3136260003193526002f3235260003193626001f334c0004193726001f34980004193826001f36e30004193926001f382e01041a3179012f31307b01050b7c011f325000050a7f012f31349e00041a3182012f3136ec00041b3185011f393a01041b3187010f8801051a3189012f32355000050a8b012f3238a000050a8d012f3332f000050a8f012f33364001041a3290011f349001051a3290012f34345000050a90012f3438a000041a3290012f3532f000041a3290012f35374001041a3290011f369001051a3290011f365000060a90011f37a000060a90011f37f000060a90011f384001051a3390011f399001051a3390011f39e001051a3390012f31303102051a3391012f31308202051a3392012f3131d302051a3393012f31329401051a3394012f31327503051a3395012f3133c603051a3396012f31341704051a33970129313568045052554e227d'],
];

test('decodes blocks produced by liblz4', () => {
  assert.equal(jobs.length, 1584);
  for (const [raw, hex] of LIBLZ4) {
    const out = lz4DecompressBlock(Buffer.from(hex, 'hex'), raw.length);
    assert.ok(out, `decoded ${raw.length} bytes`);
    assert.deepEqual(out, raw);
  }
});

test('compresses to valid blocks that round-trip, and compresses repetitive data', () => {
  let x = 7;
  const noisy = Buffer.alloc(70000);
  for (let i = 0; i < noisy.length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    noisy[i] = (x >>> 16) & (i % 3 ? 0xff : 0x0f);
  }
  const inputs = [Buffer.alloc(0), Buffer.from('x'), Buffer.alloc(12, 1), Buffer.alloc(13, 1), Buffer.from(jobs), noisy,
    Buffer.from('z'.repeat(100000))];
  for (const raw of inputs) {
    const c = lz4CompressBlock(raw);
    assert.deepEqual(lz4DecompressBlock(c, raw.length), raw, `round trip of ${raw.length} bytes`);
  }
  assert.ok(lz4CompressBlock(Buffer.from('z'.repeat(100000))).length < 500, 'repetitive data shrinks');
  // Format end rules liblz4 enforces: no match may start in the last 12 bytes (so 13 bytes are
  // all literals), and the last 5 bytes are always literals (the final token has no match part).
  assert.equal(lz4CompressBlock(Buffer.alloc(13, 1)).toString('hex'), 'd0' + '01'.repeat(13));
  const tail = lz4CompressBlock(Buffer.alloc(20, 1)).subarray(-6);
  assert.deepEqual([tail[0] >> 4, tail[0] & 15], [5, 0]);
});

test('refuses corrupt blocks instead of overreading', () => {
  const good = Buffer.from(LIBLZ4[3][1], 'hex');
  assert.equal(lz4DecompressBlock(good, 1583), undefined, 'wrong size');
  assert.equal(lz4DecompressBlock(good, 1585), undefined, 'wrong size');
  assert.equal(lz4DecompressBlock(good.subarray(0, good.length - 10), 1584), undefined, 'truncated');
  assert.equal(lz4DecompressBlock(Buffer.from('1f610000ff14506161616161', 'hex'), 300), undefined, 'offset 0');
  assert.equal(lz4DecompressBlock(Buffer.from('1f61ff00ff14506161616161', 'hex'), 300), undefined, 'offset before start');
  assert.equal(lz4DecompressBlock(Buffer.from('f0', 'hex'), 10), undefined, 'length runs off the end');
  assert.equal(lz4DecompressBlock(Buffer.alloc(0), 1), undefined);
});
