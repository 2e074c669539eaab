import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadVectors } from './vectors';
import { decodeUsock, encodeUsock, UsockDecoder } from '../../broker/src/common/libflux/usock';
import {
  FLAG_PAYLOAD,
  FLAG_ROUTE,
  FLAG_TOPIC,
  MSGTYPE_REQUEST,
  decodeFrames,
  deriveErrorResponse,
  encodeFrames,
  getJson,
  getString,
  newMessage,
  setJson,
  typeName,
} from '../../broker/src/common/libflux/message';
import { FluxError } from '../../broker/src/common/libflux/errno';

const vectors = loadVectors();

test('the recordings are present', () => {
  assert.ok(vectors.size >= 20, `expected the recorded vectors, found ${vectors.size}`);
});

for (const [file, v] of vectors) {
  test(`${file}: every message decodes to the recorded fields and re-encodes byte-identically`, () => {
    assert.ok(v.messages.length > 0);
    for (const [i, rec] of v.messages.entries()) {
      const bytes = Buffer.from(rec.hex, 'hex');
      const m = decodeUsock(bytes);
      const d = rec.decoded;
      const where = `${file} message ${i}`;
      assert.equal(typeName(m.type), d.type, where);
      assert.equal(`0x${m.flags.toString(16).padStart(2, '0')}`, d.flags_hex, where);
      assert.equal(m.userid, d.userid, where);
      assert.equal(m.rolemask, d.rolemask, where);
      assert.equal(m.aux1, d.nodeid_or_errnum, where);
      if (d.type !== 'event') assert.equal(m.aux2, d.matchtag, where);
      assert.deepEqual(m.routes, d.routes, where);
      assert.equal(m.topic, d.topic, where);
      if (d.payload_text != null) {
        assert.equal(m.payload!.length, d.payload_len, where);
        const text = m.payload![m.payload!.length - 1] === 0 ? m.payload!.subarray(0, -1) : m.payload!;
        assert.equal(text.toString('utf8'), d.payload_text, where);
      }
      assert.deepEqual(encodeFrames(m).map((f) => f.length), d.frame_sizes, where);
      assert.equal(encodeUsock(m).toString('hex'), rec.hex, `${where}: re-encoding differs`);
    }
  });
}

test('every server handshake in the recordings is the single byte 00', () => {
  for (const [file, v] of vectors) for (const c of v.connections) assert.equal(c.handshake_hex, '00', file);
});

test('the stream decoder yields the same messages however the bytes are split', () => {
  const v = vectors.get('module-list.json')!; // has a long (FF + u32) frame
  const stream = Buffer.concat(v.messages.filter((m) => m.dir === 's2c').map((m) => Buffer.from(m.hex, 'hex')));
  const whole = new UsockDecoder().push(stream).map((m) => encodeUsock(m).toString('hex'));
  assert.ok(whole.length >= 1);
  for (const step of [1, 2, 3, 7, 64, 255, 1000]) {
    const d = new UsockDecoder();
    const got: string[] = [];
    for (let off = 0; off < stream.length; off += step) {
      for (const m of d.push(stream.subarray(off, off + step))) got.push(encodeUsock(m).toString('hex'));
    }
    assert.deepEqual(got, whole, `chunks of ${step}`);
  }
});

test('frame sizes switch from one byte to FF + u32 at 255', () => {
  for (const [file, size] of [['frame-size-254.json', 254], ['frame-size-255.json', 255]] as const) {
    const rec = vectors.get(file)!.messages.find((m) => m.dir === 'c2s')!;
    const m = decodeUsock(Buffer.from(rec.hex, 'hex'));
    assert.equal(m.payload!.length, size);
    const body = encodeUsock(m).subarray(8);
    const frames = encodeFrames(m);
    const payloadOffset = frames.slice(0, -2).reduce((s, f) => s + 1 + f.length, 0);
    if (size === 254) assert.equal(body[payloadOffset], 0xfe);
    else assert.deepEqual([...body.subarray(payloadOffset, payloadOffset + 5)], [0xff, 0, 0, 0, 0xff]);
  }
});

test('malformed input is refused with EPROTO, never a crash', () => {
  const good = Buffer.from(vectors.get('getattr-rank.json')!.messages[0].hex, 'hex');
  const badMagic = Buffer.from(good);
  badMagic[0] = 0x13;
  assert.throws(() => new UsockDecoder().push(badMagic), (e: unknown) => e instanceof FluxError && e.errnum === 71);
  const badProto = Buffer.from(good);
  badProto[badProto.length - 20] = 0x00; // PROTO magic
  assert.throws(() => decodeUsock(badProto), (e: unknown) => e instanceof FluxError && e.errnum === 71);
  const truncated = Buffer.from(good);
  truncated.writeUInt32BE(good.length, 4); // claims more than it holds
  assert.throws(() => decodeUsock(truncated), (e: unknown) => e instanceof FluxError && e.errnum === 71);
  assert.throws(() => decodeFrames([Buffer.alloc(3)]), (e: unknown) => e instanceof FluxError && e.errnum === 71);
  // the decoder stays failed instead of resynchronising on garbage
  const d = new UsockDecoder();
  assert.throws(() => d.push(badMagic));
  assert.deepEqual(d.push(good), []);
});

test('building the recorded attr.get request byte for byte', () => {
  const m = newMessage(MSGTYPE_REQUEST, 'attr.get');
  m.flags |= FLAG_ROUTE;
  m.aux2 = 1;
  setJson(m, { name: 'rank' });
  assert.equal(m.flags, FLAG_TOPIC | FLAG_PAYLOAD | FLAG_ROUTE);
  assert.equal(encodeUsock(m).toString('hex'), vectors.get('getattr-rank.json')!.messages[0].hex);
});

test('JSON payloads need their trailing NUL; error responses carry text', () => {
  const m = newMessage(MSGTYPE_REQUEST, 'x.y');
  m.flags |= FLAG_PAYLOAD;
  m.payload = Buffer.from('{"a":1}');
  assert.throws(() => getJson(m), (e: unknown) => e instanceof FluxError && e.errnum === 71);
  setJson(m, { a: 1 });
  assert.deepEqual(getJson(m), { a: 1 });
  const r = deriveErrorResponse(m, 0, 'oops');
  assert.equal(r.aux1, 22, 'errnum 0 becomes EINVAL');
  assert.equal(getString(r), 'oops');
});
