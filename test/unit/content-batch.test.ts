import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeBlobBatch, encodeBlobBatch } from '../../broker/src/modules/content/batch';

test('blob batches: [u32 length][blob]... round-trips; a length past the end is EPROTO', () => {
  const blobs = [Buffer.from(''), Buffer.from('a'), Buffer.alloc(70000, 7)];
  const enc = encodeBlobBatch(blobs);
  assert.equal(enc.length, 4 * 3 + 1 + 70000);
  assert.deepEqual(decodeBlobBatch(enc), blobs);
  assert.deepEqual(decodeBlobBatch(Buffer.alloc(0)), []);
  assert.throws(() => decodeBlobBatch(enc.subarray(0, enc.length - 1)), (e: { errnum?: number }) => e.errnum === 71);
  assert.throws(() => decodeBlobBatch(Buffer.from([0, 0])), (e: { errnum?: number }) => e.errnum === 71);
});
