/**
 * The content module's mapped files (modules/content/mmap.ts), driven without a broker: what
 * mmap-add indexes, how loads are checked against a changed file, what list and remove answer.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FLAG_STREAMING, MSGTYPE_REQUEST, newMessage } from '../../broker/src/common/libflux/message';
import { FluxError, errno } from '../../broker/src/common/libflux/errno';
import type { Responder } from '../../broker/src/broker/service';
import { CHANGED, ContentMmap } from '../../broker/src/modules/content/mmap';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'content-mmap-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

interface Answer {
  responses: Record<string, unknown>[];
  error?: { errnum: number; text?: string };
}

function responder(payload: Record<string, unknown>, streaming = false): { r: Responder; a: Answer } {
  const a: Answer = { responses: [] };
  const msg = newMessage(MSGTYPE_REQUEST, 'content.x');
  if (streaming) msg.flags |= FLAG_STREAMING;
  const r: Responder = {
    msg,
    json: <T>() => payload as T,
    respond: (o) => void a.responses.push(o),
    respondRaw: () => undefined,
    respondError: (errnum, text) => void (a.error = { errnum, text }),
  };
  return { r, a };
}

async function call(fn: (r: Responder) => unknown, payload: Record<string, unknown>, streaming = false): Promise<Answer> {
  const { r, a } = responder(payload, streaming);
  try {
    await fn(r);
  } catch (e) {
    if (!(e instanceof FluxError)) throw e;
    a.error = { errnum: e.errnum, text: e.hasText ? e.message : undefined };
  }
  return a;
}

const sha1 = (b: Buffer): Buffer => crypto.createHash('sha1').update(b).digest();

test('mmap-add indexes the file\'s chunks; loads read them back; a change fails the load', async () => {
  const mm = new ContentMmap(0, 'sha1');
  const f = path.join(dir, 'a.bin');
  const data = crypto.randomBytes(2500);
  fs.writeFileSync(f, data);
  assert.deepEqual(await call((r) => mm.add(r), { path: f, chunksize: 1024, tag: 'A' }), { responses: [{}] });
  assert.equal(mm.mappedBlobs, 3 + 1, 'three chunks and the serialized fileref');
  const d1 = sha1(data.subarray(1024, 2048));
  const p = mm.lookup(d1);
  assert.ok(p);
  assert.deepEqual(await mm.read(d1, p), data.subarray(1024, 2048));
  // concurrent loads of one blob share a read
  const [x, y] = await Promise.all([mm.read(d1, p), mm.read(d1, p)]);
  assert.equal(x, y);
  // the content changes in place: the re-hash catches it
  const fd = fs.openSync(f, 'r+');
  fs.writeSync(fd, Buffer.from('Z'), 0, 1, 1500);
  fs.closeSync(fd);
  await assert.rejects(mm.read(d1, p), { errnum: errno.EINVAL, message: CHANGED });
  // the file shrinks: the read comes up short
  const d2 = sha1(data.subarray(2048));
  fs.truncateSync(f, 2000);
  await assert.rejects(mm.read(d2, mm.lookup(d2)!), { errnum: errno.EINVAL, message: CHANGED });
  // the file goes
  fs.rmSync(f);
  const d0 = sha1(data.subarray(0, 1024));
  await assert.rejects(mm.read(d0, mm.lookup(d0)!), { errnum: errno.EINVAL, message: CHANGED });
});

test('mmap-add refuses what flux-core refuses, with its texts', async () => {
  const mm = new ContentMmap(0, 'sha1');
  const f = path.join(dir, 'b.bin');
  fs.writeFileSync(f, 'data');
  fs.writeFileSync(path.join(dir, 'empty'), '');
  fs.symlinkSync(f, path.join(dir, 'link'));
  const add = (payload: Record<string, unknown>): Promise<Answer> => call((r) => mm.add(r), payload);
  assert.deepEqual((await add({ path: 'b.bin', chunksize: 0, tag: 't' })).error, { errnum: errno.EINVAL, text: 'path must be fully qualified' });
  assert.deepEqual((await add({ path: f, tag: 't' })).error, { errnum: errno.EPROTO, text: undefined });
  assert.deepEqual((await add({ path: dir, chunksize: 0, tag: 't' })).error, { errnum: errno.EINVAL, text: `${dir}: not suitable for mapping` });
  assert.deepEqual((await add({ path: path.join(dir, 'empty'), chunksize: 0, tag: 't' })).error, { errnum: errno.EINVAL, text: `${dir}/empty: not suitable for mapping` });
  assert.deepEqual((await add({ path: path.join(dir, 'link'), chunksize: 0, tag: 't' })).error, { errnum: errno.EINVAL, text: `${dir}/link: not suitable for mapping` });
  assert.deepEqual((await add({ path: path.join(dir, 'nosuch'), chunksize: 0, tag: 't' })).error, { errnum: errno.ENOENT, text: `${dir}/nosuch: No such file or directory` });
  const small = new ContentMmap(0, 'sha1', 3);
  assert.deepEqual((await call((r) => small.add(r), { path: f, chunksize: 0, tag: 't' })).error, { errnum: errno.EFBIG, text: `${f}: chunks would exceed the blob size limit of 3 bytes` });
  assert.deepEqual(await call((r) => small.add(r), { path: f, chunksize: 2, tag: 't' }), { responses: [{}] });
  const follower = new ContentMmap(1, 'sha1');
  assert.deepEqual((await call((r) => follower.add(r), { path: f, chunksize: 0, tag: 't' })).error, { errnum: errno.EINVAL, text: 'content may only be mmapped on rank 0' });
  assert.deepEqual((await call((r) => follower.remove(r), { tag: 't' })).error, { errnum: errno.EINVAL, text: 'content can only be mmapped on rank 0' });
});

test('list by tag and pattern; remove keeps blobs another tag still maps', async () => {
  const mm = new ContentMmap(0, 'sha1');
  const shared = crypto.randomBytes(1500);
  const f1 = path.join(dir, 'one.dat');
  const f2 = path.join(dir, 'two.dat');
  fs.writeFileSync(f1, shared);
  fs.writeFileSync(f2, shared);
  await call((r) => mm.add(r), { path: f1, chunksize: 0, tag: 'A' });
  await call((r) => mm.add(r), { path: f2, chunksize: 0, tag: 'B' });
  const list = (payload: Record<string, unknown>): Promise<Answer> => call((r) => mm.list(r), payload, true);
  let a = await list({ tags: ['A', 'B'] });
  assert.deepEqual(a.responses.flatMap((o) => (o.files as { path: string }[]).map((x) => x.path)), [f1.slice(1), f2.slice(1)]);
  assert.equal(a.error?.errnum, errno.ENODATA);
  a = await list({ tags: ['A', 'B'], pattern: '*two*' });
  assert.deepEqual(a.responses.flatMap((o) => (o.files as { path: string }[]).map((x) => x.path)), [f2.slice(1)]);
  a = await list({ tag: 'B', blobref: true });
  assert.match(String((a.responses[0].files as string[])[0]), /^sha1-[0-9a-f]{40}$/);
  assert.equal((await call((r) => mm.list(r), { tags: ['A'] })).error?.errnum, errno.EPROTO, 'streaming only');
  assert.equal((await list({ tags: [] })).error?.errnum, errno.EPROTO);
  assert.deepEqual(mm.stats(), { tags: { A: [f1], B: [f2] }, blobs: 1 }, 'one data blob (shared); serialized filerefs are not counted');
  // the shared blob was indexed from f1; removing A re-indexes it from f2
  await call((r) => mm.remove(r), { tag: 'A' });
  const p = mm.lookup(sha1(shared));
  assert.ok(p);
  fs.rmSync(f1);
  assert.deepEqual(await mm.read(sha1(shared), p), shared);
  assert.deepEqual(await call((r) => mm.remove(r), { tags: ['B', 'nosuch'] }), { responses: [{}] });
  assert.equal(mm.lookup(sha1(shared)), undefined);
  assert.deepEqual((await list({ tags: ['A', 'B'] })).responses, []);
  assert.deepEqual(mm.stats(), { tags: {}, blobs: 0 });
});
