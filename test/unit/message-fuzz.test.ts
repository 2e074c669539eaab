/**
 * Fuzzing the two decoders a client's bytes reach: decodeUsock()/UsockDecoder (the local socket)
 * and decodeFrames() (ZeroMQ frames). Inputs are the recorded flux-core messages, mutated: bit
 * flips, truncations, length fields that lie, huge sizes, extra and missing frames, splices, and
 * plain random bytes. The stream decoder gets each input in random chunk splits.
 *
 * Properties checked for every input:
 *  - the only exception that escapes is FluxError(EPROTO);
 *  - each input is decoded within a time bound (no hang, no quadratic blow-up);
 *  - the stream decoder never holds more bytes than it was given (a lying length allocates
 *    nothing), and refuses a length above its cap as soon as the header arrives;
 *  - stream and whole-buffer decoding agree, however the bytes are split;
 *  - whatever decodes re-encodes to bytes that decode to the same message.
 *
 * Seeded (mulberry32): a failure names its seed and iteration; rerun with FUZZ_SEED=<seed>.
 * FUZZ_COUNT=<n> changes the number of single-message inputs (default 100,000).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadVectors } from './vectors';
import { USOCK_MAGIC, USOCK_MAX_MESSAGE, UsockDecoder, decodeUsock, encodeUsock } from '../../broker/src/common/libflux/usock';
import { MAX_ROUTES, decodeFrames, encodeFrames, getJson, getString, type Message } from '../../broker/src/common/libflux/message';
import { FluxError, errno } from '../../broker/src/common/libflux/errno';

const SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) >>> 0 : (Date.now() ^ (process.pid << 16)) >>> 0;
const COUNT = process.env.FUZZ_COUNT !== undefined ? Math.max(1, Number(process.env.FUZZ_COUNT)) : 100_000;
const FRAME_INPUTS = Math.ceil(COUNT / 5);
const STREAMS = Math.ceil(COUNT / 50);
/** Per input: generous for a shared 2-core machine; a hang or a quadratic path takes far longer. */
const MAX_MS_PER_INPUT = 1000;

console.log(`message-fuzz: seed ${SEED} (rerun with FUZZ_SEED=${SEED}), ${COUNT} inputs`);

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const rand = prng(SEED);
const int = (n: number): number => Math.floor(rand() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
const randomBytes = (n: number): Buffer => {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = int(256);
  return b;
};

const corpus: Buffer[] = [];
for (const v of loadVectors().values()) for (const m of v.messages) corpus.push(Buffer.from(m.hex, 'hex'));

/** Split a well-formed usock message into its frames (test-side, for structured mutations). */
function framesOf(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let off = 8;
  while (off < buf.length) {
    let size = buf[off++];
    if (size === 0xff) {
      size = buf.readUInt32BE(off);
      off += 4;
    }
    out.push(buf.subarray(off, off + size));
    off += size;
  }
  return out;
}

/** Encode frames with a usock header (correct length unless told otherwise). */
function usock(frames: Buffer[], lenOverride?: number): Buffer {
  const parts: Buffer[] = [];
  for (const f of frames) {
    if (f.length < 255) parts.push(Buffer.from([f.length]));
    else {
      const h = Buffer.alloc(5);
      h[0] = 0xff;
      h.writeUInt32BE(f.length, 1);
      parts.push(h);
    }
    parts.push(f);
  }
  const body = Buffer.concat(parts);
  const head = Buffer.alloc(8);
  USOCK_MAGIC.copy(head);
  head.writeUInt32BE(lenOverride ?? body.length, 4);
  return Buffer.concat([head, body]);
}

const HUGE = [0xffffffff, 0xfffffffe, 0x80000000, USOCK_MAX_MESSAGE, USOCK_MAX_MESSAGE + 1, 0x7ffffff0, 0x01000000];

/** One mutated (or random) usock message; `kind` names the mutation for failure reports. */
function mutate(): { kind: string; buf: Buffer } {
  const base = pick(corpus);
  switch (int(14)) {
    case 0: {
      const b = Buffer.from(base);
      for (let n = 1 + int(8); n > 0; n--) b[int(b.length)] ^= 1 << int(8);
      return { kind: 'bit flips', buf: b };
    }
    case 1: {
      const b = Buffer.from(base);
      for (let n = 1 + int(4); n > 0; n--) b[int(b.length)] = int(256);
      return { kind: 'random bytes set', buf: b };
    }
    case 2:
      return { kind: 'truncated', buf: base.subarray(0, int(base.length)) };
    case 3:
      return { kind: 'trailing bytes', buf: Buffer.concat([base, randomBytes(1 + int(40))]) };
    case 4: {
      const b = Buffer.from(base);
      const lie = rand() < 0.5 ? pick(HUGE) : Math.max(0, b.readUInt32BE(4) + int(41) - 20);
      b.writeUInt32BE(lie >>> 0, 4);
      return { kind: `length lie ${lie}`, buf: b };
    }
    case 5: {
      // A frame size that lies: one byte size bumped, or an FF + u32 size claiming gigabytes.
      const fr = framesOf(base);
      const i = int(fr.length);
      const prefix = usock(fr.slice(0, i)).subarray(8);
      const rest = usock(fr.slice(i + 1)).subarray(8);
      const lie = rand() < 0.5 ? Buffer.from([0xff, 0xff, 0xff, 0xff, int(256)]) : Buffer.from([Math.min(254, fr[i].length + 1 + int(10))]);
      const body = Buffer.concat([prefix, lie, fr[i], rest]);
      const head = Buffer.alloc(8);
      USOCK_MAGIC.copy(head);
      head.writeUInt32BE(body.length, 4);
      return { kind: 'frame size lie', buf: Buffer.concat([head, body]) };
    }
    case 6: {
      const fr = framesOf(base);
      const extra = rand() < 0.3 ? Buffer.alloc(0) : randomBytes(int(rand() < 0.1 ? 600 : 30));
      fr.splice(int(fr.length + 1), 0, extra);
      return { kind: 'extra frame', buf: usock(fr) };
    }
    case 7: {
      const fr = framesOf(base);
      fr.splice(int(fr.length), 1);
      return { kind: 'missing frame', buf: usock(fr) };
    }
    case 8: {
      // The PROTO flags no longer describe the frames (route/topic/payload announced or not).
      const fr = framesOf(base);
      const proto = Buffer.from(fr[fr.length - 1]);
      proto[3] = int(256);
      if (rand() < 0.3) proto[2] = int(256);
      fr[fr.length - 1] = proto;
      return { kind: 'PROTO flags/type', buf: usock(fr) };
    }
    case 9: {
      const other = pick(corpus);
      return { kind: 'splice', buf: Buffer.concat([base.subarray(0, int(base.length)), other.subarray(int(other.length))]) };
    }
    case 10:
      return { kind: 'random', buf: rand() < 0.5 ? randomBytes(int(64)) : Buffer.concat([USOCK_MAGIC, randomBytes(int(80))]) };
    case 11: {
      // Many empty frames before PROTO (each would be an object if frames were materialized).
      const fr = framesOf(base);
      const n = 1 + int(rand() < 0.05 ? 20_000 : 200);
      const empties: Buffer[] = new Array<Buffer>(n).fill(Buffer.alloc(0));
      return { kind: `${n} empty frames`, buf: usock([...empties, ...fr.slice(-1)]) };
    }
    case 12: {
      // Routes: many, or the delimiter missing.
      const fr = framesOf(base);
      const proto = Buffer.from(fr[fr.length - 1]);
      proto[3] |= 0x08;
      // (Past MAX_ROUTES is its own test below: 65k routes per input would make this one slow.)
      const routes = Array.from({ length: 1 + int(rand() < 0.02 ? 3000 : 40) }, () => Buffer.from('r'));
      const delim = rand() < 0.7 ? [Buffer.alloc(0)] : [];
      return { kind: `${routes.length} routes${delim.length ? '' : ', no delimiter'}`, buf: usock([...routes, ...delim, ...fr.slice(0, -1).filter((f) => f.length > 0), proto]) };
    }
    default: {
      // Bad usock magic, or a header cut short.
      const b = Buffer.from(base);
      if (rand() < 0.5) b[int(4)] ^= 1 + int(255);
      return { kind: 'magic/header', buf: rand() < 0.5 ? b : b.subarray(0, int(8)) };
    }
  }
}

function isEproto(e: unknown): boolean {
  return e instanceof FluxError && e.errnum === errno.EPROTO;
}

function describe(e: unknown): string {
  return e instanceof Error ? `${e.constructor.name}: ${e.message}\n${e.stack ?? ''}` : String(e);
}

/** Stable description of a message for comparisons. */
function sig(m: Message): string {
  return JSON.stringify([m.type, m.flags, m.userid, m.rolemask, m.aux1, m.aux2, m.routes, m.topic, m.payload?.toString('hex')]);
}

/** Decoding what we encoded gives the same message (modulo the one trailing NUL frameString strips). */
function checkRoundTrip(m: Message): void {
  const again = decodeUsock(encodeUsock(m));
  const norm = (x: Message): Message => ({ ...x, topic: x.topic?.replace(/\0$/, ''), routes: x.routes.map((r) => r.replace(/\0$/, '')) });
  assert.equal(sig(norm(again)), sig(norm(m)), 're-encoded message decodes differently');
  // Payload accessors may refuse the payload, but only with EPROTO.
  for (const f of [() => getString(m), () => getJson(m)]) {
    try {
      f();
    } catch (e) {
      if (!isEproto(e)) throw e;
    }
  }
}

/** Random chunk boundaries, including 1-byte chunks and the whole buffer at once. */
function chunks(buf: Buffer): Buffer[] {
  if (rand() < 0.2) return [buf];
  const out: Buffer[] = [];
  const max = rand() < 0.3 ? 3 : 1 + int(64);
  for (let off = 0; off < buf.length; ) {
    const n = 1 + int(max);
    out.push(buf.subarray(off, off + n));
    off += n;
  }
  return out;
}

interface Feed {
  msgs: Message[];
  error?: FluxError;
  maxPending: number;
}

function feedAll(buf: Buffer): Feed {
  const d = new UsockDecoder();
  const msgs: Message[] = [];
  let error: FluxError | undefined;
  let fed = 0;
  let maxPending = 0;
  for (const c of chunks(buf)) {
    const r = d.feed(c);
    fed += c.length;
    msgs.push(...r.msgs);
    if (r.error) {
      assert.ok(!error, 'a second error after the stream failed');
      error = r.error;
    }
    // Memory follows the bytes received, never the length announced.
    assert.ok(d.pending <= fed, `decoder holds ${d.pending} bytes after ${fed} were fed`);
    maxPending = Math.max(maxPending, d.pending);
  }
  return { msgs, error, maxPending };
}

/**
 * What a stream must decode to, computed the plain way: message by message with decodeUsock,
 * stopping at the first error or at an incomplete message.
 */
function expectedStream(buf: Buffer): { msgs: string[]; error: boolean } {
  const msgs: string[] = [];
  let off = 0;
  while (buf.length - off >= 8) {
    if (!buf.subarray(off, off + 4).equals(USOCK_MAGIC)) return { msgs, error: true };
    const len = buf.readUInt32BE(off + 4);
    if (len > USOCK_MAX_MESSAGE) return { msgs, error: true };
    if (buf.length - off - 8 < len) break;
    try {
      msgs.push(sig(decodeUsock(buf.subarray(off, off + 8 + len))));
    } catch (e) {
      if (!isEproto(e)) throw e;
      return { msgs, error: true };
    }
    off += 8 + len;
  }
  return { msgs, error: false };
}

test('fuzz: mutated and random usock messages, whole and in random chunks', { timeout: 120_000 }, () => {
  assert.ok(corpus.length >= 50, `expected the recorded vectors, found ${corpus.length}`);
  const kinds = new Map<string, { n: number; ok: number; eproto: number }>();
  let worstMs = 0;
  let worst = '';
  let peakArrayBuffers = 0;
  for (let i = 0; i < COUNT; i++) {
    const { kind, buf } = mutate();
    const k = kind.replace(/\d+/g, 'N');
    const st = kinds.get(k) ?? { n: 0, ok: 0, eproto: 0 };
    kinds.set(k, st);
    st.n++;
    const where = `seed ${SEED} input ${i} (${kind}, ${buf.length} bytes: ${buf.subarray(0, 96).toString('hex')}${buf.length > 96 ? '…' : ''})`;
    const t0 = process.hrtime.bigint();
    try {
      let whole: Message | undefined;
      try {
        whole = decodeUsock(buf);
        checkRoundTrip(whole);
        st.ok++;
      } catch (e) {
        if (!isEproto(e)) assert.fail(`decodeUsock threw something other than EPROTO: ${describe(e)}\n${where}`);
        st.eproto++;
      }
      const f = feedAll(buf);
      if (f.error && !isEproto(f.error)) assert.fail(`UsockDecoder reported ${describe(f.error)}\n${where}`);
      // A single whole message: the stream decoder agrees with decodeUsock.
      if (whole) assert.deepEqual(f.msgs.map(sig), [sig(whole)], `stream and whole decode differ\n${where}`);
      const exp = expectedStream(buf);
      assert.deepEqual(f.msgs.map(sig), exp.msgs, `stream decoder differs from message-by-message decoding\n${where}`);
      assert.equal(f.error !== undefined, exp.error, `stream error ${f.error?.message ?? 'none'}, expected ${exp.error ? 'one' : 'none'}\n${where}`);
    } catch (e) {
      if (e instanceof assert.AssertionError) throw e;
      assert.fail(`unexpected exception: ${describe(e)}\n${where}`);
    }
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (ms > worstMs) {
      worstMs = ms;
      worst = kind;
    }
    assert.ok(ms < MAX_MS_PER_INPUT, `input took ${ms.toFixed(1)} ms\n${where}`);
    if (i % 5000 === 0) peakArrayBuffers = Math.max(peakArrayBuffers, process.memoryUsage().arrayBuffers);
  }
  // No input allocated anything near an announced (lying) length.
  assert.ok(peakArrayBuffers < 256 * 1024 * 1024, `array buffers reached ${peakArrayBuffers} bytes`);
  const rows = [...kinds].sort().map(([k, s]) => `  ${k}: ${s.n} (${s.ok} decoded, ${s.eproto} EPROTO)`);
  console.log(`message-fuzz: ${COUNT} inputs, slowest ${worstMs.toFixed(2)} ms (${worst})\n${rows.join('\n')}`);
  // The mutations must exercise both outcomes, or the fuzzer is not reaching the decoder.
  const ok = [...kinds.values()].reduce((s, k) => s + k.ok, 0);
  const bad = [...kinds.values()].reduce((s, k) => s + k.eproto, 0);
  assert.ok(ok > COUNT / 20 && bad > COUNT / 5, `decoded ${ok}, refused ${bad}: the mutations are not varied enough`);
});

test('fuzz: streams of several messages, one possibly bad, in random chunks', { timeout: 60_000 }, () => {
  for (let i = 0; i < STREAMS; i++) {
    const parts: Buffer[] = [];
    const n = 2 + int(6);
    const bad = rand() < 0.7 ? int(n) : -1;
    for (let j = 0; j < n; j++) parts.push(j === bad ? mutate().buf : pick(corpus));
    const buf = Buffer.concat(parts);
    const where = `seed ${SEED} stream ${i} (${n} messages, #${bad} mutated, ${buf.length} bytes)`;
    let f: Feed;
    try {
      f = feedAll(buf);
    } catch (e) {
      if (e instanceof assert.AssertionError) throw e;
      assert.fail(`unexpected exception: ${describe(e)}\n${where}`);
    }
    const exp = expectedStream(buf);
    assert.deepEqual(f.msgs.map(sig), exp.msgs, `stream decoder differs from message-by-message decoding\n${where}`);
    assert.equal(f.error !== undefined, exp.error, where);
    if (bad < 0) assert.equal(f.msgs.length, n, `every message of a clean stream decodes\n${where}`);
    // Messages ahead of the bad one are never lost, however the chunks fell.
    if (bad > 0) assert.ok(f.msgs.length >= bad, `only ${f.msgs.length} of the ${bad} good messages before the bad one\n${where}`);
  }
});

test('fuzz: ZeroMQ frame lists (decodeFrames)', { timeout: 60_000 }, () => {
  for (let i = 0; i < FRAME_INPUTS; i++) {
    let fr: Buffer[] = framesOf(pick(corpus)).map((f) => Buffer.from(f));
    switch (int(5)) {
      case 0:
        fr.splice(int(fr.length + 1), 0, randomBytes(int(30)));
        break;
      case 1:
        fr.splice(int(fr.length), 1);
        break;
      case 2: {
        const f = fr[int(fr.length)];
        if (f.length > 0) f[int(f.length)] ^= 1 << int(8);
        break;
      }
      case 3:
        fr = Array.from({ length: int(6) }, () => randomBytes(rand() < 0.5 ? 20 : int(40)));
        break;
      default:
        fr[fr.length - 1] = fr[fr.length - 1].subarray(0, int(21));
    }
    const where = `seed ${SEED} frame list ${i}: ${fr.map((f) => f.toString('hex')).join(' | ').slice(0, 300)}`;
    try {
      const m = decodeFrames(fr);
      // Whatever decodes re-encodes to frames that decode the same.
      assert.equal(sig(decodeFrames(encodeFrames(m))), sig({ ...m, topic: m.topic?.replace(/\0$/, ''), routes: m.routes.map((r) => r.replace(/\0$/, '')) }), where);
    } catch (e) {
      if (e instanceof assert.AssertionError) throw e;
      if (!isEproto(e)) assert.fail(`decodeFrames threw something other than EPROTO: ${describe(e)}\n${where}`);
    }
  }
});

test('a length above the cap is refused from the header alone; below it, nothing is allocated up front', () => {
  for (const len of [USOCK_MAX_MESSAGE + 1, 0xffffffff]) {
    const head = Buffer.alloc(8);
    USOCK_MAGIC.copy(head);
    head.writeUInt32BE(len, 4);
    const r = new UsockDecoder().feed(head);
    assert.ok(r.error && isEproto(r.error), `length ${len}: refused`);
    assert.match(r.error.message, /too large/);
  }
  const head = Buffer.alloc(8);
  USOCK_MAGIC.copy(head);
  head.writeUInt32BE(USOCK_MAX_MESSAGE, 4);
  const d = new UsockDecoder();
  const before = process.memoryUsage().arrayBuffers;
  assert.deepEqual(d.feed(Buffer.concat([head, Buffer.alloc(100)])), { msgs: [] });
  assert.equal(d.pending, 108);
  assert.ok(process.memoryUsage().arrayBuffers - before < 64 * 1024 * 1024, 'a 2 GiB announcement allocated memory');
  // A smaller cap (the constructor argument) applies the same way.
  const small = new UsockDecoder(16);
  const big = encodeUsock({ type: 1, flags: 0x01, userid: 0, rolemask: 0, aux1: 0, aux2: 0, routes: [], topic: 'a.topic.longer.than.sixteen' });
  const r = small.feed(big);
  assert.ok(r.error && /too large/.test(r.error.message));
});

test('a message of a million empty frames is refused quickly and without a frame per object', () => {
  const n = 1_000_000;
  const head = Buffer.alloc(8);
  USOCK_MAGIC.copy(head);
  head.writeUInt32BE(n + 21, 4);
  const proto = Buffer.from('148e0101000000000000000000ffffffff00000001', 'hex');
  const buf = Buffer.concat([head, Buffer.alloc(n), proto]);
  const heap0 = process.memoryUsage().heapUsed;
  const t0 = Date.now();
  // flags 0: every empty frame is an extra frame.
  assert.throws(() => decodeUsock(buf), (e: unknown) => isEproto(e) && /extra frames/.test((e as Error).message));
  assert.ok(Date.now() - t0 < 2000, `took ${Date.now() - t0} ms`);
  assert.ok(process.memoryUsage().heapUsed - heap0 < 50 * 1024 * 1024, 'decoding built per-frame objects');
});

test('more than MAX_ROUTES routes is a protocol error, MAX_ROUTES is not', () => {
  const proto = Buffer.from('8e0101080000000000000000ffffffff00000001', 'hex'); // request, flags ROUTE
  const r = (n: number): Buffer[] => [...Array.from({ length: n }, () => Buffer.from('x')), Buffer.alloc(0), proto];
  assert.equal(decodeUsock(usock(r(MAX_ROUTES))).routes.length, MAX_ROUTES);
  assert.throws(() => decodeUsock(usock(r(MAX_ROUTES + 1))), (e: unknown) => isEproto(e) && /too many routes/.test((e as Error).message));
  assert.throws(() => decodeFrames(r(MAX_ROUTES + 1)), (e: unknown) => isEproto(e));
});
