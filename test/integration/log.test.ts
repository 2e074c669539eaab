import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { FLUX, flux, startInstance, type Instance } from './helpers';
import { Flux } from '../../broker/src/common/libflux/handle';
import { FluxError } from '../../broker/src/common/libflux/errno';
import { FLAG_STREAMING, type Message } from '../../broker/src/common/libflux/message';
import { RawClient } from './raw-client';
import { loadVectors } from '../unit/vectors';

let inst: Instance;
const uriOf = (rank: number): string => inst.uri.replace(/local-0$/, `local-${rank}`);
const envOf = (rank: number): NodeJS.ProcessEnv => ({ ...inst.env, FLUX_URI: uriOf(rank), TZ: 'UTC' });

before(async () => {
  inst = await startInstance(7, ['tbon.topo=kary:2']); // 0:[1,2] 1:[3,4] 2:[5,6]
});
after(async () => {
  assert.equal(await inst.stop(), 0);
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The payload lines of a dmesg stream (NUL-terminated text), read until ENODATA. */
async function dmesgLines(uri: string): Promise<string[]> {
  const h = await Flux.open(uri);
  try {
    const lines: string[] = [];
    for await (const m of h.rpc('log.dmesg', { follow: false, nobacklog: false }, { flags: FLAG_STREAMING })) {
      assert.equal(m.payload?.at(-1), 0, 'each line is NUL-terminated');
      lines.push(m.payload!.toString('utf8', 0, m.payload!.length - 1));
    }
    return lines;
  } finally {
    h.close();
  }
}

test('flux logger, then flux dmesg shows the entry with its app, severity and rank', async () => {
  const r = await flux(['logger', 'hello-from-test'], envOf(0));
  assert.deepEqual([r.status, r.stdout, r.stderr], [0, '', '']);
  assert.equal((await flux(['logger', '-s', 'warning', '-n', 'myapp', 'two', 'words'], envOf(3))).status, 0);
  const d = await flux(['dmesg'], envOf(0));
  assert.equal(d.status, 0, d.stderr);
  assert.match(d.stdout, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z logger\.notice\[0\]: hello-from-test$/m);
  assert.match(d.stdout, /^\S+Z broker\.info\[0\]: quorum-full: quorum->run \S+s$/m, 'the broker\'s own messages are there');
  const d3 = await flux(['dmesg'], envOf(3));
  assert.match(d3.stdout, /^\S+Z myapp\.warning\[3\]: two words$/m);
  assert.doesNotMatch(d3.stdout, /hello-from-test/, 'each broker has its own ring');
  const lines = await dmesgLines(uriOf(0));
  assert.ok(lines.some((l) => /^<40>1 \S+Z 0 logger \d+ - - hello-from-test$/.test(l)), 'notice is <40> (severity<<3)');
  // Another time zone: local time with its offset.
  const la = await flux(['dmesg'], { ...envOf(0), TZ: 'America/Los_Angeles' });
  assert.match(la.stdout, /^\S+\.\d{6}-0[78]:00 logger\.notice\[0\]: hello-from-test$/m);
  const hum = await flux(['dmesg', '-H', '--color=never'], envOf(0));
  assert.match(hum.stdout, /^\[\w{3}\d\d \d\d:\d\d\] \S+\[0\]: /);
  assert.match(hum.stdout, /^\[ *\+\d+\.\d{6}\] logger\.notice\[0\]: hello-from-test$/m);
});

test('an err entry logged on rank 5 is forwarded through rank 2 to rank 0\'s ring', async () => {
  const h = await Flux.open(inst.uri);
  try {
    const stamp = new Date().toISOString().replace(/Z$/, '000Z');
    const line = (sev: number, msg: string): Buffer => Buffer.from(`<${sev << 3}>1 ${stamp} 5 fwdtest 42 - - ${msg}`);
    // Non-zero matchtag: answered, with no payload.
    const reply = await h.rpc('log.append', line(3, 'forwarded-err'), { nodeid: 5 }).response();
    assert.equal(reply.payload, undefined);
    await h.rpc('log.append', line(6, 'local-info'), { nodeid: 5 }).response();
  } finally {
    h.close();
  }
  let root: string[] = [];
  for (let i = 0; i < 100 && !root.some((l) => l.endsWith('forwarded-err')); i++) {
    await sleep(20);
    root = await dmesgLines(uriOf(0));
  }
  assert.ok(root.some((l) => l.endsWith(' 5 fwdtest 42 - - forwarded-err')), 'rank 0 got the err line');
  assert.ok(!root.some((l) => l.endsWith('local-info')), 'info stays on rank 5 (log-forward-level 3)');
  const five = await dmesgLines(uriOf(5));
  assert.ok(five.some((l) => l.endsWith('forwarded-err')) && five.some((l) => l.endsWith('local-info')));
  const two = await dmesgLines(uriOf(2));
  assert.ok(!two.some((l) => l.includes('fwdtest')), 'the rank in between passes it on without keeping it');
  const d = await flux(['dmesg'], envOf(0));
  assert.match(d.stdout, /^\S+Z fwdtest\.err\[5\]: forwarded-err$/m);
});

test('log.dmesg: EPROTO unless streaming or with a bad payload', async () => {
  const h = await Flux.open(uriOf(1));
  try {
    const isEproto = (e: unknown): boolean => e instanceof FluxError && e.errnum === 71;
    await assert.rejects(h.rpc('log.dmesg', { follow: false, nobacklog: false }).get(), isEproto);
    await assert.rejects(h.rpc('log.dmesg', { nobacklog: false }, { flags: FLAG_STREAMING }).response(), isEproto);
  } finally {
    h.close();
  }
});

test('flux dmesg -C and -c clear the ring', async () => {
  const env = envOf(4);
  assert.equal((await flux(['logger', 'before-clear'], env)).status, 0);
  const c = await flux(['dmesg', '-c'], env);
  assert.match(c.stdout, /logger\.notice\[4\]: before-clear$/m);
  assert.equal((await flux(['dmesg'], env)).stdout, '');
  assert.equal((await flux(['logger', 'again'], env)).status, 0);
  const C = await flux(['dmesg', '-C'], env);
  assert.deepEqual([C.status, C.stdout], [0, '']);
  assert.equal((await flux(['dmesg'], env)).stdout, '');
  assert.equal((await flux(['logger', 'hello-from-test'], env)).status, 0);
  assert.match((await flux(['dmesg'], env)).stdout, /^\S+Z logger\.notice\[4\]: hello-from-test\n$/);
});

test('log.dmesg follow streams new entries; log.cancel ends it with ENODATA', async () => {
  const h = await Flux.open(uriOf(6));
  try {
    const rpc = h.rpc('log.dmesg', { follow: true, nobacklog: true }, { flags: FLAG_STREAMING });
    const got: string[] = [];
    const done = (async () => {
      for await (const m of rpc) {
        got.push(m.payload!.toString('utf8', 0, m.payload!.length - 1));
        if (got.length === 2) h.send(cancel(rpc.matchtag));
      }
    })();
    await sleep(50);
    assert.equal((await flux(['logger', 'follow-1'], envOf(6))).status, 0);
    assert.equal((await flux(['logger', '-s', 'debug', 'follow-2'], envOf(6))).status, 0);
    await Promise.race([done, sleep(5000).then(() => assert.fail('stream did not end after log.cancel'))]);
    assert.match(got[0], / logger \d+ - - follow-1$/);
    assert.match(got[1], /^<56>1 .* follow-2$/);
  } finally {
    h.close();
  }
});

function cancel(matchtag: number): Message {
  const m: Message = { type: 0x01, flags: 0x01 | 0x02 | 0x04 | 0x08, userid: 0xffffffff, rolemask: 0, aux1: 0xffffffff, aux2: 0, routes: [], topic: 'log.cancel' };
  m.payload = Buffer.from(JSON.stringify({ matchtag }) + '\0');
  return m;
}

test('flux dmesg -f prints new entries, stops on a signal, and the broker forgets it', async () => {
  const env = envOf(0);
  const c = spawn(process.execPath, [FLUX, 'dmesg', '-f', '-n'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  c.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => c.once('exit', () => r()));
  try {
    for (let i = 0; i < 100 && !out.includes('follow-me'); i++) {
      await flux(['logger', 'follow-me'], env);
      await sleep(50);
    }
    assert.match(out, /^\S+Z logger\.notice\[0\]: follow-me$/m);
    assert.doesNotMatch(out, /instance is up/, '-n: no backlog');
  } finally {
    c.kill('SIGTERM');
    await exited;
  }
  await sleep(100);
  // Were the follower still registered, this entry would be answered to a gone client and the
  // broker would log the dropped response.
  assert.equal((await flux(['logger', 'after-follow'], env)).status, 0);
  await sleep(100);
  const lines = await dmesgLines(uriOf(0));
  assert.ok(lines.some((l) => l.endsWith('after-follow')));
  assert.ok(!lines.some((l) => /unknown hop|dropped/.test(l)), lines.filter((l) => /dropped/.test(l)).join('\n'));
});

test('the recorded bytes of flux-core\'s `flux logger hi` and `flux dmesg` work as they did', async () => {
  const v = loadVectors();
  const append = Buffer.from(v.get('logger.json')!.messages.find((m) => m.decoded.topic === 'log.append')!.hex, 'hex');
  const dmesgReq = Buffer.from(v.get('dmesg.json')!.messages[0].hex, 'hex');
  const sockPath = inst.uri.slice('local://'.length);
  const c = await RawClient.connect(sockPath);
  c.write(append); // matchtag 0: no reply
  c.write(dmesgReq); // same connection: handled after the append
  const msgs = await c.until((m) => m.aux1 !== 0);
  c.close();
  const last = msgs.at(-1)!;
  assert.equal(last.aux1, 61, 'ENODATA ends the stream');
  assert.equal(last.flags & FLAG_STREAMING, FLAG_STREAMING);
  assert.ok(msgs.slice(0, -1).every((m) => m.aux2 === 1 && m.flags === 0x4b && m.payload?.at(-1) === 0));
  const lines = msgs.slice(0, -1).map((m) => m.payload!.toString('utf8', 0, m.payload!.length - 1));
  assert.ok(lines.includes('<40>1 2026-11-24T19:42:21.399725Z 0 logger 12862 - - hi'), 'kept as sent');
  assert.ok(lines.some((l) => / 0 broker \d+ - - /.test(l)), 'rank 0\'s own lines');
});
