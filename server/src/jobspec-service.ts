/**
 * The jobspec language features as plain functions of a document: the parsed-document cache,
 * diagnostics (with the quick-fix each one offers), completion and hover. Quick-fix edits are in
 * jobspec-quick-fixes.ts; symbols, folding, formatting, definition and code lenses in
 * jobspec-outline.ts. server.ts wires them to a connection; tests may call them directly.
 * No `vscode` import.
 */
import {
  CompletionItem,
  CompletionItemKind,
  Diagnostic,
  DiagnosticSeverity,
  Hover,
  InsertTextFormat,
  MarkupKind,
  Position,
  Range,
  TextEdit,
} from 'vscode-languageserver';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { isMap, isScalar, parseDocument, stringify, type Pair } from 'yaml';
import { formatJsonPath, KNOWN_SHELL_OPTIONS, KNOWN_SYSTEM_ATTRIBUTES, validateJobspec, type JobspecDiagnostic, type Path } from '../../broker/src/common/libjob/jobspec-validate';
import { parseFsd } from '../../broker/src/common/libutil/fsd';
import { findPlaceholder, isJsonUri, keyOf, locate, parseJobspec, pathAt, rangeForPath, type ParsedJobspec } from './jobspec-doc';
import { contextOf, keysFor, RESOURCE_TYPES, RFC14, valuesFor } from './jobspec-schema';

export const SOURCE = 'flux-jobspec';

export interface DiagnosticData {
  path: Path;
  fix?: 'rename-key' | 'add-version' | 'add-duration' | 'rename-type' | 'remove-key' | 'wrap-slot' | 'fsd-duration' | 'add-label';
  /** rename-type: the type to use; fsd-duration: the seconds. */
  arg?: string | number;
}

/** A parsed document kept per version (parsing is the expensive part). */
export class JobspecDocument {
  private cache?: { version: number; parsed: ParsedJobspec };
  constructor(public doc: TextDocument) {}
  get parsed(): ParsedJobspec {
    if (!this.cache || this.cache.version !== this.doc.version) this.cache = { version: this.doc.version, parsed: parseJobspec(this.doc.getText(), isJsonUri(this.doc.uri)) };
    return this.cache.parsed;
  }
  range(start: number, end: number): Range {
    return Range.create(this.doc.positionAt(start), this.doc.positionAt(end));
  }
}

function closeType(t: string): string | undefined {
  const s = t.toLowerCase().replace(/s$/, '');
  if (['node', 'slot', 'core', 'gpu'].includes(s)) return s;
  if (s === 'cpu' || s === 'processor') return 'core';
  if (s === 'host') return 'node';
  return undefined;
}

function fixFor(d: JobspecDiagnostic, value: unknown): Pick<DiagnosticData, 'fix' | 'arg'> {
  const m = d.message;
  if (m === 'Missing key (version)' || m === 'version must be 1') return { fix: 'add-version' };
  if (m === 'Missing key (attributes)' || m === 'attributes.system is a required key' || m === 'attributes.system.duration is a required key') return { fix: 'add-duration' };
  if (m === 'attributes.system.duration must be a number') {
    const v = (((value as { attributes?: { system?: { duration?: unknown } } }).attributes ?? {}).system ?? {}).duration;
    if (typeof v === 'string') {
      try {
        const s = parseFsd(v.trim());
        if (Number.isFinite(s)) return { fix: 'fsd-duration', arg: s };
        if (s === Infinity) return { fix: 'fsd-duration', arg: 0 };
      } catch {
        /* not an FSD */
      }
    }
    return {};
  }
  if (m.startsWith('Extraneous key (')) return { fix: 'remove-key' };
  if (m === 'slots must have labels') return { fix: 'add-label' };
  let r = /^resource type '(.*)' is not one of/.exec(m);
  if (r) {
    const t = closeType(r[1]);
    return t ? { fix: 'rename-type', arg: t } : {};
  }
  r = /^RFC 25 resources start with a node or a slot/.exec(m);
  if (r) return { fix: 'wrap-slot' };
  r = /^task slot '.*' does not name a slot label$/.exec(m);
  if (r && labelsOf(value).length === 0 && !hasSlot(value)) return { fix: 'wrap-slot' };
  r = /^unknown shell option '(.*)'$/.exec(m);
  if (r) {
    const best = closest(r[1], KNOWN_SHELL_OPTIONS);
    return best ? { fix: 'rename-key', arg: best } : {};
  }
  r = /^unknown system attribute '(.*)'$/.exec(m);
  if (r) {
    const best = closest(r[1], KNOWN_SYSTEM_ATTRIBUTES);
    return best ? { fix: 'rename-key', arg: best } : {};
  }
  return {};
}

function hasSlot(value: unknown): boolean {
  return JSON.stringify((value as { resources?: unknown } | null)?.resources ?? null).includes('"type":"slot"');
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
  return d[a.length][b.length];
}

/** The known name nearest to a misspelt one (at most 2 edits), if any. */
function closest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bd = 3;
  for (const k of known) {
    const dd = editDistance(name.toLowerCase(), k);
    if (dd < bd) { bd = dd; best = k; }
  }
  return best;
}

function labelsOf(value: unknown): string[] {
  const out: string[] = [];
  const walk = (list: unknown): void => {
    if (!Array.isArray(list)) return;
    for (const r of list) {
      if (r === null || typeof r !== 'object') continue;
      const o = r as Record<string, unknown>;
      if (o.type === 'slot' && typeof o.label === 'string') out.push(o.label);
      walk(o.with);
    }
  };
  walk((value as { resources?: unknown } | null)?.resources);
  return out;
}

/** Every diagnostic of the document: syntax, then flux-core's errors in its order, then warnings. */
export function diagnose(jd: JobspecDocument): Diagnostic[] {
  const p = jd.parsed;
  const out: Diagnostic[] = [];
  for (const e of p.syntaxErrors)
    out.push({ range: jd.range(e.start, e.end), message: e.message, severity: e.severity === 'error' ? DiagnosticSeverity.Error : DiagnosticSeverity.Warning, source: SOURCE, code: 'syntax' });
  if (p.syntaxErrors.some((e) => e.severity === 'error')) return out;
  if (p.value === null || p.value === undefined) return out; // an empty document: nothing to say yet
  const v = validateJobspec(p.value);
  for (const d of [...v.errors, ...v.warnings]) {
    const [s, e] = rangeForPath(p, d.path, d.on);
    const data: DiagnosticData = { path: d.path, ...fixFor(d, p.value) };
    out.push({
      range: jd.range(s, e),
      message: d.message,
      severity: d.severity === 'error' ? DiagnosticSeverity.Error : DiagnosticSeverity.Warning,
      source: SOURCE,
      code: d.severity === 'error' ? 'rfc14' : 'jobspec',
      data,
    });
    if (data.fix === 'fsd-duration')
      out.push({ range: jd.range(s, e), message: `'${String(locate(p.doc, d.path).node?.toJSON())}' is an FSD (RFC 23); a jobspec wants seconds: ${String(data.arg)}`, severity: DiagnosticSeverity.Information, source: SOURCE, code: 'fsd', data });
  }
  return out;
}

/** Index of the first error message, as job-ingest would answer (undefined when valid). */
export function ingestMessage(jd: JobspecDocument): string | undefined {
  const d = diagnose(jd).find((x) => x.severity === DiagnosticSeverity.Error);
  return d?.message;
}

// ---------------------------------------------------------------------------------------------
// Completion

const PLACEHOLDER = 'fluxCompletionPlaceholder';

export function complete(jd: JobspecDocument, pos: Position): CompletionItem[] {
  const text = jd.doc.getText();
  const lines = text.split('\n');
  const line = lines[pos.line] ?? '';
  const before = line.slice(0, pos.character);
  const json = isJsonUri(jd.doc.uri);
  let probe: string;
  let replaceStart: number;
  if (json) {
    const m = /"([^"]*)$/.exec(before);
    if (!m) return [];
    replaceStart = pos.character - m[1].length;
    const after = line.slice(pos.character).replace(/^[^"]*"?/, '');
    const isValue = /:\s*"[^"]*$/.test(before);
    lines[pos.line] = before.slice(0, replaceStart) + PLACEHOLDER + '"' + (isValue ? '' : ': null') + after;
    probe = lines.join('\n');
  } else {
    const mKey = /^(\s*(?:-\s+)*)([\w.-]*)$/.exec(before);
    const mVal = /^(\s*(?:-\s+)*)([\w.-]+):\s+([^\s#]*)$/.exec(before);
    const mItem = /^(\s*(?:-\s+)*[\w.-]+:\s*\[(?:[^\]]*,\s*)?)([^\s,\]]*)$/.exec(before);
    if (mVal) {
      replaceStart = pos.character - mVal[3].length;
      lines[pos.line] = before.slice(0, replaceStart) + PLACEHOLDER;
    } else if (mItem) {
      replaceStart = pos.character - mItem[2].length;
      lines[pos.line] = before.slice(0, replaceStart) + PLACEHOLDER + ']';
    } else if (mKey) {
      replaceStart = pos.character - mKey[2].length;
      lines[pos.line] = before.slice(0, replaceStart) + PLACEHOLDER + ':';
    } else return [];
    probe = lines.join('\n');
  }
  const doc = parseDocument(probe, { uniqueKeys: false });
  const at = findPlaceholder(doc.contents, PLACEHOLDER);
  if (!at) return [];
  const range = Range.create(Position.create(pos.line, replaceStart), pos);
  const value = jd.parsed.value;
  if (at.onKey) {
    const ctx = contextOf(at.path);
    const present = new Set<string>();
    const { node } = locate(jd.parsed.doc, at.path);
    if (isMap(node)) for (const it of node.items as Pair[]) { const k = keyOf(it); if (k !== undefined && k !== line.trim()) present.add(k); }
    const keys = keysFor(ctx);
    return Object.entries(keys)
      .filter(([k]) => !present.has(k))
      .map(([k, d], i): CompletionItem => ({
        label: k,
        kind: ctx === 'shell-options' ? CompletionItemKind.Value : CompletionItemKind.Property,
        detail: d.required ? 'required' : undefined,
        documentation: { kind: MarkupKind.Markdown, value: `${d.doc}\n\n[${d.link === RFC14 ? 'RFC 14' : 'reference'}](${d.link ?? RFC14})` },
        sortText: `${d.required ? '0' : '1'}${String(i).padStart(3, '0')}`,
        textEdit: TextEdit.replace(range, json ? k : `${k}:${d.yaml ?? ' '}`),
        insertTextFormat: json ? InsertTextFormat.PlainText : InsertTextFormat.Snippet,
      }));
  }
  return valuesFor(at.path, labelsOf(value)).map((c, i): CompletionItem => ({
    label: c.label,
    kind: CompletionItemKind.EnumMember,
    documentation: c.doc,
    sortText: String(i).padStart(3, '0'),
    textEdit: TextEdit.replace(range, c.insert ?? c.label),
    insertTextFormat: c.insert ? InsertTextFormat.Snippet : InsertTextFormat.PlainText,
  }));
}

// ---------------------------------------------------------------------------------------------
// Hover

export function hover(jd: JobspecDocument, pos: Position): Hover | undefined {
  const p = jd.parsed;
  const at = pathAt(p.doc, jd.doc.offsetAt(pos));
  if (!at || at.path.length === 0) return undefined;
  const key = at.path[at.path.length - 1];
  const parent = at.path.slice(0, -1);
  const where = `\`${formatJsonPath(at.path)}\``;
  if (!at.onKey && contextOf(parent) === 'resource' && key === 'type' && isScalar(at.node)) {
    const t = RESOURCE_TYPES.find((r) => r.label === String(at.node && isScalar(at.node) ? at.node.value : ''));
    if (t) return { contents: { kind: MarkupKind.Markdown, value: `**${t.label}**: ${t.doc}\n\n[RFC 25](https://flux-framework.readthedocs.io/projects/flux-rfc/en/latest/spec_25.html)` } };
  }
  if (typeof key === 'number') {
    const what = parent[parent.length - 1] === 'tasks' ? 'task' : parent[parent.length - 1] === 'resources' || parent[parent.length - 1] === 'with' ? 'resource vertex' : 'item';
    return { contents: { kind: MarkupKind.Markdown, value: `${where}: ${what} ${key + 1}` } };
  }
  const d = keysFor(contextOf(parent))[key];
  if (!d) return undefined;
  const n = at.node;
  let extra = '';
  if (key === 'duration' && n && isScalar(n) && typeof n.value === 'number') extra = `\n\n= ${fmtSeconds(n.value)}`;
  return { contents: { kind: MarkupKind.Markdown, value: `${where}${d.required ? ' (required)' : ''}\n\n${d.doc}${extra}\n\n[${d.link?.includes('spec_25') ? 'RFC 25' : d.link?.includes('spec_31') ? 'RFC 31' : d.link?.includes('spec_14') ? 'RFC 14' : 'reference'}](${d.link ?? RFC14})` } };
}

function fmtSeconds(s: number): string {
  if (s === 0) return 'no limit';
  const parts: string[] = [];
  let r = s;
  for (const [u, n] of [['d', 86400], ['h', 3600], ['m', 60]] as const) if (r >= n) { parts.push(`${Math.floor(r / n)}${u}`); r %= n; }
  if (r > 0 || parts.length === 0) parts.push(`${r}s`);
  return parts.join(' ');
}

/** The jobspec as the JSON job-ingest takes (undefined when it does not parse). */
export function toJson(text: string): unknown {
  const p = parseJobspec(text);
  return p.syntaxErrors.some((e) => e.severity === 'error') ? undefined : p.value;
}

export { stringify as yamlStringify };
