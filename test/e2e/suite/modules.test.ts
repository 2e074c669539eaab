// Brokers view, expanded: each rank's modules (module.list to that rank), and the actions on them
// through the extension's commands: remove, load (with arguments), reload, ping, attributes, dmesg.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { Flux } from '../../../broker/src/common/libflux/handle';
import { activateExtension, fluxCli, rankRow, rows, startedAllOnline, tmpDir, waitFor, type FluxExtensionApi, type Row } from './helpers';

/** The module rows under a rank's "modules" folder. */
async function moduleRows(api: FluxExtensionApi, rank: number): Promise<Row[]> {
  const broker = await rankRow(api, rank);
  const folder = (await rows(api.brokers, broker.node)).find((r) => r.id === `flux.broker.${rank}.modules`);
  assert.ok(folder, `rank ${rank} has no "modules" child`);
  assert.strictEqual(folder.label, 'modules');
  assert.notStrictEqual(folder.item.collapsibleState, vscode.TreeItemCollapsibleState.None, 'modules folder is not expandable');
  return rows(api.brokers, folder.node);
}

const names = (rs: Row[]): string[] => rs.map((r) => r.label).sort();

export function defineModulesTests(): void {
  suite('Flux extension: modules in the Brokers view', () => {
    let api: FluxExtensionApi;
    let root: string;
    let uri: string;
    let h: Flux | undefined;
    let dir: string;

    suiteSetup(async () => {
      ({ api, root } = await activateExtension());
      // Every rank must be up before its modules are asked for.
      ({ uri, h } = await startedAllOnline());
      dir = tmpDir('modules');
    });

    suiteTeardown(() => {
      h?.close();
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    test('flux.instance.ensureStarted is idempotent and returns FLUX_URI', async () => {
      const again = await vscode.commands.executeCommand<string>('flux.instance.ensureStarted');
      assert.strictEqual(again, uri);
      assert.strictEqual(api.instance.uri(), uri);
    });

    test('each rank lists its modules with state, idle and services', async () => {
      for (const rank of [0, 1, 2, 3]) {
        const mods = await moduleRows(api, rank);
        const n = names(mods);
        for (const want of ['content', 'heartbeat', 'kvs', 'kvs-watch', 'resource']) {
          assert.ok(n.includes(want), `rank ${rank} modules ${n.join(',')} lack ${want}`);
        }
        // content-sqlite is placed on rank 0 only (modprobe's ranks = "0").
        assert.strictEqual(n.includes('content-sqlite'), rank === 0, `rank ${rank}: content-sqlite ${n.includes('content-sqlite') ? 'present' : 'absent'}`);
        const kvs = mods.find((m) => m.label === 'kvs')!;
        assert.match(kvs.description, /^running, idle/, `kvs on rank ${rank}: ${kvs.description}`);
        assert.strictEqual(kvs.id, `flux.broker.${rank}.module.kvs`);
        assert.strictEqual(kvs.contextValue, 'flux.module');
        const tooltip = kvs.item.tooltip instanceof vscode.MarkdownString ? kvs.item.tooltip.value : String(kvs.item.tooltip);
        assert.match(tooltip, /services: kvs/, `kvs tooltip: ${tooltip}`);
      }
    });

    test('Remove Module on rank 2 takes it out of that rank only; Load Module puts it back', async () => {
      const resource = (await moduleRows(api, 2)).find((m) => m.label === 'resource');
      assert.ok(resource, 'resource not listed on rank 2');
      await vscode.commands.executeCommand('flux.module.remove', resource.node);
      assert.ok(!names(await moduleRows(api, 2)).includes('resource'), 'resource still listed on rank 2 after remove');
      assert.ok(names(await moduleRows(api, 1)).includes('resource'), 'resource vanished from rank 1 too');
      // what flux itself says: module.list on rank 2
      const { mods } = await h!.rpc('module.list', {}, { nodeid: 2 }).get<{ mods: { name: string }[] }>();
      assert.ok(!mods.some((m) => m.name === 'resource'), 'module.list on rank 2 still has resource');

      const rank2 = await rankRow(api, 2);
      await vscode.commands.executeCommand('flux.broker.loadModule', rank2.node, { module: 'resource', args: [] });
      const after = (await moduleRows(api, 2)).find((m) => m.label === 'resource');
      assert.ok(after, 'resource not listed on rank 2 after load');
      assert.match(after.description, /^running/);
    });

    test('Load Module with arguments: the module gets them (module file, rank 3)', async () => {
      const file = path.join(dir, 'greet.js');
      fs.writeFileSync(file, "exports.mod_main = (ctx, args) => { ctx.serve(`${ctx.name}.hi`, (r) => r.respond({ args, rank: ctx.rank })); };\n");
      const rank3 = await rankRow(api, 3);
      await vscode.commands.executeCommand('flux.broker.loadModule', rank3.node, { module: file, args: ['load-allowlist=node,socket,core', 'x=1'] });
      assert.ok(names(await moduleRows(api, 3)).includes('greet'), 'greet not listed on rank 3');
      const r = await h!.rpc('greet.hi', {}, { nodeid: 3 }).get<{ args: string[]; rank: number }>();
      assert.deepStrictEqual(r, { args: ['load-allowlist=node,socket,core', 'x=1'], rank: 3 });
      // Reload keeps it listed and running (a new instance of the module: no args this time).
      const greet = (await moduleRows(api, 3)).find((m) => m.label === 'greet')!;
      await vscode.commands.executeCommand('flux.module.reload', greet.node);
      const again = (await moduleRows(api, 3)).find((m) => m.label === 'greet');
      assert.ok(again, 'greet gone after reload');
      assert.deepStrictEqual((await h!.rpc('greet.hi', {}, { nodeid: 3 }).get<{ args: string[] }>()).args, []);
      await vscode.commands.executeCommand('flux.module.remove', again.node);
      assert.ok(!names(await moduleRows(api, 3)).includes('greet'), 'greet still listed after remove');
    });

    test('a failing load rejects with flux\'s message (and the tree is unchanged)', async () => {
      const before = names(await moduleRows(api, 1));
      const rank1 = await rankRow(api, 1);
      await assert.rejects(
        Promise.resolve(vscode.commands.executeCommand('flux.broker.loadModule', rank1.node, { module: 'kvs', args: [] })),
        (e: Error) => /File exists|already loaded/i.test(e.message),
      );
      assert.deepStrictEqual(names(await moduleRows(api, 1)), before);
    });

    test('Ping, Show Attributes and Show dmesg of a rank', async () => {
      const rank3 = await rankRow(api, 3);
      const ping = await vscode.commands.executeCommand<{ rank: number; ms: number }>('flux.broker.ping', rank3.node);
      assert.strictEqual(ping.rank, 3);
      assert.ok(ping.ms > 0 && ping.ms < 5000, `ping took ${ping.ms} ms`);

      const attrs = await vscode.commands.executeCommand<string>('flux.broker.showAttributes', rank3.node);
      const adoc = await vscode.workspace.openTextDocument(vscode.Uri.parse(attrs));
      assert.match(adoc.getText(), /^rank\s+3$/m, `attributes of rank 3:\n${adoc.getText().slice(0, 400)}`);
      assert.match(adoc.getText(), /^size\s+4$/m);

      const dmesg = await vscode.commands.executeCommand<string>('flux.broker.showDmesg', { rank: 1 });
      const ddoc = await vscode.workspace.openTextDocument(vscode.Uri.parse(dmesg));
      const lines = ddoc.getText().split('\n').filter(Boolean);
      assert.ok(lines.length > 0, 'dmesg of rank 1 is empty');
      assert.ok(lines.every((l) => /\[1\]: /.test(l)), `a dmesg line of rank 1 is not from rank 1:\n${lines.find((l) => !/\[1\]: /.test(l))}`);
      // Read-only: the document is not an untitled editable buffer.
      assert.strictEqual(ddoc.uri.scheme, 'flux-info');
    });

    test('the seed\'s scheduler swap through the commands: Fluxion out, sched-simple in, Fluxion back with arguments; jobs run under each', async () => {
      const has = async (n: string): Promise<boolean> => names(await moduleRows(api, 0)).includes(n);
      const runs = async (): Promise<void> => {
        const id = (await fluxCli(root, uri, ['submit', 'true'])).trim();
        await fluxCli(root, uri, ['job', 'wait-event', '-t', '30', id, 'clean']);
      };
      assert.ok(await has('sched-fluxion-qmanager') && await has('sched-fluxion-resource'), 'Fluxion is the default scheduler');
      await vscode.commands.executeCommand('flux.module.remove', { rank: 0, name: 'sched-fluxion-qmanager' });
      await vscode.commands.executeCommand('flux.module.remove', { rank: 0, name: 'sched-fluxion-resource' });
      // sched-fluxion-feasibility leaves with the resource module, as flux-sched 0.54's does.
      assert.ok(await waitFor(async () => {
        await vscode.commands.executeCommand('flux.views.brokers.refresh');
        return !(await has('sched-fluxion-feasibility'));
      }, 15000, 300), 'sched-fluxion-feasibility stayed');
      await vscode.commands.executeCommand('flux.broker.loadModule', { rank: 0 }, { module: 'sched-simple' });
      assert.ok(await has('sched-simple'), 'sched-simple not listed');
      await runs();
      await vscode.commands.executeCommand('flux.module.remove', { rank: 0, name: 'sched-simple' });
      await vscode.commands.executeCommand('flux.broker.loadModule', { rank: 0 }, { module: 'sched-fluxion-resource', args: ['load-allowlist=node,socket,core'] });
      await vscode.commands.executeCommand('flux.broker.loadModule', { rank: 0 }, { module: 'sched-fluxion-qmanager', args: ['queue-params=queue-depth=4'] });
      const now = names(await moduleRows(api, 0));
      assert.ok(now.includes('sched-fluxion-resource') && now.includes('sched-fluxion-qmanager') && !now.includes('sched-simple'), now.join(','));
      await runs();
      // Back to the default set for the suites that follow.
      await vscode.commands.executeCommand('flux.broker.loadModule', { rank: 0 }, { module: 'sched-fluxion-feasibility' });
    });

    test('Show dmesg (all ranks) follows every rank; "new messages only" skips the backlog', async () => {
      const flux = (...args: string[]): Promise<string> => fluxCli(root, uri, args);
      assert.strictEqual(await vscode.commands.executeCommand<number>('flux.dmesg.show', { fromNow: false }), 4);
      await flux('logger', 'e2e-dmesg-one');
      let text = '';
      const ok = await waitFor(() => (text = api.dmesgText()).includes('e2e-dmesg-one'), 10000, 100);
      assert.ok(ok, `the logger line did not arrive:\n${text.slice(-500)}`);
      for (const r of [0, 1, 2, 3]) assert.match(text, new RegExp(`\\[${r}\\]: `), `no line of rank ${r} in the backlog`);
      await vscode.commands.executeCommand('flux.dmesg.show', { fromNow: true });
      await flux('logger', 'e2e-dmesg-two');
      const ok2 = await waitFor(() => (text = api.dmesgText()).includes('e2e-dmesg-two'), 10000, 100);
      assert.ok(ok2, 'the second logger line did not arrive');
      assert.ok(!text.includes('e2e-dmesg-one'), 'the backlog was replayed with "new messages only"');
    });
  });
}
