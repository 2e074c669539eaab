/**
 * Quick fixes for jobspec diagnostics: turns the `fix` that diagnose() attaches to a diagnostic's
 * data into a code action with a text edit. Kept apart from jobspec-service.ts (which finds the
 * problems) because building the edits is its own concern. No `vscode` import.
 */
import { CodeAction, CodeActionKind, Diagnostic, TextEdit } from 'vscode-languageserver';
import { isMap, isScalar, parseDocument, type Node, type Pair } from 'yaml';
import { formatJsonPath } from '../../broker/src/common/libjob/jobspec-validate';
import { isJsonUri, locate } from './jobspec-doc';
import { SOURCE, type DiagnosticData, type JobspecDocument } from './jobspec-service';

/** The whole document rewritten from a changed yaml Document (or JSON value). */
function rewrite(jd: JobspecDocument, change: (doc: ReturnType<typeof parseDocument>) => void): TextEdit {
  const text = jd.doc.getText();
  const doc = parseDocument(text);
  change(doc);
  const json = isJsonUri(jd.doc.uri);
  const out = json ? JSON.stringify(doc.toJS(), null, 2) + '\n' : doc.toString({ indent: 2, lineWidth: 0, flowCollectionPadding: false });
  return TextEdit.replace(jd.range(0, text.length), out);
}

function lineStart(text: string, off: number): number {
  return text.lastIndexOf('\n', off - 1) + 1;
}

export function codeActions(jd: JobspecDocument, diagnostics: Diagnostic[]): CodeAction[] {
  const out: CodeAction[] = [];
  const uri = jd.doc.uri;
  const text = jd.doc.getText();
  const json = isJsonUri(uri);
  const add = (title: string, d: Diagnostic, edit: TextEdit, preferred = true): void => {
    out.push({ title, kind: CodeActionKind.QuickFix, diagnostics: [d], isPreferred: preferred, edit: { changes: { [uri]: [edit] } } });
  };
  const seen = new Set<string>();
  for (const d of diagnostics) {
    const data = d.data as DiagnosticData | undefined;
    if (d.source !== SOURCE || !data?.fix) continue;
    const id = `${data.fix}:${formatJsonPath(data.path)}`;
    if (seen.has(id)) continue;
    seen.add(id);
    const p = jd.parsed;
    switch (data.fix) {
      case 'rename-key': {
        const { key } = locate(p.doc, data.path);
        if (key?.range) add(`Change to '${String(data.arg)}'`, d, TextEdit.replace(jd.range(key.range[0], key.range[1]), json ? `"${String(data.arg)}"` : String(data.arg)));
        break;
      }
      case 'add-version': {
        const { node, pair } = locate(p.doc, ['version']);
        if (node && isScalar(node) && node.range) add('Set version: 1', d, TextEdit.replace(jd.range(node.range[0], node.range[1]), '1'));
        else if (!pair && !json && isMap(p.doc.contents)) {
          const first = (p.doc.contents.items[0] as Pair | undefined)?.key as Node | undefined;
          const at = first?.range ? lineStart(text, first.range[0]) : 0;
          add('Add version: 1', d, TextEdit.insert(jd.doc.positionAt(at), 'version: 1\n'));
        } else add('Add version: 1', d, rewrite(jd, (doc) => { doc.set('version', 1); }));
        break;
      }
      case 'add-duration':
        add('Add attributes.system.duration (no limit: 0)', d, rewrite(jd, (doc) => {
          if (!isMap(doc.getIn(['attributes']))) doc.setIn(['attributes'], doc.createNode({ system: { duration: 0 } }));
          else if (!isMap(doc.getIn(['attributes', 'system']))) doc.setIn(['attributes', 'system'], doc.createNode({ duration: 0 }));
          else doc.setIn(['attributes', 'system', 'duration'], 0);
        }));
        break;
      case 'fsd-duration': {
        const { node } = locate(p.doc, data.path);
        if (node?.range) add(`Use ${String(data.arg)} seconds`, d, TextEdit.replace(jd.range(node.range[0], node.range[1]), String(data.arg)));
        break;
      }
      case 'rename-type': {
        const { node } = locate(p.doc, data.path);
        if (node?.range) add(`Change to '${String(data.arg)}'`, d, TextEdit.replace(jd.range(node.range[0], node.range[1]), json ? `"${String(data.arg)}"` : String(data.arg)));
        break;
      }
      case 'remove-key': {
        const { pair, key } = locate(p.doc, data.path);
        const last = data.path[data.path.length - 1];
        const title = `Remove extraneous key '${String(last)}'`;
        const v = pair?.value as Node | null | undefined;
        if (!json && key?.range) {
          const start = key.range[0];
          const end = v?.range ? v.range[1] : key.range[2];
          const parentMap = locate(p.doc, data.path.slice(0, -1)).node;
          const flow = isMap(parentMap) && parentMap.flow;
          const ls = lineStart(text, start);
          if (!flow && /^\s*$/.test(text.slice(ls, start))) {
            // a block pair: remove its whole lines
            let e = end;
            const nl = text.indexOf('\n', Math.max(e - 1, start));
            e = nl < 0 ? text.length : nl + 1;
            add(title, d, TextEdit.del(jd.range(ls, e)));
            break;
          }
        }
        add(title, d, rewrite(jd, (doc) => { doc.deleteIn(data.path); }));
        break;
      }
      case 'add-label': {
        add("Add label: task", d, rewrite(jd, (doc) => { doc.setIn([...data.path, 'label'], 'task'); }));
        break;
      }
      case 'wrap-slot': {
        const value = p.value as { tasks?: { slot?: unknown }[] };
        const label = typeof value?.tasks?.[0]?.slot === 'string' ? value.tasks[0].slot : 'task';
        add(`Wrap resources in a slot labelled '${label}'`, d, rewrite(jd, (doc) => {
          const res = doc.get('resources', true) as Node;
          const slot = doc.createNode({ type: 'slot', count: 1, label });
          (slot as unknown as { set(k: string, v: unknown): void }).set('with', res);
          const seq = doc.createNode([]) as unknown as { items: unknown[] };
          seq.items.push(slot);
          doc.set('resources', seq);
        }));
        break;
      }
    }
  }
  return out;
}
