/**
 * The jobspec's structure-based editor features: document symbols (outline), folding ranges,
 * formatting, go-to-definition from a task's slot to the slot's label, and the submit/run code
 * lenses. Kept apart from jobspec-service.ts (diagnostics, completion, hover) because these only
 * walk the parsed tree. No `vscode` import.
 */
import { DocumentSymbol, FoldingRange, Location, Position, Range, SymbolKind, TextEdit, type CodeLens } from 'vscode-languageserver';
import { isMap, isScalar, isSeq, type Node, type Pair } from 'yaml';
import { type Path } from '../../broker/src/common/libjob/jobspec-validate';
import { keyOf, pathAt } from './jobspec-doc';
import { contextOf } from './jobspec-schema';
import { type JobspecDocument } from './jobspec-service';

function describe(path: Path, node: Node | null): string | undefined {
  if (!isMap(node)) return undefined;
  const v = node.toJSON() as Record<string, unknown>;
  const last = path[path.length - 1];
  if (last === 'resources' || last === 'with') return `${String(v.type)} ×${typeof v.count === 'object' ? JSON.stringify(v.count) : String(v.count)}${typeof v.label === 'string' ? ` (${v.label})` : ''}`;
  if (last === 'tasks') return Array.isArray(v.command) ? v.command.join(' ') : 'task';
  return undefined;
}

export function symbols(jd: JobspecDocument): DocumentSymbol[] {
  const p = jd.parsed;
  const walk = (node: Node | null, path: Path): DocumentSymbol[] => {
    const out: DocumentSymbol[] = [];
    if (isMap(node)) {
      for (const it of node.items as Pair[]) {
        const k = keyOf(it);
        const kn = it.key as Node | null;
        const vn = it.value as Node | null;
        if (k === undefined || !kn?.range) continue;
        const end = vn?.range ? vn.range[1] : kn.range[1];
        const kind = isSeq(vn) ? SymbolKind.Array : isMap(vn) ? SymbolKind.Object : SymbolKind.Property;
        const detail = isScalar(vn) ? String(vn.value) : undefined;
        out.push({ name: k, detail, kind, range: jd.range(kn.range[0], Math.max(end, kn.range[1])), selectionRange: jd.range(kn.range[0], kn.range[1]), children: walk(vn, [...path, k]) });
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => {
        const n = item as Node;
        if (!n?.range) return;
        const name = describe(path, n) ?? `[${i}]`;
        out.push({ name, kind: isMap(n) ? SymbolKind.Struct : SymbolKind.Constant, range: jd.range(n.range[0], n.range[1]), selectionRange: jd.range(n.range[0], n.range[0]), children: walk(n, [...path, i]) });
      });
    }
    return out;
  };
  return walk(p.doc.contents as Node | null, []);
}

export function folding(jd: JobspecDocument): FoldingRange[] {
  const out: FoldingRange[] = [];
  const walk = (node: unknown, start?: number): void => {
    if (isMap(node) || isSeq(node)) {
      const n = node as Node;
      if (n.range) {
        const s = jd.doc.positionAt(start ?? n.range[0]).line;
        let e = jd.doc.positionAt(n.range[1]).line;
        if (n.range[1] > 0 && jd.doc.getText()[n.range[1] - 1] === '\n' && !(node as { flow?: boolean }).flow) e -= 1;
        if (e > s) out.push(FoldingRange.create(s, e));
      }
      if (isMap(node)) for (const it of node.items as Pair[]) walk(it.value, (it.key as Node | null)?.range?.[0]);
      else for (const it of (node as { items: unknown[] }).items) walk(it);
    }
  };
  walk(jd.parsed.doc.contents);
  // top-level maps fold from their key line
  return out.filter((f, i, a) => a.findIndex((g) => g.startLine === f.startLine) === i);
}

export function format(jd: JobspecDocument, tabSize = 2): TextEdit[] {
  const p = jd.parsed;
  if (p.syntaxErrors.some((e) => e.severity === 'error')) return [];
  const text = jd.doc.getText();
  const out = p.json ? JSON.stringify(p.doc.toJS(), null, tabSize) + '\n' : p.doc.toString({ indent: Math.max(2, tabSize), lineWidth: 0, indentSeq: true, flowCollectionPadding: false });
  return out === text ? [] : [TextEdit.replace(jd.range(0, text.length), out)];
}

/** From a task's `slot: NAME` to the slot's `label: NAME`. */
export function definition(jd: JobspecDocument, pos: Position): Location | undefined {
  const p = jd.parsed;
  const at = pathAt(p.doc, jd.doc.offsetAt(pos));
  if (!at || at.onKey || contextOf(at.path.slice(0, -1)) !== 'task' || at.path[at.path.length - 1] !== 'slot' || !isScalar(at.node)) return undefined;
  const want = String(at.node.value);
  let found: Node | undefined;
  const walk = (list: unknown): void => {
    if (!isSeq(list) || found) return;
    for (const r of list.items) {
      if (!isMap(r)) continue;
      const lbl = r.get('label', true) as Node | undefined;
      if (r.get('type') === 'slot' && isScalar(lbl) && String(lbl.value) === want) { found = lbl; return; }
      walk(r.get('with', true));
    }
  };
  walk(isMap(p.doc.contents) ? p.doc.contents.get('resources', true) : undefined);
  const f = found as Node | undefined;
  return f?.range ? Location.create(jd.doc.uri, jd.range(f.range[0], f.range[1])) : undefined;
}

export function codeLenses(jd: JobspecDocument): CodeLens[] {
  const r = Range.create(0, 0, 0, 0);
  const args = [jd.doc.uri];
  return [
    { range: r, command: { title: '$(play) Submit', command: 'flux.jobspec.submit', arguments: args } },
    { range: r, command: { title: '$(terminal) Run', command: 'flux.jobspec.run', arguments: args } },
    { range: r, command: { title: '$(beaker) Dry run', command: 'flux.jobspec.dryRun', arguments: args } },
  ];
}
