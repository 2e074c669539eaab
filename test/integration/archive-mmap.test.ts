/**
 * `flux archive create --mmap` on 4 ranks: large files served from their file by rank 0 (not copied
 * into the content store), extracted on ranks 1-3 through the tree, unmapped by remove; a mapped
 * file that changes is refused with flux-core's error; --mmap away from rank 0 is refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { archiveFixture, sha } from './archive-fixture';
import { Flux } from '../../broker/src/common/libflux/handle';
import { FLAG_STREAMING } from '../../broker/src/common/libflux/message';

const fx = archiveFixture('flux-archive-mmap-');
const { sh, mkdirs } = fx;

interface MmapStats {
  mmap: { tags: Record<string, string[]>; blobs: number } | null;
  count: number;
}

/** content.mmap-list {"tags"} on rank 0: every streamed response's files, until ENODATA. */
async function mmapList(h: Flux, tags: string[]): Promise<unknown[]> {
  const files: unknown[] = [];
  for await (const m of h.rpc('content.mmap-list', { tags }, { nodeid: 0, flags: FLAG_STREAMING })) {
    files.push(...(JSON.parse(m.payload?.toString().replace(/\0$/, '') ?? '{}') as { files: unknown[] }).files);
  }
  return files;
}

test('--mmap: large files served from the file by rank 0, extracted on ranks 1-3, unmapped by remove', async () => {
  const d = mkdirs('mmap-src');
  // A 40 MB random file (41 blobs of the default 1 MiB chunk), a 200 MB sparse file with 8 data
  // extents of 2.5 MB at unaligned offsets, a file just over the small-file threshold, and a
  // small one (inline, never mapped).
  fs.writeFileSync(path.join(d, 'big.bin'), crypto.randomBytes(40 * 1024 * 1024 + 123));
  const sparse = path.join(d, 'sparse.img');
  fs.writeFileSync(sparse, '');
  fs.truncateSync(sparse, 200 * 1024 * 1024);
  const fd = fs.openSync(sparse, 'r+');
  for (let i = 0; i < 8; i++) fs.writeSync(fd, crypto.randomBytes(2_500_000), 0, 2_500_000, i * 25_000_000 + 4096 * i + 100);
  fs.closeSync(fd);
  fs.writeFileSync(path.join(d, 'medium'), crypto.randomBytes(1025));
  fs.writeFileSync(path.join(d, 'small'), 'small\n');
  const h = await Flux.open(fx.inst.uri);
  try {
    const before = await h.rpc('content.stats-get', {}, { nodeid: 0 }).get<MmapStats>();
    let r = await sh(`flux archive create --mmap -n mm -C ${d} big.bin sparse.img medium small`);
    assert.deepEqual(r, { out: '', status: 0 });
    const st = await h.rpc('content.stats-get', {}, { nodeid: 0 }).get<MmapStats>();
    const real = fs.realpathSync(d);
    assert.deepEqual(st.mmap?.tags, { mm: ['big.bin', 'sparse.img', 'medium'].map((f) => path.join(real, f)) });
    // the mapped data blobs: those of the archive's filerefs
    const refs = JSON.parse(`[${(await sh('flux archive list --raw -n mm')).out.trim().split('\n').join(',')}]`) as { data?: unknown }[];
    const dataBlobs = new Set(refs.flatMap((f) => (Array.isArray(f.data) ? (f.data as [number, number, string][]).map((b) => b[2]) : [])));
    assert.ok(dataBlobs.size > 41 + 8 * 3);
    assert.equal(st.mmap?.blobs, dataBlobs.size);
    assert.ok(st.count - before.count < 10, `cache grew by ${st.count - before.count}`);
    const listed = await mmapList(h, ['mm']);
    assert.deepEqual(listed.map((f) => (f as { path: string }).path), [`${real.slice(1)}/big.bin`, `${real.slice(1)}/sparse.img`, `${real.slice(1)}/medium`]);
    r = await sh(`flux exec -r all -x 0 sh -c 'mkdir -p ${fx.tmp}/mmap-out/r$(flux getattr rank) && flux archive extract -n mm -C ${fx.tmp}/mmap-out/r$(flux getattr rank)'`);
    assert.deepEqual(r, { out: '', status: 0 });
    for (const rank of [1, 2, 3]) {
      for (const f of ['big.bin', 'sparse.img', 'medium', 'small']) {
        assert.equal(sha(path.join(fx.tmp, 'mmap-out', `r${rank}`, f)), sha(path.join(d, f)), `rank ${rank} ${f}`);
      }
    }
    // the sparse file's holes stay holes (only the data's blocks are allocated)
    assert.ok(fs.statSync(path.join(fx.tmp, 'mmap-out', 'r2', 'sparse.img')).blocks * 512 < 30 * 1024 * 1024);
    // remove unmaps: mmap-list is empty, stats show nothing mapped
    r = await sh('flux archive remove -n mm');
    assert.deepEqual(r, { out: '', status: 0 });
    assert.deepEqual(await mmapList(h, ['mm']), []);
    assert.deepEqual((await h.rpc('content.stats-get', {}, { nodeid: 0 }).get<MmapStats>()).mmap, { tags: {}, blobs: 0 });

    // A mapped file that changes afterwards: its loads fail with flux-core's error, nothing crashes.
    const c = mkdirs('mmap-changed');
    fs.writeFileSync(path.join(c, 'data'), crypto.randomBytes(3 * 1024 * 1024));
    r = await sh(`flux archive create --mmap -n mmc -C ${c} data`);
    assert.deepEqual(r, { out: '', status: 0 });
    const fd2 = fs.openSync(path.join(c, 'data'), 'r+');
    fs.writeSync(fd2, Buffer.from('changed'), 0, 7, 2 * 1024 * 1024 + 5);
    fs.closeSync(fd2);
    const o = mkdirs('mmap-changed-out');
    r = await sh(`flux exec -r 3 flux archive extract -n mmc -C ${o}`);
    assert.equal(r.status, 1);
    assert.match(r.out, /^flux-archive: data: error loading offset=2097152 size=1048576 from sha1-[0-9a-f]{40}: mapped file content has changed\n3: Exit 1\n$/);
    // a shrunk file too (caught by the read, or by the periodic stat)
    fs.truncateSync(path.join(c, 'data'), 1000);
    r = await sh(`flux archive extract -n mmc -C ${o} --overwrite`);
    assert.equal(r.status, 1);
    assert.match(r.out, /mapped file content has changed\n$/);
    r = await sh('flux archive remove -n mmc && flux ping -c 1 3 >/dev/null && echo alive');
    assert.deepEqual(r, { out: 'alive\n', status: 0 });

    // --mmap from a rank > 0 connection: refused by the command, as flux-core's
    r = await sh(`FLUX_URI=${fx.inst.uri.replace(/local-0$/, 'local-2')} flux archive create --mmap -n mm3 -C ${d} big.bin`);
    assert.deepEqual(r, { out: 'flux-archive: --mmap only works on the rank 0 broker\n', status: 1 });
    // and the service itself: rank 0 only, absolute paths, mappable files
    await assert.rejects(h.rpc('content.mmap-add', { path: path.join(d, 'big.bin'), chunksize: 0, tag: 't' }, { nodeid: 2 }).response(),
      { errnum: 22, message: 'content may only be mmapped on rank 0' });
    await assert.rejects(h.rpc('content.mmap-add', { path: 'big.bin', chunksize: 0, tag: 't' }, { nodeid: 0 }).response(),
      { errnum: 22, message: 'path must be fully qualified' });
    await assert.rejects(h.rpc('content.mmap-add', { path: d, chunksize: 0, tag: 't' }, { nodeid: 0 }).response(),
      { errnum: 22, message: `${d}: not suitable for mapping` });
    await assert.rejects(h.rpc('content.mmap-add', { path: `${d}/nosuch`, chunksize: 0, tag: 't' }, { nodeid: 0 }).response(),
      { errnum: 2, message: `${d}/nosuch: No such file or directory` });
    await assert.rejects(h.rpc('content.mmap-list', { tags: ['mm'] }, { nodeid: 0 }).response(), { errnum: 71 });
  } finally {
    h.close();
  }
});
