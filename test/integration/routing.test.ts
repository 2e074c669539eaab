import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { flux, startInstance, type Instance } from './helpers';
import { Flux } from '../../broker/src/common/libflux/handle';
import { FluxError } from '../../broker/src/common/libflux/errno';
import { NODEID_UPSTREAM } from '../../broker/src/common/libflux/message';
import { loadVectors } from '../unit/vectors';

let inst: Instance;
before(async () => {
  inst = await startInstance(7, ['tbon.topo=kary:2']); // 0:[1,2] 1:[3,4] 2:[5,6]
});
after(async () => {
  assert.equal(await inst.stop(), 0);
});

test('every rank answers attr.get and broker.ping through the tree', async () => {
  const h = await Flux.open(inst.uri);
  try {
    for (let r = 0; r < 7; r++) {
      const a = await h.rpc('attr.get', { name: 'rank' }, { nodeid: r }).get<{ value: string; flags: number }>();
      assert.deepEqual(a, { value: String(r), flags: 1 });
      const p = await h.rpc('broker.ping', { seq: r, pad: '' }, { nodeid: r }).get<{ route: string; rank: number; seq: number }>();
      assert.equal(p.rank, r);
      assert.equal(p.seq, r);
      // client + one hop per broker on the way down
      const depth = r === 0 ? 0 : r <= 2 ? 1 : 2;
      assert.equal(p.route.split('!').length, 2 + depth, p.route);
    }
  } finally {
    h.close();
  }
});

test('errors: ENOSYS with flux-core\'s text, EHOSTUNREACH past the last rank', async () => {
  const h = await Flux.open(inst.uri);
  try {
    await assert.rejects(h.rpc('nosuch.ping', {}).get(), (e: unknown) =>
      e instanceof FluxError && e.errnum === 38 && e.message === 'No service matching nosuch.ping is registered');
    await assert.rejects(h.rpc('broker.ping', {}, { nodeid: 7 }).get(), (e: unknown) => e instanceof FluxError && e.errnum === 113);
    await assert.rejects(h.rpc('nosuch.thing', {}, { nodeid: 5 }).get(), (e: unknown) => e instanceof FluxError && e.errnum === 38);
    await assert.rejects(h.rpc('attr.get', { name: 'bogus' }, { nodeid: 6 }).get(), (e: unknown) => e instanceof FluxError && e.errnum === 2);
    await assert.rejects(h.rpc('broker.ping', {}, { nodeid: NODEID_UPSTREAM }).get(), (e: unknown) => e instanceof FluxError && e.errnum === 113);
  } finally {
    h.close();
  }
});

test('a leaf\'s own socket works too, and UPSTREAM reaches its parent', async () => {
  const leaf = inst.uri.replace(/local-0$/, 'local-6');
  const h = await Flux.open(leaf);
  try {
    assert.equal(await h.getattr('rank'), '6');
    const p = await h.rpc('broker.ping', {}, { nodeid: NODEID_UPSTREAM }).get<{ rank: number }>();
    assert.equal(p.rank, 2);
    assert.equal((await h.rpc('attr.get', { name: 'rank' }, { nodeid: 3 }).get<{ value: string }>()).value, '3');
  } finally {
    h.close();
  }
});

test('overlay.topology describes the tree as flux-core does', async () => {
  const h = await Flux.open(inst.uri);
  try {
    const t = await h.rpc('overlay.topology', { rank: 0 }).get();
    assert.deepEqual(t, {
      rank: 0, size: 7, children: [
        { rank: 1, size: 3, children: [{ rank: 3, size: 1, children: [] }, { rank: 4, size: 1, children: [] }] },
        { rank: 2, size: 3, children: [{ rank: 5, size: 1, children: [] }, { rank: 6, size: 1, children: [] }] },
      ],
    });
  } finally {
    h.close();
  }
});

test('flux ping prints flux-core\'s lines and errors', async () => {
  const r = await flux(['ping', '-c', '2', '-i', '0.01', '4'], inst.env);
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines[0], 'flux-ping 4!broker');
  for (const [i, l] of lines.slice(1).entries()) {
    assert.match(l, new RegExp(`^4!broker\\.ping pad=0 seq=${i} time=\\d+\\.\\d{3} ms \\([0-9a-f]{8}(![0-9a-f]{8}){3}\\)$`));
  }
  const u = await flux(['ping', '-c1', '-u', '--pad=5', '0'], inst.env);
  assert.match(u.stdout, /^0!broker\.ping pad=5 userid=\d+ rolemask=0x5 seq=0 time=/m);
  const bad = await flux(['ping', '-c1', 'nosuch'], inst.env);
  assert.equal(bad.status, 1);
  assert.equal(bad.stderr, 'flux-ping: nosuch.ping: Function not implemented\n');
  assert.equal(bad.stdout, 'flux-ping any!nosuch\n');
  const up = await flux(['ping', '-c1', 'upstream'], inst.env);
  assert.equal(up.stderr, 'flux-ping: upstream!broker.ping: No route to host\n');
  const far = await flux(['ping', '-c1', '9'], inst.env);
  assert.equal(far.stderr, 'flux-ping: 9!broker.ping: No route to host\n');
});

test('flux getattr / lsattr and flux uri', async () => {
  assert.equal((await flux(['getattr', 'size'], inst.env)).stdout, '7\n');
  const bogus = await flux(['getattr', 'BOGUS'], inst.env);
  assert.deepEqual([bogus.stderr, bogus.status], ['flux-getattr: BOGUS: No such file or directory\n', 1]);
  const ls = await flux(['lsattr', '-v'], inst.env);
  assert.match(ls.stdout, /^tbon\.topo {31}kary:2$/m);
  assert.match(ls.stdout, /^rank {36}0$/m);
  assert.equal((await flux(['uri', inst.uri], inst.env)).stdout, `${inst.uri}\n`);
  const remote = await flux(['uri', '--remote', inst.uri], inst.env);
  assert.match(remote.stdout, /^ssh:\/\/[^/]+\/.+\/local-0\n$/);
  assert.equal((await flux(['uri', '--local', remote.stdout.trim()], inst.env)).stdout, `${inst.uri}\n`);
  const pid = await flux(['uri', `pid:${inst.pids[0]}`], inst.env);
  assert.equal(pid.status, 1, 'a broker without an initial program has no child to read FLUX_URI from');
  assert.match(pid.stderr, /^flux-uri: ERROR: PID \d+ is a flux-broker and no child can be found\n$/);
  const none = await flux(['uri'], inst.env);
  assert.equal(none.status, 2);
  assert.match(none.stderr, /the following arguments are required: TARGET/);
});

test('a flux-core client\'s recorded bytes get a well-formed answer', async () => {
  const rec = loadVectors().get('getattr-size.json')!;
  const req = Buffer.from(rec.messages.find((m) => m.dir === 'c2s')!.hex, 'hex');
  const sockPath = inst.uri.slice('local://'.length);
  const reply = await new Promise<Buffer>((resolve, reject) => {
    const s = net.createConnection(sockPath);
    let buf = Buffer.alloc(0);
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 9 && buf.length >= 9 + buf.readUInt32BE(5)) {
        s.destroy();
        resolve(buf);
      }
    });
    s.on('error', reject);
    s.write(req);
  });
  assert.equal(reply[0], 0, 'handshake byte');
  const expected = Buffer.from(rec.messages.find((m) => m.dir === 's2c')!.hex, 'hex');
  // Same bytes as flux-core's answer except the size (7 here, 4 there) and the owner's uid.
  const ours = reply.subarray(1).toString('hex');
  const theirs = expected.toString('hex').replace(Buffer.from('"4"').toString('hex'), Buffer.from('"7"').toString('hex'));
  const uid = (process.getuid?.() ?? 0).toString(16).padStart(8, '0');
  assert.equal(ours, theirs.replace(/0b00000000(00000005)/, `0b${uid}$1`));
});
