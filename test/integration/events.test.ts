import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { flux, startInstance, type Instance } from './helpers';
import { Flux } from '../../broker/src/common/libflux/handle';
import { encodeUsock } from '../../broker/src/common/libflux/usock';
import { RawClient } from './raw-client';
import { MSGTYPE_EVENT } from '../../broker/src/common/libflux/message';
import { loadVectors } from '../unit/vectors';

let inst: Instance;
before(async () => {
  inst = await startInstance(4, ['tbon.topo=kary:2']); // 0:[1,2] 1:[3]
});
after(async () => {
  assert.equal(await inst.stop(), 0);
});

test('a flux-core client\'s event.subscribe gets the byte-identical reply; its plain event is numbered and delivered', async () => {
  const v = loadVectors().get('event-pub.json')!;
  const sock = inst.uri.slice('local://'.length);
  const subscriber = await RawClient.connect(sock);
  const publisher = await RawClient.connect(sock);
  const [subReq, subResp, pubEvent] = [v.messages[0], v.messages[1], v.messages[2]];
  subscriber.write(subReq.hex);
  assert.equal(encodeUsock(await subscriber.next()).toString('hex'), subResp.hex, 'event.subscribe reply');
  publisher.write(pubEvent.hex);
  const ev = await subscriber.next();
  assert.equal(ev.type, MSGTYPE_EVENT);
  assert.equal(ev.topic, 'foo.bar');
  assert.ok(ev.aux1 >= 1, 'numbered by rank 0');
  assert.equal(ev.rolemask, 5);
  assert.equal(ev.userid, process.getuid?.() ?? 0);
  assert.equal(ev.routes.length, 2, 'publisher hop + broker hop, as flux-core delivers it');
  subscriber.write(v.messages[4].hex); // event.unsubscribe
  assert.equal(encodeUsock(await subscriber.next()).toString('hex'), v.messages[5].hex, 'event.unsubscribe reply');
  subscriber.close();
  publisher.close();
});

test('events reach subscribers on every rank in order, whichever rank publishes', async () => {
  const handles = await Promise.all([0, 1, 2, 3].map((r) => Flux.open(inst.uri.replace(/local-0$/, `local-${r}`))));
  try {
    const seen: number[][] = handles.map(() => []);
    handles.forEach((h, i) => h.onEvent((m) => seen[i].push(m.aux1)));
    await Promise.all(handles.map((h) => h.subscribe('test.order')));
    const seqs: number[] = [];
    for (let i = 0; i < 20; i++) seqs.push(await handles[i % 4].publish('test.order', Buffer.from(`{"i":${i}}\0`)));
    for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i] > seqs[i - 1], 'sequence numbers increase');
    const deadline = Date.now() + 5000;
    while (seen.some((s) => s.length < 20) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const [rank, s] of seen.entries()) assert.deepEqual(s, seqs, `rank ${rank} saw every event in order`);
  } finally {
    for (const h of handles) h.close();
  }
});

test('flux event pub/sub print what flux-core prints, and sub --count exits after N', async () => {
  const sub = flux(['event', 'sub', '--count=2', 'cli.msg'], inst.env);
  let exited = false;
  void sub.then(() => (exited = true));
  // The subscriber's readiness is invisible from here: publish numbered events until it has two.
  const deadline = Date.now() + 10_000;
  for (let i = 0; !exited && Date.now() < deadline; i++) {
    const p = await flux(['event', 'pub', `cli.msg.${i}`, `{"i":${i}}`], inst.env);
    assert.deepEqual([p.stdout, p.stderr, p.status], ['', '', 0]);
    await new Promise((r) => setTimeout(r, 20));
  }
  const r = await sub;
  assert.equal(r.status, 0, r.stderr);
  const m = /^cli\.msg\.(\d+)\t\{"i":(\d+)\}\ncli\.msg\.(\d+)\t\{"i":(\d+)\}\n$/.exec(r.stdout);
  assert.ok(m, `unexpected output ${JSON.stringify(r.stdout)}`);
  assert.equal(Number(m[3]), Number(m[1]) + 1, 'consecutive events, none lost once subscribed');
  assert.equal(m[1], m[2]);
  const sync = await flux(['event', 'pub', '-s', 'cli.sync'], inst.env);
  assert.match(sync.stdout, /^seq=\d+\n$/);
});

test('unsubscribing what was never subscribed is ENOENT; event.publish checks its input', async () => {
  const h = await Flux.open(inst.uri);
  try {
    await assert.rejects(h.unsubscribe('never'), (e: unknown) => (e as { errnum?: number }).errnum === 2);
    await assert.rejects(h.rpc('event.publish', { topic: 1 }, { nodeid: 0 }).get(), (e: unknown) => (e as { errnum?: number }).errnum === 71);
  } finally {
    h.close();
  }
});
