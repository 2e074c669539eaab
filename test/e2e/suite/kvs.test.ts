// KVS view (namespaces, lazy directories, shortened values, paging) and the flux-kvs: file
// system (read, write = commit, errors), each checked against the KVS through the flux CLI.
import * as assert from 'assert';
import * as vscode from 'vscode';
import { activateExtension, findPath, fluxCli, rows, waitFor, type FluxExtensionApi, type Row } from './helpers';

export function defineKvsTests(): void {
  suite('Flux extension: KVS view and flux-kvs: documents', () => {
    let api: FluxExtensionApi;
    let root: string;
    let uri: string;
    const flux = (...args: string[]): Promise<string> => fluxCli(root, uri, args);

    suiteSetup(async () => {
      ({ api, root } = await activateExtension());
      uri = await vscode.commands.executeCommand<string>('flux.instance.ensureStarted');
    });

    test('namespaces are listed (kvs.namespace-list), primary first-level keys below', async () => {
      const top = await rows(api.kvs);
      assert.ok(top.some((r) => r.label === 'primary' && r.contextValue === 'flux.kvs.namespace'), `namespaces: ${top.map((r) => r.label).join(',')}`);
      await flux('kvs', 'namespace', 'create', 'e2e-ns');
      const ok = await waitFor(async () => (await rows(api.kvs)).some((r) => r.label === 'e2e-ns'), 10000, 200);
      assert.ok(ok, 'a namespace created with the CLI did not appear (no refresh on the namespace event?)');
      await flux('kvs', 'namespace', 'remove', 'e2e-ns');
    });

    test('a key put with the CLI shows up in the view by itself (setroot event), value shortened', async () => {
      const events = api.kvsEvents();
      const long = 'x'.repeat(200);
      await flux('kvs', 'put', 'e2e.greeting=hello world', `e2e.long=${long}`, 'e2e.sub.deep=1');
      let row: Row | undefined;
      const ok = await waitFor(async () => (row = await findPath(api.kvs, ['primary', 'e2e', 'greeting'])) !== undefined, 10000, 200);
      assert.ok(ok, 'e2e.greeting did not appear in the KVS view without a manual refresh');
      assert.ok(api.kvsEvents() > events, 'no kvs.namespace-primary-setroot event was seen');
      assert.strictEqual(row!.description, 'hello world');
      assert.strictEqual(row!.contextValue, 'flux.kvs.value');
      assert.strictEqual(row!.item.command?.command, 'vscode.open');
      // 200 bytes is stored as a valref (a blob): its text is fetched after the first paint.
      let longRow: Row | undefined;
      await waitFor(async () => (longRow = await findPath(api.kvs, ['primary', 'e2e', 'long']))?.description.endsWith('…') === true, 5000, 100);
      assert.ok(longRow && longRow.description.length <= 48 && longRow.description.startsWith('xxxx') && longRow.description.endsWith('…'), `long value description: ${longRow?.description}`);
      const sub = await findPath(api.kvs, ['primary', 'e2e', 'sub']);
      assert.ok(sub && sub.contextValue === 'flux.kvs.dir', 'e2e.sub is not shown as a directory');
      assert.ok(await findPath(api.kvs, ['primary', 'e2e', 'sub', 'deep']), 'e2e.sub.deep not found under e2e.sub');
    });

    test('flux-kvs: read, write through workspace.fs, and save from an editor commit to the KVS', async () => {
      const u = vscode.Uri.parse('flux-kvs://primary/e2e/greeting');
      assert.strictEqual(Buffer.from(await vscode.workspace.fs.readFile(u)).toString(), 'hello world');
      const st = await vscode.workspace.fs.stat(u);
      assert.strictEqual(st.type, vscode.FileType.File);
      assert.strictEqual(st.size, 11);
      const dir = await vscode.workspace.fs.readDirectory(vscode.Uri.parse('flux-kvs://primary/e2e'));
      assert.deepStrictEqual(dir.map(([n]) => n).sort(), ['greeting', 'long', 'sub']);
      assert.strictEqual(dir.find(([n]) => n === 'sub')?.[1], vscode.FileType.Directory);

      await vscode.workspace.fs.writeFile(u, Buffer.from('written by fs'));
      assert.strictEqual(await flux('kvs', 'get', 'e2e.greeting'), 'written by fs\n');

      // Through an editor, as a user would: open, edit, save.
      const doc = await vscode.workspace.openTextDocument(u);
      assert.strictEqual(doc.getText(), 'written by fs');
      const editor = await vscode.window.showTextDocument(doc);
      await editor.edit((e) => e.replace(new vscode.Range(doc.positionAt(0), doc.positionAt(doc.getText().length)), 'saved from the editor'));
      assert.ok(await doc.save(), 'save returned false');
      assert.strictEqual(await flux('kvs', 'get', 'e2e.greeting'), 'saved from the editor\n');
      await vscode.commands.executeCommand('workbench.action.closeActiveEditor');

      // A new key through the file system, then a CLI put seen through it.
      await vscode.workspace.fs.writeFile(vscode.Uri.parse('flux-kvs://primary/e2e/created'), Buffer.from('{"n":1}'));
      assert.strictEqual(await flux('kvs', 'get', 'e2e.created'), '{"n":1}\n');
      await flux('kvs', 'put', 'e2e.created=changed');
      assert.strictEqual(Buffer.from(await vscode.workspace.fs.readFile(vscode.Uri.parse('flux-kvs://primary/e2e/created'))).toString(), 'changed');
    });

    test('an open value follows commits made elsewhere (setroot event → re-read)', async () => {
      const u = vscode.Uri.parse('flux-kvs://primary/e2e/live');
      await flux('kvs', 'put', 'e2e.live=one');
      const doc = await vscode.workspace.openTextDocument(u);
      await vscode.window.showTextDocument(doc);
      assert.strictEqual(doc.getText(), 'one');
      await flux('kvs', 'put', 'e2e.live=two');
      const ok = await waitFor(() => doc.getText() === 'two', 10000, 100);
      assert.ok(ok, `the open document still says ${JSON.stringify(doc.getText())}`);
      await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
    });

    test('flux-kvs: errors carry flux\'s message', async () => {
      await assert.rejects(
        Promise.resolve(vscode.workspace.fs.readFile(vscode.Uri.parse('flux-kvs://primary/e2e/missing'))),
        (e: Error) => e instanceof vscode.FileSystemError && e.code === 'FileNotFound' && /e2e\.missing: No such file or directory/.test(e.message),
      );
      await assert.rejects(
        Promise.resolve(vscode.workspace.fs.readFile(vscode.Uri.parse('flux-kvs://primary/e2e/sub'))),
        (e: Error) => e instanceof vscode.FileSystemError && /Is a directory/.test(e.message),
      );
      await assert.rejects(
        Promise.resolve(vscode.workspace.fs.readFile(vscode.Uri.parse('flux-kvs://no-such-ns/a'))),
        (e: Error) => e instanceof vscode.FileSystemError && /not supported|no such namespace/i.test(e.message),
      );
    });

    test('a directory of 450 keys is paged: 200, "Load more", 400, then all', async () => {
      const kv = Array.from({ length: 450 }, (_, i) => `e2e.many.k${String(i).padStart(3, '0')}=${i}`);
      await flux('kvs', 'put', ...kv);
      await vscode.commands.executeCommand('flux.views.kvs.refresh');
      const many = await findPath(api.kvs, ['primary', 'e2e', 'many']);
      assert.ok(many, 'e2e.many not shown');
      let page = await rows(api.kvs, many.node);
      assert.strictEqual(page.length, 201, `first page has ${page.length} rows`);
      assert.strictEqual(page[0].label, 'k000');
      assert.strictEqual(page[199].label, 'k199');
      const more = page[200];
      assert.strictEqual(more.contextValue, 'flux.kvs.more');
      assert.match(more.label, /250 more/);
      assert.strictEqual(more.item.command?.command, 'flux.kvs.loadMore');
      await vscode.commands.executeCommand('flux.kvs.loadMore', ...(more.item.command?.arguments ?? []));
      page = await rows(api.kvs, many.node);
      assert.strictEqual(page.length, 401);
      await vscode.commands.executeCommand('flux.kvs.loadMore', ...(page[400].item.command?.arguments ?? []));
      page = await rows(api.kvs, many.node);
      assert.strictEqual(page.length, 450);
      assert.strictEqual(page[449].label, 'k449');
      assert.strictEqual(page[449].description, '449');
    });

    test('Delete Key removes it from the KVS and the view', async () => {
      const row = await findPath(api.kvs, ['primary', 'e2e', 'sub']);
      assert.ok(row, 'e2e.sub not shown');
      const done = await vscode.commands.executeCommand<boolean>('flux.kvs.delete', row.node, { confirm: false });
      assert.strictEqual(done, true);
      await assert.rejects(flux('kvs', 'get', 'e2e.sub.deep'), /No such file or directory/);
      assert.strictEqual(await findPath(api.kvs, ['primary', 'e2e', 'sub']), undefined, 'e2e.sub still in the view');
    });
  });
}
