/**
 * libfilemap/blobvec.ts: how a file is cut into blobs. `flux archive create` and rank 0's
 * content.mmap-add both use it, so these cuts are what makes their blobrefs agree.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ShortReadError, isSparse, memoryChunks, readChunks } from '../../broker/src/common/libfilemap/blobvec';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blobvec-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

async function cuts(file: string, chunksize: number, sparse?: boolean): Promise<[number, number][]> {
  const fh = await fs.promises.open(file, 'r');
  try {
    const st = await fh.stat();
    const out: [number, number][] = [];
    for await (const c of readChunks(fh.fd, st.size, chunksize, sparse ?? isSparse(st))) out.push([c.offset, c.data.length]);
    return out;
  } finally {
    await fh.close();
  }
}

test('a dense file: chunksize pieces and the rest; 0 means one blob', async () => {
  const f = path.join(dir, 'dense');
  const data = crypto.randomBytes(2500);
  fs.writeFileSync(f, data);
  assert.deepEqual(await cuts(f, 1024), [[0, 1024], [1024, 1024], [2048, 452]]);
  assert.deepEqual(await cuts(f, 0), [[0, 2500]]);
  assert.deepEqual(await cuts(f, 4096), [[0, 2500]]);
  // the bytes are the file's (chunks kept while the next is read)
  const fh = await fs.promises.open(f, 'r');
  const got: Buffer[] = [];
  for await (const c of readChunks(fh.fd, 2500, 1000, false)) got.push(c.data);
  await fh.close();
  assert.deepEqual(Buffer.concat(got), data);
});

test('a sparse file: holes skipped, blobs end at the next hole block', async () => {
  const f = path.join(dir, 'sparse');
  fs.writeFileSync(f, '');
  fs.truncateSync(f, 1024 * 1024);
  const fd = fs.openSync(f, 'r+');
  fs.writeSync(fd, crypto.randomBytes(5000), 0, 5000, 100_000); // blocks 24..25 (98304..106495)
  fs.writeSync(fd, crypto.randomBytes(10), 0, 10, 1024 * 1024 - 10); // the last block
  fs.closeSync(fd);
  assert.equal(isSparse(fs.statSync(f)), true);
  assert.deepEqual(await cuts(f, 1 << 20), [[98304, 8192], [1044480, 4096]]);
  assert.deepEqual(await cuts(f, 4096), [[98304, 4096], [102400, 4096], [1044480, 4096]]);
  // all holes: nothing
  const e = path.join(dir, 'holes');
  fs.writeFileSync(e, '');
  fs.truncateSync(e, 300_000);
  assert.deepEqual(await cuts(e, 1 << 20), []);
});

test('a file shorter than its stat said is a ShortReadError', async () => {
  const f = path.join(dir, 'short');
  fs.writeFileSync(f, 'abc');
  const fh = await fs.promises.open(f, 'r');
  try {
    await assert.rejects(async () => {
      for await (const c of readChunks(fh.fd, 10, 4, false)) void c;
    }, ShortReadError);
  } finally {
    await fh.close();
  }
});

test('a file read whole is cut as readChunks cuts it', async () => {
  const f = path.join(dir, 'whole');
  const data = crypto.randomBytes(10_000);
  fs.writeFileSync(f, data);
  for (const cs of [0, 1, 1000, 4096, 10_000, 20_000]) {
    const mem = [...memoryChunks(data, cs)].map((c) => [c.offset, c.data.length]);
    assert.deepEqual(mem, await cuts(f, cs, false), `chunksize ${cs}`);
  }
});
