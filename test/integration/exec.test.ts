/**
 * `flux exec` and the `rexec` service on real broker processes: every example
 * recorded on flux-core 0.88 (exec-echo-hi.txt, exec-hostname.txt), stdin
 * broadcast with flow control, big output, a rank lost mid-run, signals,
 * FLUX_URI per rank, 16 ranks, background/waitable/attach, and that processes
 * die with the client that started them and with the instance.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { FLUX, ROOT, alive, shell, startInstance, waitGone, type Instance, BIN } from './helpers';
import { Flux } from '../../broker/src/common/libflux/handle';
import { FluxError } from '../../broker/src/common/libflux/errno';
import { FLAG_STREAMING, getJson } from '../../broker/src/common/libflux/message';

const REF = path.resolve(ROOT, '../shared/reference/flux-core-behaviour');

interface ShResult {
  stdout: string;
  stderr: string;
  status: number | null;
}

/** Run a shell command line in the instance (flux on PATH), optionally feeding stdin. */
function sh(inst: Instance, line: string, input?: Buffer | string, timeoutMs = 60_000): Promise<ShResult> {
  return shell(line, inst.env, { input, timeoutMs });
}

/** A running `flux exec` whose output we watch as it comes. */
function background(inst: Instance, args: string[]): { c: ChildProcess; out: () => string; err: () => string; done: Promise<number | null> } {
  const c = spawn(process.execPath, [FLUX, 'exec', ...args], { env: { ...inst.env, PATH: `${BIN}:${process.env.PATH ?? ''}` }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  c.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  c.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const done = new Promise<number | null>((res) => c.on('exit', (code) => res(code)));
  return { c, out: () => out, err: () => err, done };
}

/** Poll `cond` until it holds or `ms` passes. */
async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    if (await cond()) return;
    if (Date.now() - t0 > ms) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The examples of a recording: command line, merged output lines, exit status. */
function recorded(file: string): { cmd: string; lines: string[]; status: number }[] {
  const text = fs.readFileSync(path.join(REF, file), 'utf8');
  const out: { cmd: string; lines: string[]; status: number }[] = [];
  for (const block of text.split(/^\$ /m).slice(1)) {
    const lines = block.split('\n');
    const cmd = lines[0];
    const end = lines.findIndex((l) => /^\[exit status: \d+\]$/.test(l));
    out.push({ cmd, lines: lines.slice(1, end), status: Number(/\d+/.exec(lines[end])![0]) });
  }
  return out;
}

const sorted = (lines: string[]): string[] => [...lines].sort();
const linesOf = (s: string): string[] => s.split('\n').filter((l) => l !== '');

interface Proc {
  pid: number;
  cmd: string;
  label: string;
  state: string;
}
async function procs(h: Flux, rank: number): Promise<Proc[]> {
  return (await h.rpc('rexec.list', {}, { nodeid: rank }).get<{ procs: Proc[] }>()).procs;
}

let inst: Instance;
let h: Flux;
before(async () => {
  inst = await startInstance(4);
  h = await Flux.open(inst.uri);
});
after(async () => {
  // Whatever still runs under rexec when the instance stops must go with it.
  const left: number[] = [];
  for (let r = 0; r < 4; r++) {
    const p = await h.rpc('rexec.exec', {
      cmd: { cmdline: ['sleep', '60'], env: {}, opts: {}, channels: [] }, flags: 0,
    }, { nodeid: r }).get<{ pid: number }>();
    left.push(p.pid);
  }
  assert.ok(left.every(alive));
  h.close();
  assert.equal(await inst.stop(), 0);
  await waitGone(left);
});

test('every recorded example of exec-echo-hi.txt and exec-hostname.txt', async () => {
  const host = os.hostname();
  for (const ex of [...recorded('exec-echo-hi.txt'), ...recorded('exec-hostname.txt')]) {
    // The recording ran with a bash script; `echo input | ...` needs a shell as well.
    const r = await sh(inst, ex.cmd, ex.cmd.startsWith('echo') ? undefined : '');
    const want = ex.lines.map((l) => l.replace(/\/tmp\/flux-[A-Za-z0-9]+/g, inst.rundir).replace(/^vm$/, host));
    const got = [...linesOf(r.stdout), ...linesOf(r.stderr)];
    // Ranks run concurrently: their lines interleave as they come, in flux-core too.
    assert.deepEqual(sorted(got), sorted(want), ex.cmd);
    assert.equal(r.status, ex.status, ex.cmd);
    // The failure summary comes last on stderr, in flux-core's order.
    const summary = want.filter((l) => /^\[?[\d,-]+\]?: (Exit \d+|Killed)$/.test(l));
    if (summary.length) assert.deepEqual(linesOf(r.stderr).slice(-summary.length), summary, ex.cmd);
  }
});

test('help, usage and option errors', async () => {
  const help = await sh(inst, 'flux exec --help');
  const rec = fs.readFileSync(path.join(REF, 'exec-help.txt'), 'utf8').split('\n').slice(1, -2).join('\n') + '\n';
  assert.equal(help.stdout, rec);
  assert.equal(help.status, 0);
  const none = await sh(inst, 'flux exec');
  assert.equal(none.status, 1);
  assert.match(none.stderr, /^Usage: flux-exec \[OPTIONS\]\.\.\./);
  assert.deepEqual(await sh(inst, 'flux exec -r foo true'), { stdout: '', stderr: "flux-exec: failed to decode idset 'foo': Invalid argument\n", status: 1 });
  assert.deepEqual(await sh(inst, 'flux exec -r 1 -x 1 true'), { stdout: '', stderr: 'flux-exec: No targets specified\n', status: 1 });
  assert.deepEqual(await sh(inst, 'flux exec --with-imp true'), { stdout: '', stderr: 'flux-exec: --with-imp: exec.imp path not found in config\n', status: 1 });
  assert.deepEqual(await sh(inst, 'flux exec -j 1234 true'), { stdout: '', stderr: 'flux-exec: job 1234 not found\n', status: 1 });
  assert.deepEqual(await sh(inst, 'flux exec -j nojob true'), { stdout: '', stderr: 'flux-exec: error parsing jobid: "nojob"\n', status: 1 });
});

test('launch failures: 126 for permission denied, the cwd, -q and signals in the summary', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'exec-dir-'));
  try {
    const script = path.join(dir, 'not-executable');
    fs.writeFileSync(script, 'echo hi\n', { mode: 0o644 });
    const denied = await sh(inst, `flux exec -r 1 ${script}`);
    assert.equal(denied.stderr, `flux-exec: Error: rank 1: ${script}: error launching process: Permission denied\n`);
    assert.equal(denied.status, 126);
    const pwd = await sh(inst, `flux exec -r 2 -d ${dir} pwd`);
    assert.deepEqual(pwd, { stdout: `${dir}\n`, stderr: '', status: 0 });
    const here = await sh(inst, `cd ${dir} && flux exec -r 3 pwd`);
    assert.equal(here.stdout, `${dir}\n`, 'the default is the caller\'s directory');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const killed = await sh(inst, 'flux exec -r 0,2-3 sh -c \'kill -9 $$\'');
  assert.deepEqual(killed, { stdout: '', stderr: '[0,2-3]: Killed\n', status: 137 });
  const quiet = await sh(inst, 'flux exec -q -r 1 sh -c "exit 4"');
  assert.deepEqual(quiet, { stdout: '', stderr: '', status: 4 });
});

test('the wire: add-credit with the whole buffer, started, output, finished, ENODATA', async () => {
  const rpc = h.rpc('rexec.exec', {
    cmd: { cmdline: ['sh', '-c', 'printf "a\\nb"; printf "\\377" >&2; exit 2'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, opts: {}, channels: [] },
    flags: 11,
  }, { nodeid: 3, flags: FLAG_STREAMING });
  const seen: Record<string, unknown>[] = [];
  for await (const m of rpc) seen.push(getJson(m));
  assert.deepEqual(seen[0], { type: 'add-credit', channels: { stdin: 4194304 } });
  assert.equal(seen[1].type, 'started');
  const pid = seen[1].pid as number;
  const outputs = seen.filter((s) => s.type === 'output').map((s) => s.io);
  assert.deepEqual(outputs.filter((io) => (io as { stream: string }).stream === 'stdout'), [
    { stream: 'stdout', rank: '3', data: 'a\n' },
    { stream: 'stdout', rank: '3', data: 'b' },
    { stream: 'stdout', rank: '3', eof: true },
  ]);
  assert.deepEqual(outputs.filter((io) => (io as { stream: string }).stream === 'stderr'), [
    { stream: 'stderr', rank: '3', encoding: 'base64', data: '/w==' },
    { stream: 'stderr', rank: '3', eof: true },
  ]);
  assert.ok(seen.every((s) => s.type !== 'output' || s.pid === pid));
  assert.deepEqual(seen.find((s) => s.type === 'finished'), { type: 'finished', status: 2 << 8 });
  // No environment sent: the broker's own, with FLUX_URI pointing at that broker.
  const env = h.rpc('rexec.exec', { cmd: { cmdline: ['printenv', 'FLUX_URI'], env: {}, opts: {}, channels: [] }, flags: 3 }, { nodeid: 2, flags: FLAG_STREAMING });
  const data: string[] = [];
  for await (const m of env) {
    const r = getJson<{ type: string; io?: { data?: string } }>(m);
    if (r.type === 'output' && r.io?.data) data.push(r.io.data);
  }
  assert.deepEqual(data, [`local://${inst.rundir}/local-2\n`]);
  await assert.rejects(h.rpc('rexec.exec', { cmd: { cmdline: [], env: {}, opts: {}, channels: [] }, flags: 3 }, { nodeid: 1, flags: FLAG_STREAMING }).response(),
    (e: unknown) => e instanceof FluxError && e.errnum === 71 && e.message === 'command string is empty');
  await assert.rejects(h.rpc('rexec.exec', { cmd: { cmdline: ['true'], env: {}, opts: {}, channels: [] }, flags: 8 }, { nodeid: 1 }).response(),
    (e: unknown) => e instanceof FluxError && e.errnum === 22 && e.message === 'write-credit flag is not allowed in background mode');
  await assert.rejects(h.rpc('rexec.kill', { pid: 1, signum: 15 }, { nodeid: 1 }).response(),
    (e: unknown) => e instanceof FluxError && e.errnum === 3 && e.message === 'pid 1 does not belong to any subprocess');
});

test('stdin is broadcast to every target, a few MB of binary data, within the credits', async () => {
  const data = crypto.randomBytes(9 * 1024 * 1024 + 123); // more than the 4 MiB of credit each rank grants
  const sum = crypto.createHash('sha256').update(data).digest('hex');
  // The reader starts late: the data has to wait for credits instead of piling up in the broker.
  const r = await sh(inst, 'flux exec -l -r 0-3 sh -c "sleep 0.5; sha256sum"', data, 120_000);
  assert.equal(r.stderr, '');
  assert.deepEqual(sorted(linesOf(r.stdout)), [0, 1, 2, 3].map((k) => `${k}: ${sum}  -`));
  assert.equal(r.status, 0);
  const lines = await sh(inst, 'flux exec -r 1,3 -l cat', 'one\ntwo\nthree\n');
  assert.deepEqual(sorted(linesOf(lines.stdout)), sorted(['1: one', '1: two', '1: three', '3: one', '3: two', '3: three']));
  const noinput = await sh(inst, 'flux exec -n -r 2 cat', 'ignored\n');
  assert.deepEqual(noinput, { stdout: '', stderr: '', status: 0 });
});

test('stdin flow control: flux exec reads no further than the remote credits allow', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'exec-flow-'));
  const go = path.join(dir, 'go');
  try {
    // The remote reads nothing until `go` exists; flux exec must stop reading its own stdin at ~4 MiB.
    const c = spawn(process.execPath, [FLUX, 'exec', '-r', '1', 'sh', '-c', `while [ ! -e ${go} ]; do sleep 0.05; done; wc -c`], {
      env: { ...inst.env, PATH: `${BIN}:${process.env.PATH ?? ''}` }, stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const done = new Promise<number | null>((res) => c.on('exit', (code) => res(code)));
    const total = 12 * 1024 * 1024;
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    let accepted = 0;
    let queued = 0;
    const feed = (): void => {
      while (queued < total) {
        queued += chunk.length;
        const more = c.stdin.write(chunk, () => (accepted += chunk.length));
        if (!more) {
          c.stdin.once('drain', feed);
          return;
        }
      }
      c.stdin.end();
    };
    feed();
    await until('the first 4 MiB taken', () => accepted >= 4 * 1024 * 1024);
    // An observation window: with credits honoured nothing more moves until the remote reads.
    await new Promise((r) => setTimeout(r, 400));
    assert.ok(accepted < 5 * 1024 * 1024, `flux exec took ${accepted} bytes while the remote read none`);
    fs.writeFileSync(go, '');
    assert.equal(await done, 0);
    assert.equal(out.trim(), String(total));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('50 MB of output streams through', async () => {
  // 500,000 lines of 100 bytes, produced on rank 3 (two TBON hops away from nothing: a child of rank 0).
  const line = `${'0123456789'.repeat(9)}abcdefghi\n`;
  const want = crypto.createHash('sha256').update(line.repeat(500_000)).digest('hex');
  const r = await sh(inst, `flux exec -r 3 sh -c 'yes ${line.trim()} | head -n 500000' | sha256sum`, undefined, 180_000);
  assert.equal(r.stdout, `${want}  -\n`);
  assert.equal(r.status, 0);
});

test('SIGINT is forwarded; three quick ones end flux exec, and its processes die with its connection', async () => {
  const x = background(inst, ['-l', 'sh', '-c', 'trap "echo int; exit 7" INT; echo ready; while :; do sleep 0.1; done']);
  await until('4 ready', () => linesOf(x.out()).filter((l) => l.endsWith('ready')).length === 4);
  x.c.kill('SIGINT');
  assert.equal(await x.done, 7);
  assert.deepEqual(sorted(linesOf(x.out()).filter((l) => l.endsWith('int'))), ['0: int', '1: int', '2: int', '3: int']);
  assert.equal(x.err(), '[0-3]: Exit 7\n');

  const y = background(inst, ['-v', '-r', '1-2', 'sh', '-c', 'trap "" INT; echo ready; exec sleep 60']);
  await until('2 ready', () => linesOf(y.out()).length === 2);
  const pids = (await Promise.all([1, 2].map((r) => procs(h, r)))).flat().map((p) => p.pid);
  assert.equal(pids.length, 2);
  for (let i = 1; i <= 3; i++) {
    y.c.kill('SIGINT');
    if (i < 3) await until(`signal ${i} forwarded`, () => y.err().split('sending signal 2 to 2 running processes').length - 1 === i);
  }
  assert.equal(await y.done, 1);
  assert.match(y.err(), /interrupt \(Ctrl\+C\) one more time within 1\.00 sec to exit\n\[1-2\]: command still running at exit\n$/);
  // flux exec is gone: rexec.disconnect killed what it left behind.
  await until('orphans killed', async () => pids.every((p) => !alive(p)) && (await procs(h, 1)).length === 0 && (await procs(h, 2)).length === 0);
});

test('a client that disconnects takes its foreground processes along, not its background ones', async () => {
  const c = await Flux.open(inst.uri);
  const cmd = { cmdline: ['sleep', '60'], env: {}, opts: {}, channels: [] };
  const bg = await c.rpc('rexec.exec', { cmd: { ...cmd, label: 'keep' }, flags: 0 }, { nodeid: 1 }).get<{ type: string; pid: number }>();
  assert.equal(bg.type, 'started');
  const fg: number[] = [];
  for (const rank of [0, 2]) {
    const rpc = c.rpc('rexec.exec', { cmd, flags: 3 }, { nodeid: rank, flags: FLAG_STREAMING });
    fg.push((await rpc.get<{ pid: number }>()).pid);
  }
  assert.ok(fg.every(alive));
  c.close();
  await until('foreground processes killed', () => fg.every((p) => !alive(p)));
  assert.ok(alive(bg.pid));
  assert.deepEqual((await procs(h, 1)).map((p) => [p.pid, p.label, p.state]), [[bg.pid, 'keep', 'R']]);
  await h.rpc('rexec.kill', { pid: 0, label: 'keep', signum: 9 }, { nodeid: 1 }).response();
  await until('background process killed', () => !alive(bg.pid));
});

test('--bg, --waitable and rexec.wait; --attach follows a background process', async () => {
  const bg = await sh(inst, 'flux exec -r 1 --bg --waitable --label=w sh -c "echo out; exit 5"');
  assert.match(bg.stdout, /^1: \d+\n$/);
  assert.equal(bg.status, 0);
  const w = await h.rpc('rexec.wait', { pid: 0, label: 'w' }, { nodeid: 1 }).get<{ status: number; output?: unknown[] }>();
  assert.deepEqual(w, { status: 5 << 8, output: [{ stream: 'stdout', rank: '1', data: 'out\n' }] });
  await assert.rejects(h.rpc('rexec.wait', { pid: 0, label: 'w' }, { nodeid: 1 }).response(), (e: unknown) => e instanceof FluxError && e.errnum === 3);

  const a = await sh(inst, 'flux exec -r 2-3 --bg --label=att sh -c "echo started; exec sleep 60"');
  assert.equal(linesOf(a.stdout).length, 2);
  const x = background(inst, ['-r', '2-3', '--attach', 'att']);
  await until('attached', async () => (await procs(h, 2)).length === 1 && (await procs(h, 3)).length === 1 && (await h.rpc('rexec.list', {}, { nodeid: 2 }).get<{ procs: { attached: boolean }[] }>()).procs[0].attached);
  for (const rank of [2, 3]) await h.rpc('rexec.kill', { pid: 0, label: 'att', signum: 15 }, { nodeid: rank }).response();
  assert.equal(await x.done, 143);
  assert.equal(x.err(), '[2-3]: Terminated\n');
  // A waitable zombie: attaching gets its ending at once and reaps it.
  await sh(inst, 'flux exec -r 3 --bg --waitable --label=z sh -c "echo x; exit 3"');
  await until('zombie', async () => (await procs(h, 3)).some((p) => p.label === 'z' && p.state === 'Z'));
  assert.deepEqual(await sh(inst, 'flux exec -r 3 --attach z'), { stdout: '', stderr: '3: Exit 3\n', status: 3 });
  assert.deepEqual(await procs(h, 3), []);
  const dup = await sh(inst, 'flux exec -r 1 --bg --label=dup sleep 60; flux exec -r 1 --bg --label=dup true');
  assert.match(dup.stderr, /^flux-exec: Error: rank 1: true: command label is not unique\n$/);
  assert.equal(dup.status, 1);
  await h.rpc('rexec.kill', { pid: 0, label: 'dup', signum: 9 }, { nodeid: 1 }).response();
});

test('16 ranks at once: FLUX_URI per rank, stdin to all', async () => {
  const big = await startInstance(16);
  try {
    const r = await sh(big, 'flux exec -l printenv FLUX_URI');
    assert.deepEqual(sorted(linesOf(r.stdout)), sorted(Array.from({ length: 16 }, (_, k) => `${k}: local://${big.rundir}/local-${k}`)));
    assert.equal(r.status, 0);
    const s = await sh(big, 'flux exec -l cat', 'x\n');
    assert.deepEqual(sorted(linesOf(s.stdout)), sorted(Array.from({ length: 16 }, (_, k) => `${k}: x`)));
  } finally {
    assert.equal(await big.stop(), 0);
  }
});

test('a rank killed mid-run fails fast with EHOSTUNREACH (68) while the others finish; nothing is left behind', async () => {
  const lossy = await startInstance(4, [], ['--test-exit-mode=leader']);
  const c = await Flux.open(lossy.uri);
  try {
    const brokerPid = Number((await c.rpc('attr.get', { name: 'broker.pid' }, { nodeid: 2 }).get<{ value: string }>()).value);
    const x = background(lossy, ['-r', '1-3', 'sh', '-c', 'echo ready; sleep 3; echo done']);
    await until('3 ready', () => linesOf(x.out()).length === 3);
    const orphan = (await procs(c, 2))[0].pid;
    const t0 = Date.now();
    process.kill(brokerPid, 'SIGKILL');
    await until('rank 2 reported', () => x.err().includes('rank 2'), 2500);
    assert.ok(Date.now() - t0 < 2500, 'rank 2 fails before the others finish');
    assert.equal(await x.done, 68);
    assert.match(x.err(), /^flux-exec: Error: rank 2: sh: .+\n$/);
    assert.deepEqual(linesOf(x.out()), ['ready', 'ready', 'ready', 'done', 'done']);
    // The dead broker's reaper killed its process group.
    await until('rank 2 process gone', () => !alive(orphan));
  } finally {
    c.close();
    await lossy.stop();
  }
});
