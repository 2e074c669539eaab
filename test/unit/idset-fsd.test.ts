import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeIdset, encodeIdset, isIdset } from '../../broker/src/common/libidset/idset';
import { parseFsd } from '../../broker/src/common/libutil/fsd';

test('RFC 22 idsets', () => {
  assert.deepEqual(decodeIdset('0-3,5'), [0, 1, 2, 3, 5]);
  assert.deepEqual(decodeIdset('[7,1-2]'), [1, 2, 7]);
  assert.equal(encodeIdset([5, 0, 1, 2, 3]), '0-3,5');
  for (const bad of ['01', '3-1', 'a', '1,,2', '-1']) assert.equal(isIdset(bad), false, bad);
  assert.equal(isIdset('kvs'), false);
  assert.equal(isIdset('3'), true);
});

test('RFC 23 durations', () => {
  assert.equal(parseFsd('20'), 20);
  assert.equal(parseFsd('1.5m'), 90);
  assert.equal(parseFsd('250ms'), 0.25);
  assert.equal(parseFsd('inf'), Infinity);
  assert.throws(() => parseFsd('5x'));
});
