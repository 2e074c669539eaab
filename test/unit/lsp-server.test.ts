/**
 * The jobspec language server through an in-memory client/server connection pair: diagnostics
 * (positions and messages), completion, hover, every quick fix's edit, formatting, symbols,
 * folding, go-to-definition, code lenses and the feasibility warning.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { CodeAction, CompletionItem, Diagnostic, DocumentSymbol, FoldingRange, Hover, Location, TextEdit } from 'vscode-languageserver';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { startPair, type Pair } from './lsp-harness';

let pair: Pair;
let n = 0;
before(async () => {
  pair = await startPair();
});
after(() => pair.close());

const GOOD = `version: 1
resources:
  - type: slot
    count: 2
    label: task
    with:
      - type: core
        count: 1
tasks:
  - command: [hostname]
    slot: task
    count:
      per_slot: 1
attributes:
  system:
    duration: 60
`;

async function open(text: string, ext = 'jobspec.yaml'): Promise<{ uri: string; diags: Diagnostic[] }> {
  const uri = `file:///t/doc${++n}.${ext}`;
  const diags = await pair.open(uri, text);
  return { uri, diags };
}

function brief(d: Diagnostic): string {
  const r = d.range;
  return `${r.start.line}:${r.start.character}-${r.end.line}:${r.end.character} ${['', 'E', 'W', 'I', 'H'][d.severity ?? 0]} ${d.message}`;
}

function apply(text: string, edits: TextEdit[]): string {
  return TextDocument.applyEdits(TextDocument.create('file:///x', 'x', 1, text), edits);
}

async function fixes(uri: string, diags: Diagnostic[]): Promise<CodeAction[]> {
  return pair.client.sendRequest('textDocument/codeAction', { textDocument: { uri }, range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, context: { diagnostics: diags } });
}

async function fixed(text: string, title: RegExp): Promise<string> {
  const { uri, diags } = await open(text);
  const acts = await fixes(uri, diags);
  const a = acts.find((x) => title.test(x.title));
  assert.ok(a, `no fix ${String(title)} among ${acts.map((x) => x.title).join(', ')}`);
  return apply(text, a.edit?.changes?.[uri] ?? []);
}

async function messages(text: string): Promise<string[]> {
  return (await open(text)).diags.map(brief);
}

test('a valid jobspec has no diagnostics (YAML and JSON)', async () => {
  assert.deepEqual((await open(GOOD)).diags, []);
  const json = JSON.stringify({ version: 1, resources: [{ type: 'slot', count: 1, label: 'task', with: [{ type: 'core', count: 1 }] }], tasks: [{ command: ['true'], slot: 'task', count: { per_slot: 1 } }], attributes: { system: { duration: 0 } } }, null, 2);
  assert.deepEqual((await open(json, 'jobspec.json')).diags, []);
});

test('RFC 14/25 errors in flux-core wording, at the exact node', async () => {
  assert.deepEqual(await messages(GOOD.replace('version: 1\n', '')), ['0:0-0:9 E Missing key (version)']);
  assert.deepEqual(await messages(GOOD.replace('version: 1', 'version: 2')), ['0:9-0:10 E version must be 1']);
  assert.deepEqual(await messages(GOOD.replace('    count: 2\n', '')), ['2:4-2:8 E count is a required key for resources']);
  assert.deepEqual(await messages(GOOD.replace('count: 2', 'count: 0')), ['3:11-3:12 E node, slot, or core count must be > 0']);
  assert.deepEqual(await messages(GOOD.replace('    label: task\n', '')), ['2:4-2:8 E slots must have labels', '9:10-9:14 W task slot \'task\' does not name a slot label']);
  assert.deepEqual(await messages(GOOD.replace('duration: 60', 'duration: "1h"')), [
    '15:14-15:18 E attributes.system.duration must be a number',
    '15:14-15:18 I \'1h\' is an FSD (RFC 23); a jobspec wants seconds: 3600',
  ]);
  assert.deepEqual(await messages(GOOD.replace('  - command: [hostname]', '  - command: []')), ['9:13-9:15 E command array cannot have length of zero']);
  assert.deepEqual(await messages(GOOD.replace('      per_slot: 1', '      per_slot: 1\n      total: 2')), ['11:4-11:9 E count must have exactly one key set']);
  assert.deepEqual(await messages(GOOD + 'extra: 1\n'), ['16:0-16:5 E Extraneous key (extra)']);
  assert.deepEqual(await messages(GOOD.replace('count: 2', 'count: {min: 2, max: 1}')), [
    '3:25-3:26 E max must be >= min',
    "3:11-3:27 E resource count must be an integer for type 'slot' (got 'dict')",
  ]);
});

test('warnings: unknown shell options, resource types, system attributes', async () => {
  const t = GOOD.replace('    duration: 60\n', '    duration: 60\n    shell:\n      options:\n        cpu-afinity: per-task\n    durashun: 1\n').replace('type: core', 'type: cores');
  assert.deepEqual(await messages(t), [
    "6:14-6:19 W resource type 'cores' is not one of node, slot, core, gpu (RFC 25); schedulers may ignore or reject it",
    "19:4-19:12 W unknown system attribute 'durashun'",
    "18:8-18:19 W unknown shell option 'cpu-afinity'",
  ]);
});

test('syntax errors at their position, and no RFC checks on top of them', async () => {
  const { diags } = await open('version: 1\nresources: [\n');
  assert.equal(diags.length >= 1, true);
  assert.equal(diags[0].severity, 1);
  assert.equal(diags[0].code, 'syntax');
  assert.ok(!diags.some((d) => d.code === 'rfc14'));
  const dup = await open('version: 1\nversion: 1\n');
  assert.match(dup.diags[0].message, /unique/i);
  assert.equal(dup.diags[0].range.start.line, 1);
  const js = await open('{"version": 1,}', 'jobspec.json');
  assert.equal(js.diags[0].code, 'syntax');
});

test('diagnostics follow edits (incremental sync)', async () => {
  const { uri, diags } = await open(GOOD.replace('version: 1', 'version: 3'));
  assert.equal(diags.length, 1);
  const d2 = await pair.change(uri, GOOD, 2);
  assert.deepEqual(d2, []);
});

async function complete(text: string, line: number, character: number, ext = 'jobspec.yaml'): Promise<CompletionItem[]> {
  const { uri } = await open(text, ext);
  const r = await pair.client.sendRequest<CompletionItem[] | { items: CompletionItem[] }>('textDocument/completion', { textDocument: { uri }, position: { line, character } });
  return Array.isArray(r) ? r : r.items;
}
const labels = (items: CompletionItem[]): string[] => items.map((i) => i.label);

test('completion: keys per level, without those already there', async () => {
  assert.deepEqual(labels(await complete('', 0, 0)), ['version', 'resources', 'tasks', 'attributes']);
  assert.deepEqual(labels(await complete('version: 1\n\n', 1, 0)), ['resources', 'tasks', 'attributes']);
  const res = labels(await complete('resources:\n  - type: slot\n    \n', 2, 4));
  assert.deepEqual(res, ['count', 'with', 'label', 'exclusive', 'unit', 'id']);
  assert.deepEqual(labels(await complete('tasks:\n  - slot: task\n    count:\n      \n', 3, 6)), ['per_slot', 'total', 'per_resource']);
  assert.deepEqual(labels(await complete('attributes:\n  \n', 1, 2)), ['system', 'user']);
  const sys = labels(await complete('attributes:\n  system:\n    \n', 2, 4));
  assert.equal(sys[0], 'duration');
  assert.ok(sys.includes('cwd') && sys.includes('environment') && sys.includes('shell'));
  const shellOpts = labels(await complete('attributes:\n  system:\n    shell:\n      options:\n        cp\n', 4, 10));
  assert.ok(shellOpts.includes('cpu-affinity') && shellOpts.includes('exit-timeout'));
  // key items insert `key: ` (a snippet for collections)
  const v = (await complete('', 0, 0)).find((i) => i.label === 'version');
  assert.equal((v?.textEdit as TextEdit).newText, 'version: 1');
  // JSON: keys inside quotes
  assert.deepEqual(labels(await complete('{\n  "version": 1,\n  ""\n}', 2, 3, 'jobspec.json')), ['resources', 'tasks', 'attributes']);
});

test('completion: enum values, units, slot labels, durations', async () => {
  assert.deepEqual(labels(await complete('resources:\n  - type: \n', 1, 10)), ['node', 'slot', 'core', 'gpu']);
  assert.deepEqual(labels(await complete('resources:\n  - type: slot\n    with:\n      - type: c\n', 3, 15)), ['node', 'slot', 'core', 'gpu']);
  assert.ok(labels(await complete('resources:\n  - type: memory\n    unit: \n', 2, 10)).includes('GiB'));
  assert.deepEqual(labels(await complete(GOOD.replace('slot: task', 'slot: '), 10, 10)), ['task']);
  assert.ok(labels(await complete(GOOD.replace('duration: 60', 'duration: '), 15, 14)).includes('3600'));
  assert.deepEqual(labels(await complete('attributes:\n  system:\n    shell:\n      options:\n        cpu-affinity: \n', 4, 22)), ['on', 'per-task', 'off']);
});

test('hover: our words for each key, with the RFC link', async () => {
  const { uri } = await open(GOOD);
  const h = await pair.client.sendRequest<Hover>('textDocument/hover', { textDocument: { uri }, position: { line: 15, character: 6 } });
  const text = (h.contents as { value: string }).value;
  assert.match(text, /attributes\.system\.duration/);
  assert.match(text, /seconds/);
  assert.match(text, /= 1m/);
  assert.match(text, /spec_25\.html/);
  const ty = await pair.client.sendRequest<Hover>('textDocument/hover', { textDocument: { uri }, position: { line: 2, character: 12 } });
  assert.match((ty.contents as { value: string }).value, /\*\*slot\*\*/);
  const slot = await pair.client.sendRequest<Hover>('textDocument/hover', { textDocument: { uri }, position: { line: 10, character: 5 } });
  assert.match((slot.contents as { value: string }).value, /label of the slot/);
});

test('quick fix: add version: 1', async () => {
  assert.equal(await fixed(GOOD.replace('version: 1\n', ''), /Add version/), GOOD.replace('version: 1\n', '') .replace(/^/, 'version: 1\n'));
  assert.equal(await fixed(GOOD.replace('version: 1', 'version: 2'), /Set version/), GOOD);
});

test('quick fix: add attributes.system.duration', async () => {
  const noDur = GOOD.replace('attributes:\n  system:\n    duration: 60\n', 'attributes:\n  system:\n    cwd: /tmp\n');
  assert.equal(await fixed(noDur, /duration/), noDur + '    duration: 0\n');
  const noAttrs = GOOD.replace('attributes:\n  system:\n    duration: 60\n', '');
  assert.equal(await fixed(noAttrs, /duration/), noAttrs + 'attributes:\n  system:\n    duration: 0\n');
});

test('quick fix: cores -> core, misspelt shell option, FSD -> seconds', async () => {
  assert.equal(await fixed(GOOD.replace('type: core', 'type: cores'), /Change to 'core'/), GOOD);
  const opt = GOOD + '    shell:\n      options:\n        cpu-afinity: on\n';
  assert.equal(await fixed(opt, /Change to 'cpu-affinity'/), GOOD + '    shell:\n      options:\n        cpu-affinity: on\n');
  assert.equal(await fixed(GOOD.replace('duration: 60', 'duration: 10m'), /Use 600 seconds/), GOOD.replace('duration: 60', 'duration: 600'));
});

test('quick fix: remove an extraneous key (block and flow)', async () => {
  assert.equal(await fixed(GOOD.replace('version: 1\n', 'version: 1\nbogus:\n  a: 1\n'), /Remove extraneous key 'bogus'/), GOOD);
  assert.equal(await fixed(GOOD.replace('  system:\n', '  system:\n    x: 1\n').replace('attributes:\n', 'attributes:\n  other: 2\n'), /Remove extraneous key 'other'/), GOOD.replace('  system:\n', '  system:\n    x: 1\n'));
});

test('quick fix: wrap resources in a slot', async () => {
  const bare = GOOD.replace(/resources:\n[\s\S]*?tasks:/, 'resources:\n  - type: core\n    count: 2\ntasks:');
  const out = await fixed(bare, /Wrap resources in a slot labelled 'task'/);
  assert.equal(out, GOOD.replace(/resources:\n[\s\S]*?tasks:/, 'resources:\n  - type: slot\n    count: 1\n    label: task\n    with:\n      - type: core\n        count: 2\ntasks:'));
  const { diags } = await open(out);
  assert.deepEqual(diags, []);
});

test('formatting: YAML re-indented, JSON pretty-printed; nothing on a syntax error', async () => {
  const messy = 'version:   1\nresources:\n - type: slot\n   count: 2\n   label: task\n   with: [{type: core, count: 1}]\n';
  const { uri } = await open(messy);
  const edits = await pair.client.sendRequest<TextEdit[]>('textDocument/formatting', { textDocument: { uri }, options: { tabSize: 2, insertSpaces: true } });
  assert.equal(apply(messy, edits), 'version: 1\nresources:\n  - type: slot\n    count: 2\n    label: task\n    with: [{type: core, count: 1}]\n');
  const j = await open('{"version":1,"tasks":[]}', 'jobspec.json');
  const je = await pair.client.sendRequest<TextEdit[]>('textDocument/formatting', { textDocument: { uri: j.uri }, options: { tabSize: 2, insertSpaces: true } });
  assert.equal(apply('{"version":1,"tasks":[]}', je), '{\n  "version": 1,\n  "tasks": []\n}\n');
  const bad = await open('version: [\n');
  assert.deepEqual(await pair.client.sendRequest('textDocument/formatting', { textDocument: { uri: bad.uri }, options: { tabSize: 2, insertSpaces: true } }), []);
});

test('outline, folding, go to the slot label, code lenses', async () => {
  const { uri } = await open(GOOD);
  const syms = await pair.client.sendRequest<DocumentSymbol[]>('textDocument/documentSymbol', { textDocument: { uri } });
  assert.deepEqual(syms.map((s) => s.name), ['version', 'resources', 'tasks', 'attributes']);
  assert.equal(syms[1].children?.[0].name, 'slot ×2 (task)');
  assert.equal(syms[1].children?.[0].children?.find((c) => c.name === 'with')?.children?.[0].name, 'core ×1');
  assert.equal(syms[2].children?.[0].name, 'hostname');
  const folds = await pair.client.sendRequest<FoldingRange[]>('textDocument/foldingRange', { textDocument: { uri } });
  assert.ok(folds.some((f) => f.startLine === 1 && f.endLine === 7), JSON.stringify(folds));
  assert.ok(folds.some((f) => f.startLine === 13 && f.endLine === 15), JSON.stringify(folds));
  const def = await pair.client.sendRequest<Location>('textDocument/definition', { textDocument: { uri }, position: { line: 10, character: 12 } });
  assert.deepEqual(def.range, { start: { line: 4, character: 11 }, end: { line: 4, character: 15 } });
  const lenses = await pair.client.sendRequest<{ command: { command: string } }[]>('textDocument/codeLens', { textDocument: { uri } });
  assert.deepEqual(lenses.map((l) => l.command.command), ['flux.jobspec.submit', 'flux.jobspec.run', 'flux.jobspec.dryRun']);
});

test('feasibility: a warning on resources when the instance says no; nothing when unknown', async () => {
  const p2 = await startPair({ feasibility: (js) => (JSON.stringify(js).includes('"count":64') ? { state: 'infeasible', message: 'unsatisfiable request' } : { state: 'unknown' }) });
  try {
    const uri = 'file:///t/feas.jobspec.yaml';
    const first = await p2.open(uri, GOOD.replace('count: 2', 'count: 64'));
    assert.deepEqual(first, []);
    const second = await p2.nextDiagnostics(uri);
    assert.deepEqual(second.map(brief), ['1:0-1:9 W the attached instance cannot satisfy this request: unsatisfiable request']);
    const uri2 = 'file:///t/feas2.jobspec.yaml';
    assert.deepEqual(await p2.open(uri2, GOOD), []);
    assert.deepEqual(await p2.nextDiagnostics(uri2), []);
  } finally {
    p2.close();
  }
});

test('JSON jobspecs: diagnostics at the node, hover, value completion, quick fix', async () => {
  const text = '{\n  "version": 1,\n  "resources": [{"type": "cores", "count": 1}],\n  "tasks": [],\n  "attributes": {"system": {"duration": 0}}\n}\n';
  const { uri, diags } = await open(text, 'jobspec.json');
  assert.deepEqual(diags.map(brief).slice(0, 1), ["2:25-2:32 W resource type 'cores' is not one of node, slot, core, gpu (RFC 25); schedulers may ignore or reject it"]);
  const h = await pair.client.sendRequest<Hover>('textDocument/hover', { textDocument: { uri }, position: { line: 4, character: 30 } });
  assert.match((h.contents as { value: string }).value, /Time limit in seconds/);
  const acts = await fixes(uri, diags);
  const a = acts.find((x) => x.title === "Change to 'core'");
  assert.ok(a);
  assert.equal(apply(text, a.edit?.changes?.[uri] ?? []), text.replace('"cores"', '"core"'));
  assert.deepEqual(labels(await complete('{\n  "resources": [{"type": ""}]\n}', 1, 26, 'jobspec.json')), ['node', 'slot', 'core', 'gpu']);
});

test('quick fix: add a missing slot label (then the jobspec is clean)', async () => {
  const out = await fixed(GOOD.replace('    label: task\n', ''), /Add label: task/);
  assert.equal(out, GOOD.replace('    label: task\n', '').replace('        count: 1\ntasks:', '        count: 1\n    label: task\ntasks:'));
  assert.deepEqual((await open(out)).diags, []);
});
