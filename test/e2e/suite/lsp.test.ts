// The jobspec language server inside VS Code: a *.jobspec.yaml opens as `flux-jobspec`, its error
// shows at the exact node, completion offers the missing key, the quick fix repairs it, the code
// lens submits it to the extension's own instance and the job completes with its output; with
// the instance attached a request it cannot satisfy gets a warning; Dry run and Jobspec from
// Command Line work.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import { activateExtension, fluxCli, waitFor } from './helpers';
import type { JobsView } from '../../../extension/src/jobs/jobs-view';

const FIXED = `resources:
  - type: slot
    count: 1
    label: task
    with:
      - type: core
        count: 1
tasks:
  - command: [sh, -c, "echo hello-from-jobspec"]
    slot: task
    count:
      per_slot: 1
attributes:
  system:
    duration: 60
`;

async function diagnosticsOf(uri: vscode.Uri, pred: (d: readonly vscode.Diagnostic[]) => boolean, ms = 20000): Promise<readonly vscode.Diagnostic[]> {
  const ok = await waitFor(() => pred(vscode.languages.getDiagnostics(uri)), ms, 100);
  const got = vscode.languages.getDiagnostics(uri);
  assert.ok(ok, `diagnostics of ${path.basename(uri.fsPath)} never matched: ${JSON.stringify(got.map((d) => d.message))}`);
  return got;
}

export function defineLspTests(): void {
  suite('Flux extension: jobspec language server', () => {
    let dir: string;
    let root: string;
    suiteSetup(async () => {
      ({ root } = await activateExtension());
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flux-e2e-jobspec-'));
    });
    suiteTeardown(async () => {
      await vscode.commands.executeCommand('workbench.action.closeAllEditors');
      fs.rmSync(dir, { recursive: true, force: true });
    });

    test('diagnostic at the node, completion, quick fix, submit through the code lens, output', async function () {
      this.timeout(120000);
      const file = path.join(dir, 'hello.jobspec.yaml');
      fs.writeFileSync(file, FIXED + '\n');
      const doc = await vscode.workspace.openTextDocument(file);
      assert.strictEqual(doc.languageId, 'flux-jobspec');
      await vscode.window.showTextDocument(doc);
      const diags = await diagnosticsOf(doc.uri, (d) => d.some((x) => x.message === 'Missing key (version)'));
      const missing = diags.find((x) => x.message === 'Missing key (version)') as vscode.Diagnostic;
      assert.deepStrictEqual([missing.range.start.line, missing.range.start.character, missing.range.end.character], [0, 0, 9]);
      assert.strictEqual(missing.severity, vscode.DiagnosticSeverity.Error);

      // completion on the empty last line: the one top-level key not there yet
      const list = await vscode.commands.executeCommand<vscode.CompletionList>('vscode.executeCompletionItemProvider', doc.uri, new vscode.Position(doc.lineCount - 1, 0));
      const labels = list.items.map((i) => (typeof i.label === 'string' ? i.label : i.label.label));
      assert.ok(labels.includes('version'), `completion: ${labels.join(',')}`);

      // hover on a key
      const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', doc.uri, new vscode.Position(14, 6));
      const htext = hovers.map((h) => h.contents.map((c) => (typeof c === 'string' ? c : c.value)).join('\n')).join('\n');
      assert.match(htext, /Time limit in seconds/);

      // the quick fix
      const actions = await vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', doc.uri, missing.range, vscode.CodeActionKind.QuickFix.value);
      const fix = actions.find((a) => a.title === 'Add version: 1');
      assert.ok(fix?.edit, `actions: ${actions.map((a) => a.title).join(', ')}`);
      assert.ok(await vscode.workspace.applyEdit(fix.edit));
      assert.ok(doc.getText().startsWith('version: 1\nresources:'));
      await diagnosticsOf(doc.uri, (d) => d.length === 0);
      await doc.save();

      // submit through the code lens to the extension's own instance (jobs left running by
      // earlier suites are canceled first, so this one does not wait behind them)
      const fluxUri = await vscode.commands.executeCommand<string>('flux.instance.ensureStarted');
      const active = (await fluxCli(root, fluxUri, ['jobs', '-n', '-o', '{id.f58}'])).split('\n').filter((l) => l.trim() !== '');
      if (active.length > 0) await fluxCli(root, fluxUri, ['cancel', ...active]);
      const lenses = await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', doc.uri);
      const submit = lenses.find((l) => l.command?.command === 'flux.jobspec.submit');
      assert.ok(submit?.command, `lenses: ${lenses.map((l) => l.command?.title).join(', ')}`);
      const id = await vscode.commands.executeCommand<string>(submit.command.command, ...(submit.command.arguments ?? []));
      assert.match(id, /^ƒ[1-9A-HJ-NP-Za-km-z]+$/);
      // the job runs to completion with its output (flux job attach waits for the end)
      const out = await fluxCli(root, fluxUri, ['job', 'attach', id]);
      assert.strictEqual(out, 'hello-from-jobspec\n');
      // ... and it is in the Jobs view, completed, with that output in its output document
      const { api } = (await activateExtension()) as unknown as { api: { jobs: JobsView } };
      assert.ok(await waitFor(() => api.jobs.journal.all().some((j) => j.f58 === id && j.group === 'inactive'), 15000), `${id} not inactive in the Jobs view`);
      const outDoc = await vscode.commands.executeCommand<vscode.TextDocument>('flux.jobs.showOutput', id);
      assert.ok(await waitFor(() => outDoc.getText() === 'hello-from-jobspec\n', 10000), `output document: ${JSON.stringify(outDoc.getText())}`);
      // Run: submitted again, followed in a terminal running `flux job attach`
      const runId = await vscode.commands.executeCommand<string>('flux.jobspec.run', doc.uri.toString());
      assert.match(runId, /^ƒ/);
      assert.ok(await waitFor(() => vscode.window.terminals.some((t) => t.name === `flux job attach ${runId}`), 10000), 'no attach terminal');
      assert.strictEqual(await fluxCli(root, fluxUri, ['job', 'attach', runId]), 'hello-from-jobspec\n');
    });

    test('with the instance attached: an unsatisfiable request is a warning; Dry run says why', async () => {
      await vscode.commands.executeCommand<string>('flux.instance.ensureStarted');
      const file = path.join(dir, 'huge.jobspec.yaml');
      fs.writeFileSync(file, 'version: 1\n' + FIXED.replace('        count: 1\n', '        count: 100000\n'));
      const doc = await vscode.workspace.openTextDocument(file);
      await vscode.window.showTextDocument(doc);
      const diags = await diagnosticsOf(doc.uri, (d) => d.some((x) => x.message.startsWith('the attached instance cannot satisfy this request')));
      const w = diags.find((x) => x.message.startsWith('the attached instance cannot satisfy'));
      assert.strictEqual(w?.severity, vscode.DiagnosticSeverity.Warning);
      assert.strictEqual(w?.range.start.line, 1);
      const r = await vscode.commands.executeCommand<{ feasibility: string; message: string }>('flux.jobspec.dryRun', doc.uri.toString());
      assert.strictEqual(r.feasibility, 'infeasible', r.message);
    });

    test('a crashed language server is restarted and serves again', async () => {
      const pid = await vscode.commands.executeCommand<number | undefined>('flux.jobspec.serverPid');
      assert.ok(pid, 'no server pid');
      process.kill(pid, 'SIGKILL');
      assert.ok(await waitFor(async () => {
        const p2 = await vscode.commands.executeCommand<number | undefined>('flux.jobspec.serverPid');
        return p2 !== undefined && p2 !== pid;
      }, 20000), 'not restarted');
      const file = path.join(dir, 'after-crash.jobspec.yaml');
      fs.writeFileSync(file, FIXED);
      const doc = await vscode.workspace.openTextDocument(file);
      await vscode.window.showTextDocument(doc);
      await diagnosticsOf(doc.uri, (d) => d.some((x) => x.message === 'Missing key (version)'));
    });

    test('New Jobspec from a snippet: a valid flux-jobspec document', async () => {
      const ed = await vscode.commands.executeCommand<vscode.TextEditor>('flux.jobspec.new', 'GPU job');
      assert.strictEqual(ed.document.languageId, 'flux-jobspec');
      assert.match(ed.document.getText(), /type: gpu/);
      await waitFor(() => false, 1500); // let the server publish
      const errors = vscode.languages.getDiagnostics(ed.document.uri).filter((d) => d.severity === vscode.DiagnosticSeverity.Error);
      assert.deepStrictEqual(errors.map((d) => d.message), []);
    });

    test('Jobspec from Command Line: flux run --dry-run as a jobspec document without errors', async () => {
      const doc = await vscode.commands.executeCommand<vscode.TextDocument>('flux.jobspec.fromCommandLine', '-n2 -t 5m hostname');
      assert.strictEqual(doc.languageId, 'flux-jobspec');
      assert.match(doc.getText(), /duration: 300/);
      assert.match(doc.getText(), /- hostname/);
      await waitFor(() => false, 1500); // let the server publish
      const errors = vscode.languages.getDiagnostics(doc.uri).filter((d) => d.severity === vscode.DiagnosticSeverity.Error);
      assert.deepStrictEqual(errors.map((d) => d.message), []);
    });
  });
}
