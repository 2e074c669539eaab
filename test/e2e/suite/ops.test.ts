// Instance-wide operations through the extension's commands, on its own local instance: the
// rehearsal of failure (Kill Broker: the rank goes lost in the Brokers view; Restart Broker: it
// rejoins), the TBON panel as a webview tab, and Run on Ranks opening its terminal.
import * as assert from 'assert';
import * as os from 'os';
import * as vscode from 'vscode';
import { Flux } from '../../../broker/src/common/libflux/handle';
import { activateExtension, alive, fluxCli, rankRow, startedAllOnline, waitFor, type FluxExtensionApi } from './helpers';

export function defineOpsTests(): void {
  suite('Flux extension: kill / restart a broker, TBON panel, Run on Ranks', () => {
    let api: FluxExtensionApi;
    let root: string;
    let uri: string;
    let h: Flux | undefined;

    suiteSetup(async () => {
      ({ api, root } = await activateExtension());
      ({ uri, h } = await startedAllOnline());
    });

    suiteTeardown(() => {
      h?.close();
    });

    test('Kill Broker: rank 3 goes lost in the Brokers view and the TBON panel; Restart Broker: it rejoins and serves', async () => {
      await vscode.commands.executeCommand('flux.tbon.show');
      assert.ok(await waitFor(() => (api.tbonStatus() ?? []).length === 4, 15000), 'the TBON panel did not read the tree');
      assert.deepStrictEqual(api.tbonStatus(), ['full', 'full', 'full', 'full']);
      const killed = await vscode.commands.executeCommand<{ rank: number; pid: number }>('flux.broker.kill', { rank: 3 });
      assert.strictEqual(killed.rank, 3);
      assert.ok(await waitFor(() => !alive(killed.pid), 5000), `pid ${killed.pid} still alive`);
      const lost = await waitFor(async () => {
        await vscode.commands.executeCommand('flux.views.brokers.refresh');
        return (await rankRow(api, 3)).contextValue === 'flux.broker.lost';
      }, 20000, 300);
      assert.ok(lost, `rank 3 shows ${(await rankRow(api, 3)).contextValue}`);
      assert.ok(await waitFor(() => api.tbonStatus()?.[3] === 'lost', 10000), `TBON panel: ${JSON.stringify(api.tbonStatus())}`);
      assert.strictEqual(api.instance.state(), 'running', 'losing a follower does not end the instance');

      const r = await vscode.commands.executeCommand<{ started: number[] }>('flux.broker.restart', { rank: 3 });
      assert.deepStrictEqual(r.started, [3]);
      const back = await waitFor(async () => {
        await vscode.commands.executeCommand('flux.views.brokers.refresh');
        return (await rankRow(api, 3)).contextValue === 'flux.broker.online';
      }, 30000, 300);
      assert.ok(back, `rank 3 shows ${(await rankRow(api, 3)).contextValue}`);
      assert.ok(await waitFor(() => api.tbonStatus()?.[3] === 'full', 15000), `TBON panel: ${JSON.stringify(api.tbonStatus())}`);
      const pid = Number((await h!.rpc('attr.get', { name: 'broker.pid' }, { nodeid: 3 }).get<{ value: string }>()).value);
      assert.notStrictEqual(pid, killed.pid);
      assert.ok(api.instance.brokerPids().includes(pid), 'the new pid is known (no orphan at stop)');
    });

    test('Kill Broker refuses rank 0 with the reason', async () => {
      await assert.rejects(
        Promise.resolve(vscode.commands.executeCommand('flux.broker.kill', { rank: 0 })),
        /Killing rank 0 ends the instance: use Stop Instance/,
      );
    });

    test('Show TBON opens the panel as a webview tab, once', async () => {
      const tbonTabs = (): vscode.Tab[] => vscode.window.tabGroups.all.flatMap((g) => g.tabs)
        .filter((t) => t.input instanceof vscode.TabInputWebview && t.input.viewType.endsWith('flux.tbon'));
      await vscode.commands.executeCommand('flux.tbon.show');
      assert.ok(await waitFor(() => tbonTabs().length === 1, 10000), 'no TBON tab');
      await vscode.commands.executeCommand('flux.tbon.show', { rank: 2 });
      assert.strictEqual(tbonTabs().length, 1, 'a second Show reuses the panel');
      await vscode.window.tabGroups.close(tbonTabs());
    });

    test('Show Resource Graph: the scheduler\'s graph in a webview, a running job\'s cores allocated', async () => {
      await vscode.commands.executeCommand('flux.resources.show');
      assert.ok(await waitFor(() => (api.resourcesSummary()?.vertices ?? 0) > 4, 15000), 'the panel read no graph');
      assert.match(api.resourcesSummary()!.source, /^(fluxion|R)$/);
      assert.strictEqual(api.resourcesSummary()!.allocated, 0);
      const id = (await fluxCli(root, uri, ['submit', '-n1', 'sleep', '60'])).trim();
      assert.ok(await waitFor(() => api.resourcesSummary()?.allocated === 1, 20000), `allocated: ${JSON.stringify(api.resourcesSummary())}`);
      await fluxCli(root, uri, ['cancel', id]);
      assert.ok(await waitFor(() => api.resourcesSummary()?.allocated === 0, 20000), 'the core was not freed');
      const tabs = vscode.window.tabGroups.all.flatMap((g) => g.tabs)
        .filter((t) => t.input instanceof vscode.TabInputWebview && t.input.viewType.endsWith('flux.resources'));
      assert.strictEqual(tabs.length, 1);
      await vscode.window.tabGroups.close(tabs);
    });

    test('Run on Ranks: hostname on all ranks but 0, in a terminal, labelled by rank; failures summarized', async () => {
      const r = await vscode.commands.executeCommand<{ name: string; ranks: number[]; code: number; output: string }>(
        'flux.ranks.run', { ranks: '1-3', command: 'hostname; echo "rank $(flux getattr rank)"', wait: true });
      assert.deepStrictEqual(r.ranks, [1, 2, 3]);
      assert.strictEqual(r.code, 0);
      const host = os.hostname();
      for (const rank of [1, 2, 3]) {
        assert.ok(r.output.includes(`${rank}: ${host}\r\n`), `rank ${rank}'s hostname in ${JSON.stringify(r.output)}`);
        assert.ok(r.output.includes(`${rank}: rank ${rank}\r\n`), `rank ${rank} ran with its own FLUX_URI`);
      }
      assert.ok(!/^0: /m.test(r.output), 'nothing ran on rank 0');
      const t = vscode.window.terminals.find((x) => x.name === r.name);
      assert.ok(t, `no terminal named ${r.name}`);
      t.dispose();
      const bad = await vscode.commands.executeCommand<{ code: number; summary: string[] }>('flux.ranks.run', { ranks: '2-3', command: 'exit 3', wait: true });
      assert.strictEqual(bad.code, 3);
      assert.deepStrictEqual(bad.summary, ['[2-3]: Exit 3']);
      vscode.window.terminals.filter((x) => x.name.includes('exit 3')).forEach((x) => x.dispose());
    });
  });
}
