// The resource graph panel's administration inside VS Code, on the extension's own instance:
// Drain Nodes… / Undrain Nodes… (the panel shows the drained node; draining it twice gives flux's
// message), and the placement preview of a jobspec editor: where it would run now, redrawn as the
// document changes (a request that can never run says so), cleared when its editor closes.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import type { Flux } from '../../../broker/src/common/libflux/handle';
import { activateExtension, startedAllOnline, waitFor, type FluxExtensionApi } from './helpers';

const jobspecYaml = (slots: string): string => `version: 1
resources:
${slots}
tasks:
  - command: [hostname]
    slot: task
    count:
      per_slot: 1
attributes:
  system:
    duration: 60
`;
const TWO_CORES = jobspecYaml(`  - type: slot
    count: 2
    label: task
    with:
      - type: core
        count: 1`);
const SIXTY_FOUR_NODES = jobspecYaml(`  - type: node
    count: 64
    with:
      - type: slot
        count: 1
        label: task
        with:
          - type: core
            count: 1`);

function resourceTabs(): vscode.Tab[] {
  return vscode.window.tabGroups.all.flatMap((g) => g.tabs)
    .filter((t) => t.input instanceof vscode.TabInputWebview && t.input.viewType.endsWith('flux.resources'));
}

export function defineResourcesTests(): void {
  suite('Flux extension: drain / undrain nodes, placement preview', () => {
    let api: FluxExtensionApi;
    let h: Flux | undefined;
    let dir: string;

    suiteSetup(async () => {
      ({ api } = await activateExtension());
      ({ h } = await startedAllOnline());
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flux-e2e-placement-'));
    });

    suiteTeardown(async () => {
      h?.close();
      await vscode.window.tabGroups.close(resourceTabs());
      fs.rmSync(dir, { recursive: true, force: true });
    });

    test('Drain Nodes… shows the node drained in the graph, twice is flux\'s error; Undrain Nodes… returns it', async () => {
      await vscode.commands.executeCommand('flux.resources.show');
      assert.ok(await waitFor(() => (api.resourcesSummary()?.vertices ?? 0) > 4, 15000), 'the panel read no graph');
      assert.deepStrictEqual(api.resourcesSummary()?.drained, [], `summary: ${JSON.stringify(api.resourcesSummary())}`);

      const r = await vscode.commands.executeCommand<{ ranks: number[]; reason: string }>('flux.resources.drain', { rank: 2, reason: 'e2e maintenance' });
      assert.deepStrictEqual(r, { ranks: [2], reason: 'e2e maintenance' });
      assert.ok(await waitFor(() => api.resourcesSummary()?.drained?.includes(2) === true, 15000), `summary: ${JSON.stringify(api.resourcesSummary())}`);
      const st = await h!.rpc('resource.status', {}, { nodeid: 0 }).get<{ drain: Record<string, { reason: string }> }>();
      assert.strictEqual(st.drain['2']?.reason, 'e2e maintenance');

      await assert.rejects(
        Promise.resolve(vscode.commands.executeCommand('flux.resources.drain', { rank: 2, reason: 'again' })),
        /already drained/,
      );

      await vscode.commands.executeCommand('flux.resources.undrain', { rank: 2 });
      assert.ok(await waitFor(() => api.resourcesSummary()?.drained?.length === 0, 15000), `summary: ${JSON.stringify(api.resourcesSummary())}`);
    });

    test('Preview Placement: two free cores now; edited to 64 nodes: never; its editor closed: cleared', async function () {
      this.timeout(90000);
      const file = path.join(dir, 'place.jobspec.yaml');
      fs.writeFileSync(file, TWO_CORES);
      const doc = await vscode.workspace.openTextDocument(file);
      assert.strictEqual(doc.languageId, 'flux-jobspec');
      await vscode.window.showTextDocument(doc);
      await vscode.commands.executeCommand('flux.jobspec.previewPlacement');
      assert.ok(await waitFor(() => api.resourcesSummary()?.preview?.kind === 'now', 20000), `summary: ${JSON.stringify(api.resourcesSummary())}`);
      assert.strictEqual(api.resourcesSummary()?.preview?.vertices, 2);
      assert.strictEqual(api.resourcesSummary()?.preview?.source, 'place.jobspec.yaml');
      assert.strictEqual(resourceTabs().length, 1, 'the preview opened the resource graph');

      // The document changes: the preview follows (debounced), with the scheduler's own verdict.
      const edit = new vscode.WorkspaceEdit();
      edit.replace(doc.uri, new vscode.Range(0, 0, doc.lineCount, 0), SIXTY_FOUR_NODES);
      assert.ok(await vscode.workspace.applyEdit(edit));
      await doc.save();
      assert.ok(await waitFor(() => api.resourcesSummary()?.preview?.kind === 'never', 20000), `summary: ${JSON.stringify(api.resourcesSummary())}`);
      assert.match(api.resourcesSummary()!.preview!.message, /never run here/);

      // Its editor closed: the preview is gone, the graph stays.
      const tabs = vscode.window.tabGroups.all.flatMap((g) => g.tabs)
        .filter((t) => t.input instanceof vscode.TabInputText && t.input.uri.toString() === doc.uri.toString());
      await vscode.window.tabGroups.close(tabs);
      assert.ok(await waitFor(() => api.resourcesSummary() !== undefined && api.resourcesSummary()?.preview === undefined, 10000), `summary: ${JSON.stringify(api.resourcesSummary())}`);
    });
  });
}
