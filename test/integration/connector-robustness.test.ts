/**
 * A client that sends garbage is dropped (or answered EPROTO where it can be answered), the
 * broker logs why, and it goes on serving: after each kind of garbage, `flux ping 0` on the same
 * instance answers, and a client connected before it all still gets answers. Also: who may
 * connect (socket 0600 in a 0700 rundir) and the credentials stamped on client messages.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { flux, startInstance, type Instance } from './helpers';
import { RawClient } from './raw-client';
import { ConnectorLocal } from '../../broker/src/broker/connector-local';
import { Flux } from '../../broker/src/common/libflux/handle';
import { USOCK_MAGIC, encodeUsock } from '../../broker/src/common/libflux/usock';
import { FLAG_ROUTE, MSGTYPE_CONTROL, MSGTYPE_REQUEST, MSGTYPE_RESPONSE, newMessage, setJson, type Message } from '../../broker/src/common/libflux/message';

let inst: Instance;
let sock: string;
/** Connected before any garbage, used after all of it. */
let bystander: Flux;

before(async () => {
  inst = await startInstance(2);
  sock = path.join(inst.rundir, 'local-0');
  bystander = await Flux.open(inst.uri);
});
after(async () => {
  bystander.close();
  assert.equal(await inst.stop(), 0);
});

/** A broker.ping request as flux-core's client sends it (ROUTE set, userid unknown, rolemask 0). */
function pingRequest(tag: number, topic: string | null = 'broker.ping'): Message {
  const m = newMessage(MSGTYPE_REQUEST, topic ?? undefined);
  m.flags |= FLAG_ROUTE;
  m.aux2 = tag;
  setJson(m, { seq: tag, pad: '' });
  return m;
}

function header(len: number): Buffer {
  const h = Buffer.alloc(8);
  USOCK_MAGIC.copy(h);
  h.writeUInt32BE(len >>> 0, 4);
  return h;
}

/** `flux ping --count=1 0` on the same instance answers. */
async function pingStillAnswers(): Promise<void> {
  const r = await flux(['ping', '--count=1', '0'], inst.env, 30_000);
  assert.equal(r.status, 0, `flux ping 0 failed after garbage: ${r.stderr}`);
  assert.match(r.stdout, /^0!broker\.ping pad=0 seq=0 time=[\d.]+ ms/m);
}

/** How many connector-local lines of rank 0's log ring match `re`. */
async function logCount(re: RegExp): Promise<number> {
  const r = await flux(['dmesg'], inst.env);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter((l) => /connector-local: client=\w{5} userid=\d+: /.test(l) && re.test(l)).length;
}

/**
 * Run `act`, then check it added exactly one log line matching `re` (counted before and after,
 * so an earlier test's line cannot satisfy it).
 */
async function logsOnce(re: RegExp, act: () => Promise<void>): Promise<void> {
  const before = await logCount(re);
  await act();
  assert.equal(await logCount(re), before + 1, `expected one new connector-local log line matching ${re}`);
}

/** Send `bytes`, expect the broker to close the connection, its log to say why, and ping 0 to work. */
async function droppedFor(bytes: Buffer, why: RegExp): Promise<void> {
  await logsOnce(why, async () => {
    const c = await RawClient.connect(sock);
    c.write(bytes);
    assert.ok(await c.waitClosed(10_000), 'the broker did not drop the client');
  });
  await pingStillAnswers();
}

const good = encodeUsock(pingRequest(1));

test('a stray byte before the first message (a client echoing the handshake) is bad magic: dropped', async () => {
  await droppedFor(Buffer.concat([Buffer.from([0]), good]), /bad usock magic \(Protocol error\): dropping connection/);
});

test('a header with the wrong magic is dropped', async () => {
  await droppedFor(Buffer.concat([Buffer.from('ffee0012', 'hex'), good.subarray(4)]), /bad usock magic/);
});

test('frames that do not add up (a frame longer than the message) are dropped', async () => {
  const body = Buffer.from([0xff, 0x00, 0x10, 0x00, 0x00, 1, 2, 3]); // one frame claiming 1 MiB
  await droppedFor(Buffer.concat([header(body.length), body]), /truncated frame/);
});

test('a PROTO frame with a bad magic byte is dropped', async () => {
  const bad = Buffer.from(good);
  bad[bad.length - 20] = 0x8f;
  await droppedFor(bad, /bad PROTO magic or version/);
});

test('a message longer than the limit is refused from its header alone', async () => {
  // Nothing but the header is ever sent: the broker must not wait for (or allocate) 4 GiB.
  await droppedFor(header(0xffffffff), /usock message too large \(4294967295 bytes/);
});

test('half a message, then EOF: dropped and logged', async () => {
  await logsOnce(/disconnected in the middle of a message \(30 bytes dropped\): dropping connection/, async () => {
    const c = await RawClient.connect(sock);
    c.end(good.subarray(0, 30));
    assert.ok(await c.waitClosed(10_000));
  });
  await pingStillAnswers();
});

test('20 MB of empty frames (each frame once cost the broker an object) is dropped, the broker lives', async () => {
  const n = 20 * 1024 * 1024;
  const proto = encodeUsock(newMessage(MSGTYPE_REQUEST, undefined)).subarray(-21); // size byte + PROTO, flags 0
  const big = Buffer.concat([header(n + proto.length), Buffer.alloc(n), proto]);
  await droppedFor(big, /unexpected extra frames/);
});

test('a good request followed by garbage in the same write is answered, then the client is dropped', async () => {
  await logsOnce(/bad usock magic/, async () => {
    const c = await RawClient.connect(sock);
    c.write(Buffer.concat([encodeUsock(pingRequest(7)), Buffer.from('this is not usock framing')]));
    const r = await c.next();
    assert.equal(r.type, MSGTYPE_RESPONSE);
    assert.equal(r.aux2, 7);
    assert.equal(r.aux1, 0);
    assert.ok(await c.waitClosed(10_000));
  });
});

test('a request without a topic gets EPROTO and the connection stays usable', async () => {
  const c = await RawClient.connect(sock);
  const noTopic = pingRequest(3, null);
  assert.equal(noTopic.topic, undefined);
  await logsOnce(/request without a topic ignored/, async () => {
    c.write(encodeUsock(noTopic));
    const r = await c.next();
    assert.equal(r.type, MSGTYPE_RESPONSE);
    assert.equal(r.aux2, 3, 'matchtag of the request');
    assert.equal(r.aux1, 71, 'EPROTO');
  });
  // A control message is not the client's to send: ignored, still connected.
  await logsOnce(/control message ignored/, async () => {
    c.write(encodeUsock(newMessage(MSGTYPE_CONTROL)));
    c.write(encodeUsock(pingRequest(4)));
    const ok = await c.next();
    assert.equal(ok.aux2, 4);
    assert.equal(ok.aux1, 0);
    assert.ok(c.open);
  });
  c.close();
});

test('a malformed event.subscribe is answered EPROTO by the connector itself', async () => {
  const c = await RawClient.connect(sock);
  const m = newMessage(MSGTYPE_REQUEST, 'event.subscribe');
  m.flags |= FLAG_ROUTE;
  m.aux2 = 9;
  setJson(m, { topic: 42 });
  c.write(encodeUsock(m));
  const r = await c.next();
  assert.equal(r.aux2, 9);
  assert.equal(r.aux1, 71);
  c.close();
});

test('random bytes, many garbage clients at once: all dropped; earlier clients are still served', async () => {
  let x = 12345;
  const junk = (n: number): Buffer => {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      b[i] = x >>> 24;
    }
    return b;
  };
  const clients = await Promise.all(Array.from({ length: 20 }, () => RawClient.connect(sock)));
  clients.forEach((c, i) => c.write(junk(8 + i * 100)));
  const closed = await Promise.all(clients.map((c) => c.waitClosed(10_000)));
  assert.deepEqual(closed, clients.map(() => true));
  const r = await bystander.rpc('broker.ping', { seq: 1, pad: '' }, { nodeid: 0 }).get<{ seq: number }>();
  assert.equal(r.seq, 1);
  await pingStillAnswers();
});

test('client messages carry the owner userid and OWNER|LOCAL (flux ping -u)', async () => {
  const uid = process.getuid?.() ?? 0;
  const r = await flux(['ping', '-u', '--count=1', '0'], inst.env);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^0!broker\\.ping pad=0 userid=${uid} rolemask=0x5 seq=0 time=[\\d.]+ ms \\(`, 'm'));
  // The same through the connector of rank 1 (credentials are stamped where the client connects).
  const r1 = await flux(['ping', '-u', '--count=1', '0'], { ...inst.env, FLUX_URI: `local://${path.join(inst.rundir, 'local-1')}` });
  assert.equal(r1.status, 0, r1.stderr);
  assert.match(r1.stdout, new RegExp(`userid=${uid} rolemask=0x`, 'm'));
});

test('the socket is 0600 in a 0700 rundir, owned by the instance owner', () => {
  const uid = process.getuid?.() ?? 0;
  const d = fs.statSync(inst.rundir);
  assert.equal(d.mode & 0o777, 0o700, `rundir mode ${(d.mode & 0o777).toString(8)}`);
  assert.equal(d.uid, uid);
  for (const rank of [0, 1]) {
    const s = fs.statSync(path.join(inst.rundir, `local-${rank}`));
    assert.ok(s.isSocket());
    assert.equal(s.mode & 0o777, 0o600, `local-${rank} mode ${(s.mode & 0o777).toString(8)}`);
    assert.equal(s.uid, uid);
  }
  // No temporary bind directory is left behind.
  assert.deepEqual(fs.readdirSync(inst.rundir).filter((n) => n.startsWith('.')), []);
});

/** Try to connect to `target` as uid/gid 65534 (nobody); resolves with the error code or 'connected'. */
function connectAsNobody(target: string): Promise<string> {
  const script = `const s=require('net').createConnection(process.argv[1],()=>{console.log('connected');s.destroy()});s.on('error',(e)=>console.log(e.code))`;
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, ['-e', script, target], { uid: 65534, gid: 65534, stdio: ['ignore', 'pipe', 'pipe'], env: {} });
    let out = '';
    let err = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    c.on('error', reject);
    c.on('exit', () => (out.trim() ? resolve(out.trim()) : reject(new Error(`no result: ${err}`))));
  });
}

test('another user cannot connect, even where the rundir lets them through', { skip: process.getuid?.() !== 0 && 'needs root to act as another user' }, async () => {
  assert.equal(await connectAsNobody(sock), 'EACCES', 'the 0700 rundir keeps others out');
  // Open the directory for traversal: the socket's own mode (0600) must still refuse them.
  fs.chmodSync(inst.rundir, 0o711);
  try {
    assert.equal(await connectAsNobody(sock), 'EACCES', 'the 0600 socket keeps others out');
    // The check works: the same process can connect where the mode allows it.
    const probe = path.join(inst.rundir, 'probe-sock');
    const srv = net.createServer((s) => s.destroy());
    await new Promise<void>((r) => srv.listen(probe, r));
    fs.chmodSync(probe, 0o666);
    try {
      assert.equal(await connectAsNobody(probe), 'connected');
    } finally {
      srv.close();
    }
  } finally {
    fs.chmodSync(inst.rundir, 0o700);
  }
  await pingStillAnswers();
});

test('the connector refuses a rundir that is not the owner\'s, and removes its socket on close', async () => {
  const logs: string[] = [];
  const handlers = { request: () => {}, other: () => {}, disconnected: () => {}, log: (s: string) => logs.push(s) };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flux-conn-'));
  try {
    const c = new ConnectorLocal(process.getuid?.() ?? 0, handlers);
    const p = path.join(dir, 'local-0');
    await c.listen(p);
    assert.equal(fs.statSync(p).mode & 0o777, 0o600);
    assert.deepEqual(fs.readdirSync(dir), ['local-0'], 'only the socket: the private bind directory is gone');
    const raw = await RawClient.connect(p);
    raw.write(header(0xffffffff));
    assert.ok(await raw.waitClosed(5000));
    assert.match(logs.join('\n'), /connector-local: client=\w{5} userid=\d+: usock message too large/);
    c.close();
    assert.deepEqual(fs.readdirSync(dir), [], 'close() removes the socket');
    if (process.getuid?.() === 0) {
      fs.chownSync(dir, 65534, 65534);
      await assert.rejects(new ConnectorLocal(0, handlers).listen(p), (e: unknown) => e instanceof Error && /is not owned by instance owner/.test(e.message) && (e as { errnum?: number }).errnum === 1);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
