/**
 * `flux kvs` and the KVS client API against a real instance (2 ranks, with the kvs module that
 * rc1 loads). Every example recorded on flux-core 0.88 in ../shared/reference/flux-core-behaviour
 * (kvs-put-abc.txt, kvs-*-help.txt, kvs-noargs.txt, ...) is replayed through a shell and its
 * combined output and exit status compared byte for byte.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT, flux, startInstance, type Instance } from './helpers';
import { Flux } from '../../broker/src/common/libflux/handle';
import { FluxError, errno } from '../../broker/src/common/libflux/errno';
import * as kvs from '../../broker/src/common/libkvs/client';

const RECORDINGS = path.resolve(ROOT, '../shared/reference/flux-core-behaviour');

let inst: Instance;
let h: Flux;

before(async () => {
  inst = await startInstance(2);
  h = await Flux.open(inst.uri);
});
after(async () => {
  h?.close();
  if (inst) assert.equal(await inst.stop(), 0);
});

interface Example {
  cmd: string;
  output: string;
  status: number;
}

/** The `$ CMD` / output / `[exit status: N]` blocks of a recording. */
function examples(file: string): Example[] {
  const text = fs.readFileSync(path.join(RECORDINGS, file), 'utf8');
  const res: Example[] = [];
  const re = /^\$ (.*)\n([\s\S]*?)^\[exit status: (\d+)\]$/gm;
  for (let m = re.exec(text); m; m = re.exec(text)) res.push({ cmd: m[1], output: m[2], status: Number(m[3]) });
  return res;
}

/** Run a recorded command line through sh, our `flux` first on PATH, stdout and stderr merged. */
function sh(cmd: string, env: NodeJS.ProcessEnv = inst.env): Promise<{ output: string; status: number | null }> {
  return new Promise((resolve) => {
    const c = spawn('sh', ['-c', `${cmd} 2>&1`], {
      env: { ...env, PATH: `${path.join(ROOT, 'dist/bin')}:${env.PATH ?? ''}`, COLUMNS: '80' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    c.stdout.on('data', (d: Buffer) => (output += d.toString('utf8')));
    c.on('exit', (status) => resolve({ output, status }));
  });
}

async function replay(file: string): Promise<void> {
  const ex = examples(file);
  assert.ok(ex.length > 0, `${file} has examples`);
  for (const e of ex) {
    const r = await sh(e.cmd);
    assert.equal(r.output, e.output, `output of: ${e.cmd}`);
    assert.equal(r.status, e.status, `exit status of: ${e.cmd}`);
  }
}

for (const file of ['kvs-help.txt', 'kvs-noargs.txt', 'kvs-get-help.txt', 'kvs-put-help.txt', 'kvs-dir-help.txt', 'kvs-ls-help.txt']) {
  test(`recorded ${file}`, () => replay(file));
}

test('recorded kvs-put-abc.txt: put, get, ls, dir, errors, unlink -R', () => replay('kvs-put-abc.txt'));

test('recorded kvs-ls*.txt on the instance\'s own keys', async () => {
  // These listings show what flux-core's rc1 leaves in the KVS (admin.eventlog, resource.R,
  // resource.eventlog), which ours leaves too.
  for (const f of ['kvs-ls.txt', 'kvs-ls-resource.txt', 'kvs-ls-R.txt']) await replay(f);
});

test('put -O/-b/-s, getroot, version, wait agree on the new root', async () => {
  const s = await sh('flux kvs put -s seq.x=1');
  assert.equal(s.status, 0);
  const seq = Number(s.output.trim());
  assert.ok(Number.isInteger(seq) && seq > 0, s.output);
  assert.equal((await sh('flux kvs version')).output, `${seq}\n`);
  assert.equal((await sh(`flux kvs wait ${seq}`)).status, 0);
  const b = (await sh('flux kvs getroot -b')).output.trim();
  assert.match(b, /^sha1-[0-9a-f]{40}$/);
  assert.equal((await sh('flux kvs getroot')).output, `{"data":["${b}"],"type":"dirref","ver":1}\n`);
  assert.equal((await sh('flux kvs getroot -s')).output, `${seq}\n`);
  assert.equal((await sh('flux kvs getroot -o')).output, `${process.getuid?.() ?? 0}\n`);
  const o = await sh('flux kvs put -O seq.y=2');
  assert.match(o.output, /^\{"data":\["sha1-[0-9a-f]{40}"\],"type":"dirref","ver":1\}\n$/);
  // a snapshot taken before a change still shows the old value
  const snap = o.output.trim();
  await sh('flux kvs put seq.y=3');
  assert.equal((await sh(`flux kvs get -a '${snap}' seq.y`)).output, '2\n');
  assert.equal((await sh('flux kvs get seq.y')).output, '3\n');
  assert.equal((await sh(`flux kvs dir -a '${snap}' seq`)).output, 'seq.x = 1\nseq.y = 2\n');
});

test('put -r from stdin keeps bytes; get -r writes them back; get -l labels', async () => {
  const r = await sh("printf 'a\\000b\\377' | flux kvs put -r raw.v=- && flux kvs get -r raw.v | od -An -tx1");
  assert.equal(r.output.trim().replace(/\s+/g, ' '), '61 00 62 ff');
  assert.equal((await sh('flux kvs put l.a=x l.b= && flux kvs get -l l.a l.b')).output, 'l.a=x\nl.b=');
  // a value longer than 72 base64 characters is stored by reference (§12 item 16)
  const long = 'abcdefghijklmnopqrstuvwxyz'.repeat(4);
  assert.equal((await sh(`flux kvs put long.v=${long} && flux kvs get -t long.v`)).output,
    '{"data":["sha1-d8cc4fd0a57d0e0e96cdb3e74164f734c593ed65"],"type":"valref","ver":1}\n');
  assert.equal((await sh('flux kvs put -t t.v=\'{"data":"aGVsbG8=","type":"val","ver":1}\' && flux kvs get t.v')).output, 'hello\n');
});

test('put without = and bad arguments fail as flux-kvs does', async () => {
  assert.deepEqual(await sh('flux kvs put key'), { output: 'flux-kvs: put: you must specify a value as key=value\n', status: 1 });
  assert.deepEqual(await sh('flux kvs link onlyone'), { output: 'flux-kvs: link: specify target and link_name\n', status: 1 });
  assert.deepEqual(await sh('flux kvs copy a'), { output: 'flux-kvs: copy: specify srckey dstkey\n', status: 1 });
  assert.deepEqual(await sh('flux kvs wait 1 2'), { output: 'flux-kvs: wait: specify a version\n', status: 1 });
  assert.deepEqual(await sh('flux kvs dir a b'), { output: 'flux-kvs: dir: specify zero or one directory\n', status: 1 });
  const u = await sh('flux kvs get');
  assert.equal(u.status, 1);
  assert.match(u.output, /^Usage: flux-kvs get \[-N ns\]/);
});

test('dir: links, empty directories, truncation to -w', async () => {
  await sh('flux kvs put d.v=0123456789abcdef d.m="two\nlines" && flux kvs mkdir d.e && flux kvs link d.v d.l');
  assert.equal((await sh('flux kvs dir d')).output,
    'd.e.\nd.l -> d.v\nd.m = two...\nd.v = 0123456789abcdef\n');
  assert.equal((await sh('flux kvs dir -w 16 d')).output, 'd.e.\nd.l -> d.v\nd.m = two...\nd.v = 0123456...\n');
  assert.equal((await sh('flux kvs dir -d d')).output, 'd.e.\nd.l -> d.v\nd.m\nd.v\n');
  // liboptparse permutes: options after the key count too
  assert.equal((await sh('flux kvs dir d -d')).output, 'd.e.\nd.l -> d.v\nd.m\nd.v\n');
  assert.equal((await sh('flux kvs dir -R d')).output, 'd.e.\nd.l -> d.v\nd.m = two...\nd.v = 0123456789abcdef\n');
  assert.equal((await sh('flux kvs readlink d.l')).output, 'd.v\n');
  assert.equal((await sh('flux kvs get d.l')).output, '0123456789abcdef\n');
  assert.deepEqual(await sh('flux kvs readlink d.v'), { output: 'flux-kvs: d.v: Invalid argument\n', status: 1 });
});

test('ls: columns, -1, -F, -d, links, missing keys', async () => {
  await sh('flux kvs put ls.alpha=1 ls.b=2 ls.sub.x=3 && flux kvs link ls.sub ls.ln && flux kvs link nowhere ls.dead');
  assert.equal((await sh('flux kvs ls ls')).output, 'alpha    b        dead     ln       sub\n');
  assert.equal((await sh('flux kvs ls -w 20 ls')).output, 'alpha    b\ndead     ln\nsub\n');
  assert.equal((await sh('flux kvs ls -1 ls')).output, 'alpha\nb\ndead\nln\nsub\n');
  assert.equal((await sh('flux kvs ls -F ls')).output, 'alpha    b        dead@    ln@      sub.\n');
  assert.equal((await sh('flux kvs ls -d ls.sub ls.alpha')).output, 'ls.alpha    ls.sub\n');
  // a link to a directory is listed as that directory; to nothing, as a name
  assert.equal((await sh('flux kvs ls ls.ln ls.dead')).output, 'ls.dead\n\nls.ln:\nx\n');
  assert.deepEqual(await sh('flux kvs ls ls.alpha. ls.nope'),
    { output: 'ls.alpha: Not a directory\nls.nope: No such file or directory\n', status: 1 });
});

test('unlink, mkdir, copy, move, -N namespaces', async () => {
  await sh('flux kvs put u.a=1 u.d.x=1');
  assert.deepEqual(await sh('flux kvs unlink u.missing'), { output: "flux-kvs: cannot unlink 'u.missing': No such file or directory\n", status: 1 });
  assert.equal((await sh('flux kvs unlink -f u.missing')).status, 0);
  assert.equal((await sh('flux kvs unlink u.a && flux kvs get u.a')).output, 'flux-kvs: u.a: No such file or directory\n');
  assert.equal((await sh('flux kvs copy u.d u.c && flux kvs dir -R u')).output, 'u.c.x = 1\nu.d.x = 1\n');
  assert.equal((await sh('flux kvs move u.c u.m && flux kvs dir -R u')).output, 'u.d.x = 1\nu.m.x = 1\n');
  assert.deepEqual(await sh('flux kvs copy u.none u.z'), { output: 'flux-kvs: flux_kvs_copy: No such file or directory\n', status: 1 });
  // columns sized by the bare names (1 + 4): the "." comes out of the padding
  assert.equal((await sh('flux kvs mkdir u.e && flux kvs ls -F u')).output, 'd.   e.   m.\n');

  assert.equal((await sh('flux kvs namespace create test-ns')).status, 0);
  assert.match((await sh('flux kvs namespace list')).output, /^NAMESPACE {33}OWNER {6}FLAGS\n(.*\n)*test-ns {30}\s+\d+ 0x00000000\n/);
  assert.equal((await sh('flux kvs put -N test-ns k=v && flux kvs get -N test-ns k')).output, 'v\n');
  assert.equal((await sh('FLUX_KVS_NAMESPACE=test-ns flux kvs get k')).output, 'v\n');
  assert.equal((await sh('flux kvs get k')).output, 'flux-kvs: k: No such file or directory\n');
  assert.equal((await sh('flux kvs copy -S test-ns -D primary k fromns && flux kvs get fromns')).output, 'v\n');
  assert.equal((await sh('flux kvs link -T test-ns k crossns && flux kvs readlink crossns && flux kvs get crossns')).output,
    'test-ns::k\nv\n');
  assert.equal((await sh('flux kvs namespace remove test-ns')).status, 0);
});

test('eventlog append and get', async () => {
  assert.equal((await sh('flux kvs eventlog append -t 1.5 ev.log first && flux kvs eventlog append -t 2 ev.log second \'{"a":1,"b":"x"}\'')).status, 0);
  assert.equal((await sh('flux kvs get ev.log')).output,
    '{"timestamp":1.5,"name":"first"}\n{"timestamp":2.0,"name":"second","context":{"a":1,"b":"x"}}\n\n');
  assert.equal((await sh('flux kvs eventlog get ev.log')).output, '1.500000 first\n2.000000 second a=1 b="x"\n');
  assert.equal((await sh('flux kvs eventlog get -u ev.log')).output,
    '{"timestamp":1.5,"name":"first"}\n{"timestamp":2.0,"name":"second","context":{"a":1,"b":"x"}}\n');
});

test('client API: lookup getters, commit, KVSDir walk, errors with errno', async () => {
  const txn = new kvs.KvsTxn().put('api.s', 'text').pack('api.j', { n: 1 }).mkdir('api.sub.empty').symlink('api.ln', 'api.s');
  const c = await kvs.commit(h, txn);
  assert.match(c.rootref, /^sha1-/);
  assert.equal((await kvs.lookup(h, 'api.s')).string(), 'text');
  assert.deepEqual((await kvs.lookup(h, 'api.j')).json(), { n: 1 });
  assert.deepEqual((await kvs.lookup(h, 'api.ln', { flags: kvs.FLUX_KVS_READLINK })).symlink(), { target: 'api.s' });
  const walked: string[] = [];
  for await (const e of (await kvs.KVSDir.open(h, 'api')).walk()) walked.push(`${e.path}:${e.directories.join(',')}:${e.files.join(',')}`);
  assert.deepEqual(walked, ['api:sub:j,ln,s', 'api.sub:empty:', 'api.sub.empty::']);
  await assert.rejects(kvs.lookup(h, 'api'), (e: unknown) => e instanceof FluxError && e.errnum === errno.EISDIR);
  await assert.rejects(kvs.lookup(h, 'api.s', { flags: kvs.FLUX_KVS_WATCH }), (e: unknown) => e instanceof FluxError && e.errnum === errno.EINVAL);
  await assert.rejects(kvs.getroot(h, { namespace: 'no-such-ns' }), (e: unknown) => e instanceof FluxError && e.errnum === errno.ENOTSUP);
  assert.equal((await kvs.getroot(h)).rootref, (await kvs.getroot(h)).rootref);
});

test('watch needs the kvs-watch module: ENOSYS, said clearly (module removed from every rank)', async () => {
  // A request for a service missing on its rank goes upstream, so every rank must lose it.
  const env = [0, 1].map((n) => ({ ...inst.env, FLUX_URI: inst.uri.replace(/local-0$/, `local-${n}`) }));
  for (const e of [env[1], env[0]]) assert.equal((await flux(['module', 'remove', 'kvs-watch'], e)).status, 0);
  try {
    const w = kvs.watch(h, 'any.key');
    await assert.rejects((async () => {
      for await (const _ of w) { /* no answer expected */ }
    })(), (e: unknown) => e instanceof FluxError && e.errnum === errno.ENOSYS && /kvs-watch/.test(e.message));
    assert.deepEqual(await sh('flux kvs get --watch any.key', env[1]), { output: 'flux-kvs: any.key: Function not implemented\n', status: 1 });
  } finally {
    for (const e of env) assert.equal((await flux(['module', 'load', 'kvs-watch'], e)).status, 0);
  }
});

test('without a broker: flux_open fails with flux-core\'s message', async () => {
  const r = await flux(['kvs', 'get', 'a'], { ...process.env, FLUX_URI: 'local:///nonexistent/local-0' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^flux-kvs: flux_open: /);
});

/** Rank 0's kvs-watch has at least `n` watchers (polled; a watcher must exist before the write it waits for). */
async function waitWatchers(n: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while ((await h.rpc('kvs-watch.stats-get', {}).get<{ watchers: number }>()).watchers < n) {
    if (Date.now() > deadline) throw new Error(`kvs-watch: fewer than ${n} watchers after 10 s`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Start `flux ARGS`, resolve its first stdout line, then its whole output and status. */
function startWatcher(args: string[]): { first: Promise<string>; done: Promise<{ stdout: string; status: number | null }> } {
  const c = spawn(process.execPath, [path.join(ROOT, 'dist/flux.js'), ...args], { env: inst.env, stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  let gotFirst: (s: string) => void = () => {};
  const first = new Promise<string>((r) => (gotFirst = r));
  c.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    const nl = stdout.indexOf('\n');
    if (nl >= 0) gotFirst(stdout.slice(0, nl));
  });
  const done = new Promise<{ stdout: string; status: number | null }>((r) => c.on('exit', (status) => r({ stdout, status })));
  return { first, done };
}

test('get --watch --count: the value now, then each change, then exit', async () => {
  await sh('flux kvs put w.k=one');
  const w = startWatcher(['kvs', 'get', '--watch', '--count=2', 'w.k']);
  assert.equal(await w.first, 'one');
  await sh('flux kvs put w.k=two');
  assert.deepEqual(await w.done, { stdout: 'one\ntwo\n', status: 0 });
});

test('eventlog wait-event returns once the event is appended', async () => {
  await sh('flux kvs eventlog append -t 1 we.log start');
  const w = startWatcher(['kvs', 'eventlog', 'wait-event', '-v', 'we.log', 'done']);
  assert.equal(await w.first, '1.000000 start');
  await sh('flux kvs eventlog append -t 2 we.log done \'{"ok":true}\'');
  assert.deepEqual(await w.done, { stdout: '1.000000 start\n2.000000 done ok=true\n', status: 0 });
  assert.deepEqual(await sh('flux kvs eventlog wait-event -t 0.2 we.log never'),
    { output: "flux-kvs: wait-event timeout on event 'never'\n", status: 1 });
});

test('get -W waits for the key to be created; get -w -W -c 1 too; get -w on a missing key fails', async () => {
  const once = startWatcher(['kvs', 'get', '-W', 'w.created']);
  const watched = startWatcher(['kvs', 'get', '-w', '-W', '-c', '1', 'w.created']);
  await waitWatchers(2);
  await sh('flux kvs put w.created=now');
  assert.deepEqual(await once.done, { stdout: 'now\n', status: 0 });
  assert.deepEqual(await watched.done, { stdout: 'now\n', status: 0 });
  assert.deepEqual(await sh('flux kvs get --watch w.never'), { output: 'flux-kvs: w.never: No such file or directory\n', status: 1 });
});
