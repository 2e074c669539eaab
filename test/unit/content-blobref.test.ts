import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  blobrefHash, blobrefHashName, blobrefToDigest, blobrefValidate, digestToBlobref, hashDigestSize, isBlobref,
} from '../../broker/src/common/libcontent/blobref';
import { FluxError } from '../../broker/src/common/libflux/errno';

const EINVAL = 22;

function errnumOf(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof FluxError ? e.errnum : -1;
  }
  return undefined;
}

test('blobref of raw bytes: flux-core upstream vector (§12 item 16) and known digests', () => {
  // a-z four times, 104 bytes, no NUL: the valref blob from flux-core's own test suite.
  assert.equal(blobrefHash('sha1', Buffer.from('abcdefghijklmnopqrstuvwxyz'.repeat(4))),
    'sha1-d8cc4fd0a57d0e0e96cdb3e74164f734c593ed65');
  assert.equal(blobrefHash('sha1', Buffer.alloc(0)), 'sha1-da39a3ee5e6b4b0d3255bfef95601890afd80709');
  assert.equal(blobrefHash('sha256', Buffer.from('abc')),
    'sha256-ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
});

test('blobref validation follows blobref_validate()', () => {
  const good = 'sha1-da39a3ee5e6b4b0d3255bfef95601890afd80709';
  assert.equal(isBlobref(good), true);
  assert.equal(blobrefHashName(good), 'sha1');
  for (const bad of [
    'sha1-DA39A3EE5E6B4B0D3255BFEF95601890AFD80709', // uppercase is not a valid blobref
    'sha1-da39a3ee5e6b4b0d3255bfef95601890afd8070', // one digit short
    'sha1-da39a3ee5e6b4b0d3255bfef95601890afd807090', // one digit long
    'sha1da39a3ee5e6b4b0d3255bfef95601890afd80709', // no dash
    'md5-d41d8cd98f00b204e9800998ecf8427e',
    'sha1', 'sha1-', '', 'sha256-da39a3ee5e6b4b0d3255bfef95601890afd80709',
  ]) {
    assert.equal(isBlobref(bad), false, bad);
    assert.equal(errnumOf(() => blobrefValidate(bad)), EINVAL, bad);
  }
  assert.equal(isBlobref(42), false);
});

test('blobref <-> raw digest (content.load takes the digest bytes)', () => {
  const ref = blobrefHash('sha256', Buffer.from('hello'));
  const d = blobrefToDigest(ref);
  assert.equal(d.length, 32);
  assert.equal(digestToBlobref('sha256', d), ref);
  // Like blobref_strtohash(), digest parsing accepts either case of hex.
  assert.deepEqual(blobrefToDigest('sha1-DA39A3EE5E6B4B0D3255BFEF95601890AFD80709'),
    Buffer.from('da39a3ee5e6b4b0d3255bfef95601890afd80709', 'hex'));
  assert.equal(errnumOf(() => digestToBlobref('sha1', Buffer.alloc(19))), EINVAL);
  assert.equal(errnumOf(() => blobrefToDigest('sha1-xyz')), EINVAL);
  assert.equal(hashDigestSize('sha1'), 20);
  assert.equal(errnumOf(() => hashDigestSize('sha1-')), EINVAL);
});
