// Archives view: an archive made by `flux archive create` is listed (files, size) and extracted
// through the Extract command with the bytes compared; Create from Explorer files is read back by
// the CLI; Remove takes it out of the KVS and the view.
import * as assert from 'assert';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { activateExtension, fluxCli, rows, tmpDir, waitFor, type FluxExtensionApi, type Row } from './helpers';

/** Every regular file below `dir`: relative path → bytes. */
function readTree(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (rel: string): void => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = path.join(rel, e.name);
      if (e.isDirectory()) walk(r);
      else if (e.isFile()) out.set(r, fs.readFileSync(path.join(dir, r)));
    }
  };
  walk('');
  return out;
}

function assertSameFiles(got: Map<string, Buffer>, want: Map<string, Buffer>, what: string): void {
  assert.deepStrictEqual([...got.keys()].sort(), [...want.keys()].sort(), `${what}: file lists differ`);
  for (const [k, v] of want) assert.ok(got.get(k)!.equals(v), `${what}: ${k} differs (${got.get(k)!.length} vs ${v.length} bytes)`);
}

export function defineArchivesTests(): void {
  suite('Flux extension: Archives view', () => {
    let api: FluxExtensionApi;
    let root: string;
    let uri: string;
    let dir: string;
    const flux = (...args: string[]): Promise<string> => fluxCli(root, uri, args);

    async function archiveRow(name: string): Promise<Row | undefined> {
      return (await rows(api.archives)).find((r) => r.label === name);
    }

    suiteSetup(async () => {
      ({ api, root } = await activateExtension());
      uri = await vscode.commands.executeCommand<string>('flux.instance.ensureStarted');
      dir = tmpDir('archives');
      const src = path.join(dir, 'src');
      fs.mkdirSync(path.join(src, 'data', 'nested'), { recursive: true });
      fs.writeFileSync(path.join(src, 'data', 'hello.txt'), 'hello archive\n');
      fs.writeFileSync(path.join(src, 'data', 'nested', 'random.bin'), crypto.randomBytes(2_500_000)); // 3 blobs
      fs.writeFileSync(path.join(src, 'data', 'small.bin'), crypto.randomBytes(700)); // inline base64
      fs.writeFileSync(path.join(src, 'data', 'empty'), '');
    });

    suiteTeardown(() => {
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    test('an archive created by the CLI is listed with its file count and size', async () => {
      await flux('archive', 'create', '-n', 'e2ecli', '-C', path.join(dir, 'src'), 'data');
      let row: Row | undefined;
      const ok = await waitFor(async () => (row = await archiveRow('e2ecli')) !== undefined, 10000, 200);
      assert.ok(ok, `archive e2ecli not listed: ${(await rows(api.archives)).map((r) => r.label).join(',')}`);
      assert.strictEqual(row!.contextValue, 'flux.archive');
      assert.match(row!.description, /^4 files, 2\.4 MiB$/, `description ${row!.description}`);
      const entries = (await rows(api.archives, row!.node)).map((r) => r.label).sort();
      assert.deepStrictEqual(entries, ['data', 'data/empty', 'data/hello.txt', 'data/nested', 'data/nested/random.bin', 'data/small.bin']);
    });

    test('Extract Archive writes the same bytes into the chosen folder', async () => {
      const row = await archiveRow('e2ecli');
      assert.ok(row, 'archive e2ecli not listed');
      const out = path.join(dir, 'out');
      fs.mkdirSync(out);
      const n = await vscode.commands.executeCommand<number>('flux.archive.extract', row.node, vscode.Uri.file(out));
      assert.strictEqual(n, 6);
      assertSameFiles(readTree(out), readTree(path.join(dir, 'src')), 'extracted');
      // Again, without overwrite: flux's refusal, nothing changed.
      await assert.rejects(
        Promise.resolve(vscode.commands.executeCommand('flux.archive.extract', row.node, vscode.Uri.file(out))),
        /Attempt to overwrite existing file|exists/,
      );
    });

    test('Create Archive from Explorer files: the CLI extracts the same bytes', async () => {
      const data = vscode.Uri.file(path.join(dir, 'src', 'data'));
      const name = await vscode.commands.executeCommand<string>('flux.archive.create', data, [data], { name: 'e2eext' });
      assert.strictEqual(name, 'e2eext');
      const listed = (await flux('archive', 'list', '-n', 'e2eext')).trim().split('\n').sort();
      assert.deepStrictEqual(listed, ['data', 'data/empty', 'data/hello.txt', 'data/nested', 'data/nested/random.bin', 'data/small.bin']);
      const out = path.join(dir, 'cli-out');
      fs.mkdirSync(out);
      await flux('archive', 'extract', '-n', 'e2eext', '-C', out);
      assertSameFiles(readTree(out), readTree(path.join(dir, 'src')), 'CLI-extracted');
      assert.ok(await archiveRow('e2eext'), 'e2eext not in the Archives view');
      // The name is taken: flux's message.
      await assert.rejects(
        Promise.resolve(vscode.commands.executeCommand('flux.archive.create', data, [data], { name: 'e2eext' })),
        /archive\.e2eext: key exists/,
      );
    });

    test('Remove Archive unlinks it (the CLI no longer finds it) and the view drops it', async () => {
      for (const name of ['e2ecli', 'e2eext']) {
        const row = await archiveRow(name);
        assert.ok(row, `${name} not listed`);
        assert.strictEqual(await vscode.commands.executeCommand<boolean>('flux.archive.remove', row.node, { confirm: false }), true);
        await assert.rejects(flux('archive', 'list', '-n', name), /No such file or directory/);
        assert.strictEqual(await archiveRow(name), undefined, `${name} still listed after remove`);
      }
    });
  });
}
