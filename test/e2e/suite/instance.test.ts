// Instance lifecycle from the palette: status bar text, Restart, state kept with a statedir,
// Attach to an instance started by `flux start` outside VS Code (and detach leaves it running),
// and no broker process left at the end.
import * as assert from 'assert';
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { Flux } from '../../../broker/src/common/libflux/handle';
import { activateExtension, alive, fluxCli, rows, tmpDir, waitFor, type FluxExtensionApi, type StartResult } from './helpers';

export function defineInstanceTests(): void {
  suite('Flux extension: instance lifecycle, status bar, attach', () => {
    let api: FluxExtensionApi;
    let root: string;
    let dir: string;
    let outside: ChildProcess | undefined;
    const pids = new Set<number>();
    let target = vscode.ConfigurationTarget.Global;

    suiteSetup(async () => {
      ({ api, root } = await activateExtension());
      dir = tmpDir('instance');
      target = vscode.workspace.workspaceFolders?.length ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
    });

    suiteTeardown(async () => {
      await vscode.workspace.getConfiguration('flux.instance').update('statedir', undefined, target);
      if (api.instance.state() !== 'stopped') await vscode.commands.executeCommand('flux.instance.stop');
      if (outside?.pid && outside.exitCode === null) {
        outside.kill('SIGTERM');
        await waitFor(() => outside!.exitCode !== null || outside!.signalCode !== null, 10000, 100);
      }
      for (const p of pids) if (alive(p)) process.kill(p, 'SIGKILL');
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    test('the status bar shows size, local, and whether state is kept', async () => {
      const r = await vscode.commands.executeCommand<StartResult>('flux.instance.start');
      for (const p of api.instance.brokerPids()) pids.add(p);
      assert.strictEqual(api.instance.kind(), 'local');
      assert.match(api.statusText(), new RegExp(`Flux: ${r.size} brokers · local$`), `status: ${api.statusText()}`);
    });

    test('with flux.instance.statedir, Restart keeps the KVS (and the status bar says so)', async () => {
      const statedir = path.join(dir, 'state');
      await vscode.workspace.getConfiguration('flux.instance').update('statedir', statedir, target);
      let r = await vscode.commands.executeCommand<StartResult>('flux.instance.restart');
      for (const p of api.instance.brokerPids()) pids.add(p);
      assert.strictEqual(api.instance.statedir(), statedir);
      assert.match(api.statusText(), /· local · \$\(database\)$/, `status: ${api.statusText()}`);
      await fluxCli(root, r.uri, ['kvs', 'put', 'kept.across=restart']);
      const before = api.instance.brokerPids();
      r = await vscode.commands.executeCommand<StartResult>('flux.instance.restart');
      for (const p of api.instance.brokerPids()) pids.add(p);
      assert.ok(before.every((p) => !api.instance.brokerPids().includes(p)), 'restart kept the old brokers');
      assert.ok(before.every((p) => !alive(p)), 'old brokers still alive after restart');
      assert.strictEqual(await fluxCli(root, r.uri, ['kvs', 'get', 'kept.across']), 'restart\n');
      await vscode.workspace.getConfiguration('flux.instance').update('statedir', undefined, target);
    });

    test('Attach to an instance started by flux start outside VS Code (local://, then ssh://); detaching leaves it running', async () => {
      const uriFile = path.join(dir, 'uri');
      outside = spawn(process.execPath, [path.join(root, 'dist/flux.js'), 'start', '--test-size=2', '--test-exit-mode=leader', 'sh', '-c', `echo "$FLUX_URI" > ${uriFile}; sleep 600`], {
        env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' }, stdio: 'ignore',
      });
      const up = await waitFor(() => fs.existsSync(uriFile) && fs.readFileSync(uriFile, 'utf8').trim() !== '', 30000, 100);
      assert.ok(up, 'the outside instance did not start');
      const uri = fs.readFileSync(uriFile, 'utf8').trim();
      const local = api.instance.brokerPids();
      const r = await vscode.commands.executeCommand<StartResult>('flux.instance.attach', uri);
      assert.deepStrictEqual(r, { uri, size: 2 });
      assert.strictEqual(api.instance.kind(), 'attached');
      assert.ok(local.every((p) => !alive(p)), 'attaching did not stop the local instance');
      assert.match(api.statusText(), /Flux: 2 brokers · attached$/, `status: ${api.statusText()}`);
      const tree = await rows(api.brokers);
      assert.strictEqual(tree.length, 1);
      assert.strictEqual(tree[0].label, 'rank 0');
      const kids = (await rows(api.brokers, tree[0].node)).map((x) => x.label);
      assert.deepStrictEqual(kids, ['modules', 'rank 1']);

      // Kill rank 1: the view shows it lost by itself (rank 0's overlay.health stream), no refresh asked.
      const h = await Flux.open(uri);
      try {
        const pid = Number((await h.rpc('attr.get', { name: 'broker.pid' }, { nodeid: 1 }).get<{ value: string }>()).value);
        assert.ok(pid > 1 && alive(pid), `rank 1 pid ${pid}`);
        process.kill(pid, 'SIGKILL');
      } finally {
        h.close();
      }
      let rank1 = '';
      const lost = await waitFor(async () => {
        const top = await rows(api.brokers);
        rank1 = (await rows(api.brokers, top[0]?.node)).find((x) => x.label === 'rank 1')?.description ?? '';
        return rank1 === 'lost';
      }, 15000, 200);
      assert.ok(lost, `rank 1 is "${rank1}" in the view after it was killed`);
      await vscode.commands.executeCommand('flux.instance.stop');
      assert.strictEqual(api.instance.state(), 'stopped');
      assert.strictEqual(outside.exitCode, null, 'detaching stopped the outside instance');
      assert.strictEqual((await fluxCli(root, uri, ['getattr', 'size'])).trim(), '2');

      // ssh://: `ssh HOST flux relay PATH` over its stdio (a stand-in ssh that runs the command here).
      const fakeSsh = path.join(dir, 'ssh');
      fs.writeFileSync(fakeSsh, '#!/bin/sh\n[ "$1" = -p ] && shift 2\nshift\nexec "$@"\n', { mode: 0o755 });
      const saved = { ssh: process.env.FLUX_SSH, rcmd: process.env.FLUX_SSH_RCMD };
      process.env.FLUX_SSH = fakeSsh;
      process.env.FLUX_SSH_RCMD = path.join(root, 'dist/bin/flux');
      try {
        const sshUri = `ssh://${process.env.USER || 'user'}@somehost${uri.slice('local://'.length)}`;
        const viaSsh = await vscode.commands.executeCommand<StartResult>('flux.instance.attach', sshUri);
        assert.deepStrictEqual(viaSsh, { uri: sshUri, size: 2 });
        assert.match(api.statusText(), /Flux: 2 brokers · remote$/, `status: ${api.statusText()}`);
        const kvsTop = await rows(api.kvs);
        assert.ok(kvsTop.some((x) => x.label === 'primary'), 'KVS view empty over ssh://');
        await vscode.commands.executeCommand('flux.instance.stop');
        assert.strictEqual(api.instance.state(), 'stopped');
      } finally {
        process.env.FLUX_SSH = saved.ssh;
        process.env.FLUX_SSH_RCMD = saved.rcmd;
        if (saved.ssh === undefined) delete process.env.FLUX_SSH;
        if (saved.rcmd === undefined) delete process.env.FLUX_SSH_RCMD;
      }
    });

    test('after stop, no broker process of the extension is left', async () => {
      await vscode.commands.executeCommand('flux.instance.stop');
      await waitFor(() => [...pids].every((p) => !alive(p)), 5000, 100);
      const left = [...pids].filter(alive);
      assert.deepStrictEqual(left, [], `brokers still alive: ${left.join(' ')}`);
      assert.strictEqual(api.statusText(), '$(server-process) Flux: stopped');
    });
  });
}
