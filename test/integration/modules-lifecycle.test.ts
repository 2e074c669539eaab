/**
 * Broker modules beyond the bundled ones: a module file written here (as a user
 * would, exporting mod_main), loaded by path into a thread or (--exec) a
 * process; debug flags, FINALIZING, crashes of every kind, a module that will
 * not stop, service.add/remove, and flux-core's errors.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { alive, flux, startInstance, waitGone, type Instance } from './helpers';
import { Flux } from '../../broker/src/common/libflux/handle';
import { FluxError } from '../../broker/src/common/libflux/errno';
import { MSGTYPE_REQUEST, deriveResponse, setJson } from '../../broker/src/common/libflux/message';

const BEHAVIOUR = path.resolve(__dirname, '../../../shared/reference/flux-core-behaviour');
const recorded = (file: string): string => {
  const lines = fs.readFileSync(path.join(BEHAVIOUR, file), 'utf8').split('\n');
  return lines.slice(1, lines.findIndex((l) => l.startsWith('[exit status'))).join('\n') + '\n';
};

// A user's module: plain CommonJS, nothing required from us (the runtime comes in ctx).
const MODULE_SOURCE = `
exports.mod_main = (ctx, args) => {
  const name = ctx.name;
  ctx.serve(name + '.hello', (r) => r.respond({ args, debug: ctx.debugFlags, pid: process.pid }));
  ctx.serve(name + '.hang', () => {});
  ctx.serve(name + '.throw', (r) => { r.respond({}); setTimeout(() => { throw new Error('boom from a timer'); }, 5); });
  ctx.serve(name + '.reject', (r) => { r.respond({}); setTimeout(() => Promise.reject(new Error('nobody caught this')), 5); });
  ctx.serve(name + '.exit', (r) => { r.respond({}); setTimeout(() => process.exit(3), 5); });
  ctx.serve(name + '.spin', (r) => { r.respond({}); setTimeout(() => { for (;;) {} }, 5); });
  ctx.serve(name + '.addsvc', async (r) => {
    const { service } = r.json();
    ctx.serve(service + '.hello', (q) => q.respond({ from: name }));
    await ctx.h.rpc('service.add', { service }).get();
    r.respond({});
  });
  ctx.serve(name + '.rmsvc', async (r) => {
    await ctx.h.rpc('service.remove', { service: r.json().service }).get();
    r.respond({});
  });
  if (args.includes('fail')) throw new ctx.FluxError(ctx.errno.EIO, 'refusing to start: fail requested');
  if (args.includes('throw-plain')) throw new Error('plain error at start');
  if (args.includes('slowstop')) ctx.onShutdown(() => new Promise((res) => setTimeout(res, 1500)));
};
`;

let inst: Instance;
let dir: string;
let modFile: string;
let h: Flux;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flux-mod-'));
  modFile = path.join(dir, 'usermod.js');
  fs.writeFileSync(modFile, MODULE_SOURCE);
  fs.writeFileSync(path.join(dir, 'nomain.js'), 'exports.something = 1;\n');
  fs.writeFileSync(path.join(dir, 'syntax.js'), 'exports.mod_main = (ctx) => {\n');
  inst = await startInstance(2, ['broker.module-nopanic=1']);
  h = await Flux.open(inst.uri);
});

after(async () => {
  h.close();
  assert.equal(await inst.stop(), 0);
  fs.rmSync(dir, { recursive: true, force: true });
});

interface Mod {
  name: string;
  path: string;
  status: number;
  services: string[];
}

async function mods(rank = 0): Promise<Mod[]> {
  return (await h.rpc('module.list', {}, { nodeid: rank }).get<{ mods: Mod[] }>()).mods;
}

/** Poll (bounded) until `cond` holds. */
async function until(what: string, cond: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail(`timed out waiting for ${what}`);
}

async function dmesg(): Promise<string> {
  return (await flux(['dmesg'], inst.env)).stdout;
}

const isErrno = (n: number) => (e: unknown): boolean => e instanceof FluxError && e.errnum === n;

test('flux module debug: flux-core\'s output and errors; the module reads its flags; broker.debug', async () => {
  const run = (...a: string[]) => flux(['module', 'debug', ...a], inst.env);
  assert.deepEqual([(await run('heartbeat')).stdout], ['0x0\n'], 'as recorded: flux module debug kvs');
  assert.equal((await run('-s', '0x4', 'heartbeat')).stdout, '0x4\n');
  assert.equal((await run('-s', '1', 'heartbeat')).stdout, '0x5\n');
  assert.equal((await run('-c', '4', 'heartbeat')).stdout, '0x1\n');
  assert.equal((await run('-S', '0xffffffff', 'heartbeat')).stdout, '0xffffffff\n');
  assert.equal((await run('heartbeat')).stdout, '0xffffffff\n', 'a read changes nothing');
  assert.equal((await run('-C', 'heartbeat')).stdout, '0x0\n');
  assert.equal((await run('-S', '6', 'broker')).stdout, '0x6\n');
  assert.deepEqual(await h.rpc('broker.debug', { op: 'clrbit', flags: 2 }).get(), { flags: 4 });
  await assert.rejects(h.rpc('broker.debug', { flags: 2 }).get(), isErrno(71));
  await assert.rejects(h.rpc('heartbeat.debug', { op: 'flip', flags: 2 }).get(), isErrno(71));
  const none = await run('nosuchmod');
  assert.deepEqual([none.stderr, none.status], ['flux-module: nosuchmod.debug: Function not implemented\n', 1]);
  const noarg = await run();
  assert.deepEqual([noarg.stderr, noarg.status], ['flux-module: flux-debug requires service argument\n', 1]);

  assert.equal((await flux(['module', 'load', modFile], inst.env)).status, 0);
  assert.equal((await run('-S', '0x30', 'usermod')).stdout, '0x30\n');
  assert.equal((await h.rpc('usermod.hello', {}).get<{ debug: number }>()).debug, 0x30, 'ctx.debugFlags');
  assert.equal((await flux(['module', 'remove', 'usermod'], inst.env)).status, 0);
});

test('a module file by path: name from the file, --name, args, list -l shows the path, remove by path', async () => {
  const load = await flux(['module', 'load', path.relative(process.cwd(), modFile), 'a', 'b=c'], inst.env);
  assert.equal(load.status, 0, load.stderr);
  const hello = await h.rpc('usermod.hello', {}).get<{ args: string[]; pid: number }>();
  assert.deepEqual(hello.args, ['a', 'b=c']);
  assert.equal(hello.pid, inst.pids[0], 'a thread of the rank 0 broker');
  assert.equal((await flux(['module', 'load', '--name', 'second', modFile, 'x'], inst.env)).status, 0);
  assert.deepEqual((await h.rpc('second.hello', {}).get<{ args: string[] }>()).args, ['x']);
  const long = await flux(['module', 'list', '-l'], inst.env);
  assert.match(long.stdout, new RegExp(`^usermod {19}\\s+\\d+  R {5}0 {5}0 {10}${modFile.replace(/[.]/g, '\\.')}\\n`, 'm'));
  assert.match(long.stdout, /^second .* R .*usermod\.js$/m);
  const dup = await flux(['module', 'load', modFile], inst.env);
  assert.deepEqual([dup.stderr, dup.status], [`flux-module: load ${modFile}: File exists\n`, 1]);
  assert.equal((await flux(['module', 'remove', modFile], inst.env)).status, 0, 'remove by path, as flux-core allows');
  assert.equal((await flux(['module', 'reload', '--name', 'second', modFile, 'y'], inst.env)).status, 0);
  assert.deepEqual((await h.rpc('second.hello', {}).get<{ args: string[] }>()).args, ['y']);
  assert.equal((await flux(['module', 'remove', 'second'], inst.env)).status, 0);
  assert.deepEqual((await mods()).filter((m) => m.path.startsWith(dir)), []);
});

test('bad input: flux-core\'s messages and exit codes', async () => {
  const cases: [string[], string][] = [
    [['load', 'nosuchmod'], 'flux-module: load nosuchmod: module not found in search path\n'],
    [['load', './no/such/file.js'], 'flux-module: could not canonicalize module path \'./no/such/file.js\': No such file or directory\n'],
    [['load', path.join(dir, 'nomain.js')], `flux-module: load ${path.join(dir, 'nomain.js')}: module does not define mod_main()\n`],
    [['remove', 'nosuchmod'], 'flux-module: remove nosuchmod: No such file or directory\n'],
    [['load', 'heartbeat'], 'flux-module: load heartbeat: File exists\n'],
  ];
  for (const [argv, stderr] of cases) {
    const r = await flux(['module', ...argv], inst.env);
    assert.deepEqual([r.stderr, r.status], [stderr, 1], argv.join(' '));
  }
  const syntax = await flux(['module', 'load', path.join(dir, 'syntax.js')], inst.env);
  assert.equal(syntax.status, 1);
  assert.match(syntax.stderr, /^flux-module: load .*syntax\.js: .+\n$/);
  assert.equal((await flux(['module', 'remove', '-f', 'nosuchmod'], inst.env)).status, 0);
  for (const [file, sub] of [['module-load-help.txt', 'load'], ['module-remove-help.txt', 'remove']]) {
    assert.equal((await flux(['module', sub, '--help'], inst.env)).stdout, recorded(file));
  }
  const help = await flux(['module', '--help'], inst.env);
  assert.deepEqual([help.stderr, help.status], [recorded('module-help.txt'), 1]);
});

test('exit before RUNNING fails flux module load with the module\'s errno and message, logged at err', async () => {
  const r = await flux(['module', 'load', modFile, 'fail'], inst.env);
  assert.deepEqual([r.stderr, r.status], [`flux-module: load ${modFile}: refusing to start: fail requested\n`, 1]);
  assert.match(await dmesg(), /usermod\.err\[0\]: refusing to start: fail requested/);
  assert.ok(!(await mods()).some((m) => m.name === 'usermod'), 'a failed load leaves nothing listed');
  await assert.rejects(h.rpc('module.load', { path: modFile, args: ['fail'] }).get(), isErrno(5), 'the errno is the module\'s (EIO)');
  // A plain Error carries no errno: flux-core's default for that is ECONNRESET.
  await assert.rejects(h.rpc('module.load', { path: modFile, args: ['throw-plain'] }).get(), isErrno(104));
});

test('FINALIZING: once a module began its shutdown, requests for it are answered ENOSYS', async () => {
  assert.equal((await flux(['module', 'load', modFile, 'slowstop'], inst.env)).status, 0);
  const removing = flux(['module', 'remove', 'usermod'], inst.env);
  await until('state F in module.list', async () => (await mods()).find((m) => m.name === 'usermod')?.status === 2);
  assert.match((await flux(['module', 'list'], inst.env)).stdout, /^usermod {18}\s+\d+ {2}F /m);
  await assert.rejects(h.rpc('usermod.hello', {}).get(), isErrno(38));
  assert.equal((await removing).status, 0);
  assert.ok(!(await mods()).some((m) => m.name === 'usermod'));
});

for (const [method, logged] of [
  ['throw', /usermod\.err\[0\]: uncaught exception: Error: boom from a timer/],
  ['reject', /usermod\.err\[0\]: unhandled rejection: Error: nobody caught this/],
  ['exit', /broker\.err\[0\]: usermod: exited with status 3/],
] as const) {
  test(`a module that fails after RUNNING (${method}) is never silent: X, dmesg, pending requests answered`, async () => {
    assert.equal((await flux(['module', 'load', modFile], inst.env)).status, 0);
    const hanging = h.rpc('usermod.hang', {}).get();
    await h.rpc('usermod.hello', {}).get(); // the hang request is in the module by now
    await h.rpc(`usermod.${method}`, {}).get();
    await assert.rejects(hanging, isErrno(38), 'its unanswered request gets ENOSYS, not silence');
    await until('state X', async () => (await mods()).find((m) => m.name === 'usermod')?.status === 3);
    assert.match((await flux(['module', 'list'], inst.env)).stdout, /^usermod {18}\s+\d+ {2}X /m);
    await until('the failure in dmesg', async () => /broker\.crit\[0\]: usermod module runtime failure/.test(await dmesg()));
    assert.match(await dmesg(), logged);
    await assert.rejects(h.rpc('usermod.hello', {}).get(), isErrno(38), 'its service is gone');
    assert.equal((await flux(['module', 'remove', 'usermod'], inst.env)).status, 0, 'remove clears the X');
    assert.ok(!(await mods()).some((m) => m.name === 'usermod'));
  });
}

test('a module stuck in a busy loop does not hang flux module remove: terminated after a bounded wait, logged', async () => {
  assert.equal((await flux(['module', 'load', modFile], inst.env)).status, 0);
  await h.rpc('usermod.spin', {}).get();
  const t0 = Date.now();
  const r = await flux(['module', 'remove', 'usermod'], inst.env, 20_000);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(Date.now() - t0 < 15_000);
  assert.match(await dmesg(), /broker\.err\[0\]: usermod: did not finish within 5s of its shutdown request: terminating it/);
  assert.ok(!(await mods()).some((m) => m.name === 'usermod'));
  // --cancel does not wait at all.
  assert.equal((await flux(['module', 'load', modFile], inst.env)).status, 0);
  await h.rpc('usermod.spin', {}).get();
  assert.equal((await flux(['module', 'remove', '--cancel', 'usermod'], inst.env)).status, 0);
});

test('--exec: the module in its own process, same list and lifecycle; killed on remove; a killed process is X', async () => {
  assert.equal((await flux(['module', 'load', '--exec', modFile, 'e'], inst.env)).status, 0);
  const { pid, args } = await h.rpc('usermod.hello', {}).get<{ pid: number; args: string[] }>();
  assert.deepEqual(args, ['e']);
  assert.ok(!inst.pids.includes(pid) && alive(pid), 'a process of its own');
  assert.match((await flux(['module', 'list', '-l'], inst.env)).stdout, /^usermod .* R .*usermod\.js$/m);
  assert.equal((await flux(['module', 'debug', '-s', '2', 'usermod'], inst.env)).stdout, '0x2\n');
  assert.equal((await flux(['module', 'remove', 'usermod'], inst.env)).status, 0);
  await waitGone([pid]);

  assert.equal((await flux(['module', 'load', '--exec', modFile], inst.env)).status, 0);
  const p2 = (await h.rpc('usermod.hello', {}).get<{ pid: number }>()).pid;
  const hanging = h.rpc('usermod.hang', {}).get();
  await h.rpc('usermod.hello', {}).get();
  process.kill(p2, 'SIGKILL');
  await assert.rejects(hanging, isErrno(38));
  await until('state X', async () => (await mods()).find((m) => m.name === 'usermod')?.status === 3);
  assert.match(await dmesg(), /usermod: killed by Killed/);
  assert.equal((await flux(['module', 'remove', 'usermod'], inst.env)).status, 0);

  const bad = await flux(['module', 'load', '--exec', modFile, 'fail'], inst.env);
  assert.deepEqual([bad.stderr, bad.status], [`flux-module: load ${modFile}: refusing to start: fail requested\n`, 1]);
});

test('--exec modules die with their broker (no orphan)', async () => {
  const other = await startInstance(1);
  let pid: number | undefined;
  try {
    assert.equal((await flux(['module', 'load', '--exec', modFile], other.env)).status, 0);
    const h2 = await Flux.open(other.uri);
    pid = (await h2.rpc('usermod.hello', {}).get<{ pid: number }>()).pid;
    h2.close();
    assert.ok(alive(pid));
  } finally {
    assert.equal(await other.stop(), 0);
  }
  assert.ok(pid !== undefined);
  await waitGone([pid]);
});

test('service.add/remove: a module or a client adds services routed to it, shown in the list, dropped when it goes', async () => {
  assert.equal((await flux(['module', 'load', modFile], inst.env)).status, 0);
  await h.rpc('usermod.addsvc', { service: 'extra' }).get();
  assert.deepEqual(await h.rpc('extra.hello', {}).get(), { from: 'usermod' });
  assert.match((await flux(['module', 'list'], inst.env)).stdout, /^usermod .* R +0 +0 extra\n/m);
  await assert.rejects(h.rpc('usermod.addsvc', { service: 'extra' }).get(), (e: unknown) =>
    e instanceof FluxError && e.errnum === 17 && e.message === 'could not register service extra for module usermod: File exists');
  await assert.rejects(h.rpc('usermod.addsvc', { service: 'heartbeat' }).get(), isErrno(17));

  // A client: requests for its service come down its connection; it answers them.
  const c = await Flux.open(inst.uri);
  c.onMessage((m) => {
    if (m.type !== MSGTYPE_REQUEST || !m.topic?.startsWith('clientsvc.') || c.isClosed) return;
    const resp = deriveResponse(m);
    setJson(resp, { answered: m.topic });
    c.send(resp);
  });
  await c.rpc('service.add', { service: 'clientsvc' }).get();
  assert.deepEqual(await h.rpc('clientsvc.echo', {}).get(), { answered: 'clientsvc.echo' });
  await assert.rejects(h.rpc('service.remove', { service: 'clientsvc' }).get(), (e: unknown) =>
    e instanceof FluxError && e.errnum === 22 && e.message === 'requestor did not register clientsvc');
  await assert.rejects(h.rpc('service.remove', { service: 'nosuch' }).get(), (e: unknown) =>
    e instanceof FluxError && e.errnum === 2 && e.message === 'nosuch is not registered');
  await assert.rejects(c.rpc('service.add', { service: 'extra' }).get(), isErrno(17));
  c.close();
  // Its name is free once the broker has seen it go (a request sent before then would be lost with it).
  await until('the client\'s service to go with it', () => h.rpc('service.add', { service: 'clientsvc' }).get().then(() => true, () => false));
  await h.rpc('service.remove', { service: 'clientsvc' }).get();
  await assert.rejects(h.rpc('clientsvc.echo', {}).get(), isErrno(38));

  await h.rpc('usermod.rmsvc', { service: 'extra' }).get();
  await assert.rejects(h.rpc('extra.hello', {}).get(), isErrno(38));
  await h.rpc('usermod.addsvc', { service: 'extra2' }).get();
  assert.equal((await flux(['module', 'remove', 'usermod'], inst.env)).status, 0);
  await assert.rejects(h.rpc('extra2.hello', {}).get(), isErrno(38), 'a module\'s services go when it exits');
  await h.rpc('service.add', { service: 'extra2' }).get(); // free again
  await h.rpc('service.remove', { service: 'extra2' }).get();
});

test('without broker.module-nopanic a runtime failure panics the broker (flux-core broker_panic)', async () => {
  const other = await startInstance(1);
  const exited = new Promise<number | null>((res) => other.launcher.once('exit', (code) => res(code)));
  try {
    assert.equal((await flux(['module', 'load', modFile], other.env)).status, 0);
    const h2 = await Flux.open(other.uri);
    await h2.rpc('usermod.throw', {}).get();
    h2.close();
    const code = await Promise.race([exited, new Promise<string>((res) => setTimeout(() => res('still running after 10 s'), 10_000))]);
    assert.notEqual(code, 0);
    assert.notEqual(code, 'still running after 10 s');
  } finally {
    await other.stop();
  }
});
