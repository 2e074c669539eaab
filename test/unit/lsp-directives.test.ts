/** `# flux:` directives of batch scripts through the language server: diagnostics and completion. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { CompletionItem, Diagnostic } from 'vscode-languageserver';
import { startPair, type Pair } from './lsp-harness';

let pair: Pair;
let n = 0;
before(async () => {
  pair = await startPair();
});
after(() => pair.close());

const brief = (d: Diagnostic): string => `${d.range.start.line}:${d.range.start.character}-${d.range.end.character} ${d.severity === 1 ? 'E' : 'W'} ${d.message}`;

async function diags(text: string): Promise<string[]> {
  return (await pair.open(`file:///s/script${++n}.sh`, text, 1, 'shellscript')).map(brief);
}

test('good directives: nothing to say; a script without directives neither', async () => {
  assert.deepEqual(await diags('#!/bin/sh\n# flux: -N2 -n 4 --time-limit=10m\n#flux: --job-name=test -o cpu-affinity=per-task\n# flux: -x --queue batch\nflux run hostname\n'), []);
  assert.deepEqual(await diags('#!/bin/sh\necho hi\n'), []);
});

test('bad directives at their word: unknown options, bad values, missing argument, unknown shell option', async () => {
  assert.deepEqual(await diags('#!/bin/sh\n# flux: -N two --bogus\n# flux: -t 10x --urgency=40\n#flux: -o cpu-afinity -S\nhostname\n# flux: --nope\n'), [
    "1:11-14 E --nodes: invalid int value 'two'",
    "1:15-22 E flux batch: unrecognized option '--bogus'",
    "2:11-14 E --time-limit: invalid Flux standard duration '10x'",
    '2:25-27 E --urgency: 40: urgency range is [0:31]',
    "3:10-21 W unknown shell option 'cpu-afinity'",
    "3:22-24 E flux batch: option '--setattr' requires an argument",
  ]);
});

test('completion of options and shell options on a directive line', async () => {
  const uri = `file:///s/script${++n}.sh`;
  await pair.open(uri, '#!/bin/sh\n# flux: --ti\n# flux: -o \necho\n', 1, 'shellscript');
  const a = await pair.client.sendRequest<CompletionItem[]>('textDocument/completion', { textDocument: { uri }, position: { line: 1, character: 12 } });
  assert.ok(a.some((i) => i.label === '--time-limit'));
  const b = await pair.client.sendRequest<CompletionItem[]>('textDocument/completion', { textDocument: { uri }, position: { line: 2, character: 11 } });
  assert.ok(b.some((i) => i.label === 'cpu-affinity'));
  const c = await pair.client.sendRequest<CompletionItem[]>('textDocument/completion', { textDocument: { uri }, position: { line: 3, character: 2 } });
  assert.deepEqual(c, []);
});
