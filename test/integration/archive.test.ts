/**
 * `flux archive` on a real 4-rank instance: the seed tutorial verbatim (three ranks extracting into
 * one shared directory on one host), flux-core 0.88's recorded outputs and errors, one directory
 * per rank with the bytes compared, 1,000 small files, a 50 MB file, symlinks/empty/sparse files,
 * --mmap (files served by rank 0's content module from the file itself; a changed file refused),
 * modes and mtimes, --append/--overwrite, patterns, and hostile archives committed to the KVS by
 * hand (refused, nothing written outside the target).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT } from './helpers';
import { archiveFixture, sha } from './archive-fixture';
import { Flux } from '../../broker/src/common/libflux/handle';

const REF = path.resolve(ROOT, '../shared/reference/flux-core-behaviour');

/** The blocks of a recording: command, output, exit status. */
function recording(file: string): { cmd: string; out: string; status: number }[] {
  const text = fs.readFileSync(path.join(REF, file), 'utf8');
  const blocks: { cmd: string; out: string; status: number }[] = [];
  const re = /^\$ (.*)\n([\s\S]*?)^\[exit status: (\d+)\]$/gm;
  for (let m = re.exec(text); m; m = re.exec(text)) blocks.push({ cmd: m[1], out: m[2], status: Number(m[3]) });
  return blocks;
}

async function expectRecorded(file: string, index: number, subst: (s: string) => string = (s) => s, cwd = fx.tmp): Promise<void> {
  const b = recording(file)[index];
  const r = await sh(subst(b.cmd), cwd);
  assert.equal(r.out, subst(b.out), `${b.cmd}`);
  assert.equal(r.status, b.status, `${b.cmd}: exit status`);
}

const fx = archiveFixture('flux-archive-');
const { sh, mkdirs } = fx;

test('help texts and the missing subcommand are the recorded ones', async () => {
  for (const f of ['archive-help.txt', 'archive-noargs.txt', 'archive-create-help.txt', 'archive-extract-help.txt', 'archive-list-help.txt', 'archive-remove-help.txt']) {
    await expectRecorded(f, 0);
  }
});

test('the seed tutorial verbatim: ranks 1-3 share the directory, so all three refuse to clobber', async () => {
  const dir = mkdirs('tutorial');
  const text = 'Sweet dreams 🌚️ are made of cheese, who am I to diss a brie? 🧀️\n';
  let r = await sh('echo "Sweet dreams 🌚️ are made of cheese, who am I to diss a brie? 🧀️" > shared-file.txt', dir);
  assert.equal(r.status, 0);
  r = await sh('flux archive create --name myarchive --directory $(pwd) shared-file.txt', dir);
  assert.deepEqual(r, { out: '', status: 0 });
  r = await sh('flux exec -r all -x 0 mkdir -p $(pwd)', dir);
  assert.deepEqual(r, { out: '', status: 0 });
  r = await sh('flux exec -r all -x 0 flux archive extract --name myarchive --directory $(pwd) shared-file.txt', dir);
  // archive-extract.txt, second run: the file is already there for every rank
  const rec = recording('archive-extract.txt')[2];
  assert.equal(r.out, rec.out.replaceAll('flux-archive: file:', 'flux-archive: shared-file.txt:'));
  assert.equal(r.status, rec.status);
  assert.equal(fs.readFileSync(path.join(dir, 'shared-file.txt'), 'utf8'), text);
  // the recording's first run: the directory starts without the file, exactly one rank wins
  fs.unlinkSync(path.join(dir, 'shared-file.txt'));
  r = await sh('flux exec -r all -x 0 flux archive extract --name myarchive --directory $(pwd) shared-file.txt', dir);
  const lines = r.out.split('\n');
  assert.deepEqual(lines.slice(0, 2), Array(2).fill('flux-archive: shared-file.txt: write: Attempt to overwrite existing file'), r.out);
  assert.match(lines[2], /^\[(1-2|1,3|2-3)\]: Exit 1$/);
  assert.equal(lines.length, 4);
  assert.equal(r.status, 1);
  assert.equal(fs.readFileSync(path.join(dir, 'shared-file.txt'), 'utf8'), text);
  r = await sh('flux exec -r all -x 0 flux archive extract --overwrite --name myarchive --directory $(pwd)', dir);
  assert.deepEqual(r, { out: '', status: 0 });
  assert.equal(fs.readFileSync(path.join(dir, 'shared-file.txt'), 'utf8'), text);
  assert.deepEqual(fs.readdirSync(dir), ['shared-file.txt'], 'no temporary files left behind');
  r = await sh('flux archive remove --name myarchive', dir);
  assert.deepEqual(r, { out: '', status: 0 });
});

test('the recorded create, list, extract per rank and remove sequence', async () => {
  const work = mkdirs('work');
  fs.writeFileSync(path.join(work, 'file'), 'hello world\n');
  fs.mkdirSync(path.join(work, 'sub'));
  fs.writeFileSync(path.join(work, 'sub', 'nested.txt'), 'nested\n');
  const subst = (s: string): string => s.replaceAll('$WORKDIR', work);
  const create = recording('archive-create.txt');
  for (let i = 0; i < 4; i++) await expectRecorded('archive-create.txt', i, subst);
  const get = await sh(create[4].cmd);
  assert.equal(get.out.replace(/"mtime":\d+,"ctime":\d+/, ''), create[4].out.replace(/"mtime":\d+,"ctime":\d+/, ''));
  const mtime = Math.floor(fs.statSync(path.join(work, 'file')).mtimeMs / 1000);
  assert.ok(get.out.includes(`"mtime":${mtime},`));
  for (let i = 0; i < 2; i++) await expectRecorded('archive-list.txt', i, subst);
  for (let i = 0; i < 3; i++) await expectRecorded('archive-list-l.txt', i, subst);
  // one directory per rank, each checked byte for byte; then the recorded lookup error
  const ext = recording('archive-extract.txt');
  const perRank = mkdirs('per-rank', 'd');
  const sub2 = (s: string): string => s.replaceAll('$WORKDIR', perRank);
  // ranks run concurrently: their lines may come in any order, as in flux-core
  const sorted = (t: string): string => t.split('\n').sort().join('\n');
  let r = await sh(sub2(ext[4].cmd));
  assert.equal(sorted(r.out), sorted(ext[4].out));
  assert.equal(r.status, 0);
  for (const rank of [1, 2, 3]) {
    assert.equal(fs.readFileSync(`${perRank}${rank}/file`, 'utf8'), 'hello world\n');
    assert.equal(fs.readFileSync(`${perRank}${rank}/sub/nested.txt`, 'utf8'), 'nested\n');
  }
  assert.equal(fs.existsSync(`${perRank}0`), false);
  r = await sh(sub2(ext[5].cmd));
  assert.equal(sorted(r.out), sorted(ext[5].out), 'the recorded md5 sums on every rank');
  r = await sh(subst(ext[6].cmd));
  assert.deepEqual(r, { out: ext[6].out, status: ext[6].status });
  for (let i = 0; i < 6; i++) await expectRecorded('archive-remove.txt', i, subst);
});

test('1,000 small files, a 50 MB file, symlinks, empty and sparse files, modes and mtimes on rank 3', async () => {
  const src = mkdirs('tree', 'src');
  for (let d = 0; d < 10; d++) {
    fs.mkdirSync(path.join(src, `d${d}`));
    for (let f = 0; f < 100; f++) fs.writeFileSync(path.join(src, `d${d}`, `f${f}`), `file ${d}/${f}\n`.repeat(f));
  }
  fs.writeFileSync(path.join(src, 'big'), crypto.randomBytes(50 * 1024 * 1024));
  fs.writeFileSync(path.join(src, 'binary'), Buffer.from([0, 1, 2, 255, 0]));
  fs.symlinkSync('d1/f5', path.join(src, 'rel-link'));
  fs.symlinkSync('/nonexistent/target', path.join(src, 'dangling'));
  fs.writeFileSync(path.join(src, 'empty'), '');
  const sparse = path.join(src, 'sparse');
  fs.writeFileSync(sparse, '');
  fs.truncateSync(sparse, 8 * 1024 * 1024);
  const fd = fs.openSync(sparse, 'r+');
  fs.writeSync(fd, Buffer.from('middle'), 0, 6, 3 * 1024 * 1024 + 10);
  fs.closeSync(fd);
  fs.writeFileSync(path.join(src, 'holes-only'), '');
  fs.truncateSync(path.join(src, 'holes-only'), 100_000);
  fs.chmodSync(path.join(src, 'd1', 'f1'), 0o600);
  fs.chmodSync(path.join(src, 'd2', 'f2'), 0o755);
  fs.chmodSync(path.join(src, 'd3', 'f3'), 0o444);
  fs.chmodSync(path.join(src, 'd4'), 0o700);
  const old = new Date('2020-01-02T03:04:05Z');
  for (const p of ['big', 'd1/f1', 'd4', 'sparse', 'empty']) fs.utimesSync(path.join(src, p), old, old);
  fs.lutimesSync(path.join(src, 'rel-link'), old, old);

  let r = await sh(`flux archive create -n tree -C ${src} .`);
  assert.deepEqual(r, { out: '', status: 0 });
  r = await sh('flux archive list -l -n tree ./big');
  assert.equal(r.out, `f 0644 ${String(50 * 1024 * 1024).padStart(8)} ./big\n`);
  const dest = mkdirs('tree', 'dest');
  const faults = async (): Promise<number> => {
    const h = await Flux.open(fx.inst.uri);
    try {
      return (await h.rpc('content.stats-get', {}, { nodeid: 3 }).get<{ faults: number }>()).faults;
    } finally {
      h.close();
    }
  };
  const before3 = await faults();
  r = await sh(`flux exec -r 3 flux archive extract -n tree -C ${dest}`);
  assert.deepEqual(r, { out: '', status: 0 });
  // the 50 blobs of big (and sparse's one) came through rank 3's own content cache
  assert.ok((await faults()) - before3 >= 51, 'blobs loaded through the local broker');

  const walk = (d: string, rel = ''): string[] => fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => {
    const p = rel ? `${rel}/${e.name}` : e.name;
    return e.isDirectory() ? [p, ...walk(path.join(d, e.name), p)] : [p];
  }).sort();
  const names = walk(src);
  assert.equal(names.length, 1000 + 10 + 7);
  assert.deepEqual(walk(dest), names);
  for (const n of names) {
    const a = fs.lstatSync(path.join(src, n));
    const b = fs.lstatSync(path.join(dest, n));
    assert.equal(b.mode, a.mode, `${n}: mode`);
    if (a.isSymbolicLink()) assert.equal(fs.readlinkSync(path.join(dest, n)), fs.readlinkSync(path.join(src, n)));
    else if (a.isFile()) {
      assert.equal(b.size, a.size, `${n}: size`);
      assert.equal(sha(path.join(dest, n)), sha(path.join(src, n)), `${n}: bytes`);
    }
    assert.equal(Math.floor(b.mtimeMs / 1000), Math.floor(a.mtimeMs / 1000), `${n}: mtime`);
  }
  assert.equal(fs.statSync(path.join(dest, 'd4')).mtime.getTime(), old.getTime());
  assert.ok(fs.statSync(path.join(dest, 'sparse')).blocks * 512 < 1024 * 1024, 'sparse file stays sparse');
  assert.equal(fs.statSync(path.join(dest, 'holes-only')).blocks, 0);
  r = await sh('flux archive list --raw -n tree ./sparse');
  const ref = JSON.parse(r.out) as { encoding: string; data: [number, number, string][] };
  assert.equal(ref.encoding, 'blobvec');
  assert.equal(ref.data.length, 1, 'only the data block is stored');
  assert.equal(ref.data[0][0], 3 * 1024 * 1024);
  await sh('flux archive remove -n tree');
});

test('--append, --overwrite, patterns and -t', async () => {
  const d = mkdirs('opts');
  fs.writeFileSync(path.join(d, 'a.txt'), 'a\n');
  fs.writeFileSync(path.join(d, 'b.dat'), 'b\n');
  let r = await sh(`flux archive create -n opts -C ${d} a.txt`);
  assert.equal(r.status, 0);
  r = await sh(`flux archive create -n opts --append -C ${d} b.dat`);
  assert.equal(r.status, 0);
  r = await sh('flux archive list -n opts');
  assert.equal(r.out, 'a.txt\nb.dat\n');
  r = await sh(`flux archive create -n opts --append --overwrite -C ${d} b.dat`);
  assert.deepEqual(r, { out: 'flux-archive: --overwrite and --append cannot be used together\n', status: 1 });
  r = await sh(`flux archive create -n opts --overwrite -C ${d} b.dat`);
  assert.equal(r.status, 0);
  r = await sh('flux archive list -n opts');
  assert.equal(r.out, 'b.dat\n');
  await sh(`flux archive create -n opts --append -C ${d} a.txt`);
  r = await sh("flux archive list -n opts '*.txt'");
  assert.equal(r.out, 'a.txt\n');
  r = await sh("flux archive list -n opts 'zz*'");
  assert.deepEqual(r, { out: "flux-archive: No files matched pattern 'zz*'\n", status: 0 });
  const out = mkdirs('opts-out');
  r = await sh(`flux archive extract -n opts -C ${out} '*.dat'`);
  assert.deepEqual(r, { out: '', status: 0 });
  assert.deepEqual(fs.readdirSync(out), ['b.dat']);
  r = await sh(`flux archive extract -n opts -t -v -C ${out}`);
  assert.equal(r.out, 'f 0644        2 b.dat\nf 0644        2 a.txt\n');
  // a changed source is only written back with --overwrite
  fs.writeFileSync(path.join(out, 'b.dat'), 'local\n');
  r = await sh(`flux archive extract -n opts -C ${out} b.dat`);
  assert.deepEqual(r, { out: 'flux-archive: b.dat: write: Attempt to overwrite existing file\n', status: 1 });
  assert.equal(fs.readFileSync(path.join(out, 'b.dat'), 'utf8'), 'local\n');
  r = await sh(`flux archive extract --overwrite -n opts -C ${out} b.dat`);
  assert.equal(r.status, 0);
  assert.equal(fs.readFileSync(path.join(out, 'b.dat'), 'utf8'), 'b\n');
  r = await sh('flux archive extract -n nosuch --waitcreate=0.1s');
  assert.deepEqual(r, { out: 'flux-archive: archive.nosuch: key was not created within timeout window\n', status: 1 });
  // archive-mmap.txt: a small file is inline even with --mmap (its third command is not replayable)
  fs.writeFileSync(path.join(d, 'file'), 'hello world\n');
  for (const i of [0, 1, 3]) await expectRecorded('archive-mmap.txt', i, (t) => t.replaceAll('$WORKDIR', d));
  r = await sh('flux archive create --mmap -n mm -C / etc/hostname && flux exec -r 1 flux archive create --mmap -n mm2 -C / etc/hostname');
  assert.deepEqual(r, { out: 'flux-archive: --mmap only works on the rank 0 broker\n1: Exit 1\n', status: 1 });
  await sh('flux archive remove -n opts && flux archive remove -n mm');
});

test('--waitcreate waits for the archive to appear', async () => {
  const d = mkdirs('wait');
  fs.writeFileSync(path.join(d, 'late'), 'late\n');
  fs.mkdirSync(path.join(d, 'out'));
  const waiting = sh(`flux archive extract -n late --waitcreate -C ${d}/out`, d);
  const r = await sh(`flux archive create -n late -C ${d} late`);
  assert.equal(r.status, 0);
  assert.deepEqual(await waiting, { out: '', status: 0 });
  assert.equal(fs.readFileSync(path.join(d, 'out', 'late'), 'utf8'), 'late\n');
  await sh('flux archive remove -n late');
});

/** Commit an archive by hand, extract it into box/target, and check nothing appeared in box but target. */
async function hostile(name: string, entries: unknown[], expect: string, opts = ''): Promise<string> {
  const box = mkdirs('hostile', name);
  const target = path.join(box, 'target');
  fs.mkdirSync(target);
  const json = JSON.stringify(entries).replaceAll("'", "'\\''");
  let r = await sh(`flux kvs put archive.${name}='${json}'`);
  assert.equal(r.status, 0, r.out);
  r = await sh(`flux archive extract ${opts} -n ${name} -C ${target}`);
  assert.deepEqual(r, { out: `flux-archive: ${expect}\n`, status: 1 });
  assert.deepEqual(fs.readdirSync(box), ['target'], 'nothing written outside the target');
  return target;
}

test('hostile archives are refused and write nothing outside the directory', async () => {
  const small = { mode: 0o100644, encoding: 'utf-8', data: 'pwned\n', size: 6 };
  let t = await hostile('dotdot', [{ path: 'ok', ...small }, { path: '../escaped', ...small }], "../escaped: refusing to extract a path containing '..'");
  assert.deepEqual(fs.readdirSync(t), [], 'refused before anything was written');
  const abs = path.join(fx.tmp, 'hostile', 'abs-victim');
  t = await hostile('abs', [{ path: abs, ...small }], `${abs}: refusing to extract an absolute path`);
  assert.equal(fs.existsSync(abs), false);
  assert.deepEqual(fs.readdirSync(t), []);
  const outside = path.join(fx.tmp, 'hostile', 'link');
  t = await hostile('link', [{ path: 'd', mode: 0o120777, data: outside }, { path: 'd/evil', ...small }], 'd/evil: refusing to extract through symlink d');
  assert.deepEqual(fs.readdirSync(t), []);
  // a symlink already in the destination is not followed either
  const box = mkdirs('hostile', 'pre');
  const tgt = path.join(box, 'target');
  fs.mkdirSync(tgt);
  fs.symlinkSync(box, path.join(tgt, 'pre'));
  let r = await sh(`flux kvs put archive.pre='${JSON.stringify([{ path: 'pre/evil', ...small }])}'`);
  assert.equal(r.status, 0);
  r = await sh(`flux archive extract -n pre -C ${tgt}`);
  assert.deepEqual(r, { out: 'flux-archive: pre/evil: refusing to extract through symlink pre\n', status: 1 });
  assert.deepEqual(fs.readdirSync(box), ['target']);
  // a symlink, then a file of the same name: never written through, with or without --overwrite
  const victim = path.join(fx.tmp, 'hostile', 'victim-file');
  for (const [name, opts] of [['clobber', ''], ['clobber2', '--overwrite']]) {
    const b = mkdirs('hostile', name);
    const tg = path.join(b, 'target');
    fs.mkdirSync(tg);
    await sh(`flux kvs put archive.${name}='${JSON.stringify([{ path: 'f', mode: 0o120777, data: victim }, { path: 'f', ...small }])}'`);
    r = await sh(`flux archive extract ${opts} -n ${name} -C ${tg}`);
    assert.equal(fs.existsSync(victim), false, `${name}: nothing written through the symlink`);
    if (opts === '') {
      assert.deepEqual(r, { out: 'flux-archive: f: write: Attempt to overwrite existing file\n', status: 1 });
      assert.equal(fs.readlinkSync(path.join(tg, 'f')), victim);
    } else {
      assert.deepEqual(r, { out: '', status: 0 });
      assert.equal(fs.readFileSync(path.join(tg, 'f'), 'utf8'), 'pwned\n');
    }
  }
  await sh('for n in dotdot abs link pre clobber clobber2; do flux archive remove -n $n; done');
});

test('--preserve keeps a valref per blob; remove takes them away; flux filemap is the old name', async () => {
  const d = mkdirs('preserve');
  fs.writeFileSync(path.join(d, 'f'), crypto.randomBytes(3 * 1024 + 5));
  let r = await sh(`flux archive create --preserve --chunksize=1K -n pres -C ${d} f`);
  assert.deepEqual(r, { out: '', status: 0 });
  r = await sh('flux kvs ls -1 archive.pres_blobs');
  assert.equal(r.out, '0\n1\n2\n3\n');
  r = await sh('flux kvs get --treeobj archive.pres_blobs.3');
  const blobs = (JSON.parse((await sh('flux archive list --raw -n pres')).out) as { data: [number, number, string][] }).data;
  assert.deepEqual(blobs.map((b) => [b[0], b[1]]), [[0, 1024], [1024, 1024], [2048, 1024], [3072, 5]]);
  assert.equal(r.out, `{"data":["${blobs[3][2]}"],"type":"valref","ver":1}\n`);
  r = await sh('flux archive create --chunksize=3G -n x f');
  assert.deepEqual(r, { out: 'flux archive create: chunksize: value 3G too large (must be < 2G)\n', status: 1 });
  r = await sh('flux archive create --small-file-threshold=1Q -n x f');
  assert.deepEqual(r, { out: "flux archive create: invalid argument for option 'small-file-threshold': 1Q: Invalid argument\n", status: 1 });
  r = await sh('flux archive remove -n pres && flux kvs get archive.pres_blobs.0');
  assert.deepEqual(r, { out: 'flux-kvs: archive.pres_blobs.0: No such file or directory\n', status: 1 });
  const warning = '⚠️This command is deprecated.⚠️   Use flux-archive(1) instead.\n';
  // map implies --mmap; --disable-mmap copies instead
  r = await sh(`flux filemap map -T oldm -C ${d} f && flux filemap list -T oldm && flux filemap unmap -T oldm`);
  assert.deepEqual(r, { out: `${warning}${warning}f\n${warning}`, status: 0 });
  r = await sh(`flux filemap map --disable-mmap -T old -C ${d} f && flux filemap list -T old`);
  assert.deepEqual(r, { out: `${warning}${warning}f\n`, status: 0 });
  const out = mkdirs('preserve-out');
  r = await sh(`flux filemap get -T old -C ${out} && cmp ${d}/f ${out}/f && flux filemap unmap -T old`);
  assert.deepEqual(r, { out: `${warning}${warning}`, status: 0 });
  r = await sh('flux archive create');
  assert.equal(r.status, 1);
  assert.match(r.out, /^Usage: flux archive create \[-n NAME\] \[-C DIR\] \[--preserve\] PATH \.\.\.\n/);
  r = await sh(`flux archive extract -C ${fx.tmp}/nonexistent`);
  assert.deepEqual(r, { out: `flux-archive: chdir ${fx.tmp}/nonexistent: No such file or directory\n`, status: 1 });
});

test('--no-force-primary uses $FLUX_KVS_NAMESPACE', async () => {
  const d = mkdirs('ns');
  fs.writeFileSync(path.join(d, 'f'), 'in a namespace\n');
  let r = await sh('flux kvs namespace create arch-ns');
  assert.equal(r.status, 0);
  r = await sh(`FLUX_KVS_NAMESPACE=arch-ns flux archive create --no-force-primary -n nsa -C ${d} f`);
  assert.deepEqual(r, { out: '', status: 0 });
  r = await sh('FLUX_KVS_NAMESPACE=arch-ns flux archive list -n nsa');
  assert.deepEqual(r, { out: 'flux-archive: KVS lookup archive.nsa: No such file or directory\n', status: 1 });
  r = await sh('FLUX_KVS_NAMESPACE=arch-ns flux archive list --no-force-primary -n nsa');
  assert.deepEqual(r, { out: 'f\n', status: 0 });
  r = await sh('flux archive create --mmap --no-force-primary -n nsb f');
  assert.deepEqual(r, { out: 'flux-archive: --mmap cannot work with --no-force-primary\n', status: 1 });
  r = await sh('FLUX_KVS_NAMESPACE=arch-ns flux archive remove --no-force-primary -n nsa && flux kvs namespace remove arch-ns');
  assert.deepEqual(r, { out: '', status: 0 });
});
