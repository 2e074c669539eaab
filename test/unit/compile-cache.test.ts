// The code cache the CLI and the broker start through (broker/src/boot/compile-cache.ts): a cache
// is used only for the very bundle it was made from. V8 alone compares source lengths, so a
// rebuilt bundle of the same length once ran stale code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const RUNNER = path.resolve(__dirname, '../../broker/src/boot/compile-cache.ts');

function run(bundle: string): string {
  const code = `import(${JSON.stringify(RUNNER)}).then((m) => (m.runBundle ?? m.default.runBundle)(process.argv[1]))`;
  return execFileSync(process.execPath, ['--import', 'tsx', '-e', code, bundle], { encoding: 'utf8' });
}

test('a rebuilt bundle of the same length runs its new code, not the cached one', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flux-cc-'));
  try {
    const bundle = path.join(dir, 'b.js');
    const src = (word: string): string => `function lazy() { return ${JSON.stringify(word)}; }\nconsole.log(lazy(), typeof module.exports);\n`;
    fs.writeFileSync(bundle, src('AAAA'));
    assert.equal(run(bundle), 'AAAA object\n');
    assert.ok(fs.existsSync(`${bundle}.cache`), 'the first run leaves a cache');
    assert.equal(run(bundle), 'AAAA object\n', 'and the second runs from it');
    fs.writeFileSync(bundle, src('BBBB'));
    const later = new Date(Date.now() + 5000);
    fs.utimesSync(bundle, later, later);
    assert.equal(run(bundle), 'BBBB object\n');
    assert.equal(run(bundle), 'BBBB object\n');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
