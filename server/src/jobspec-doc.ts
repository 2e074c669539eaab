/**
 * A jobspec text (YAML or JSON: JSON is parsed as YAML 1.2 flow) as the `yaml` package's Document,
 * with the lookups the language features need: the node at a JSON path, the path at an offset.
 * No `vscode` import.
 */
import { isMap, isPair, isScalar, isSeq, parseDocument, type Document, type Node, type Pair } from 'yaml';
import type { Path } from '../../broker/src/common/libjob/jobspec-validate';

export type Range3 = [number, number, number];

export interface ParsedJobspec {
  text: string;
  json: boolean;
  doc: Document.Parsed;
  /** The document as plain data (undefined when the YAML does not parse at all). */
  value: unknown;
  /** Syntax errors: offsets and messages without yaml's source excerpt. */
  syntaxErrors: { start: number; end: number; message: string; severity: 'error' | 'warning' }[];
}

export function isJsonUri(uri: string): boolean {
  return /\.json$/i.test(uri);
}

/** yaml's messages end with " at line L, column C:\n\n<excerpt>"; the position is ours to show. */
function shortMessage(m: string): string {
  return m.replace(/ at line \d+, column \d+:[\s\S]*$/, '').trim();
}

export function parseJobspec(text: string, json = false): ParsedJobspec {
  // yaml's own uniqueKeys check is quadratic in a mapping's size (seconds for thousands of
  // environment variables); duplicateKeys() below does the same in one pass.
  const doc = parseDocument(text, { uniqueKeys: false, prettyErrors: false, strict: true, keepSourceTokens: false });
  const syntaxErrors: ParsedJobspec['syntaxErrors'] = duplicateKeys(doc.contents);
  for (const e of doc.errors) syntaxErrors.push({ start: e.pos[0], end: Math.max(e.pos[1], e.pos[0] + 1), message: shortMessage(e.message), severity: 'error' });
  for (const w of doc.warnings) syntaxErrors.push({ start: w.pos[0], end: Math.max(w.pos[1], w.pos[0] + 1), message: shortMessage(w.message), severity: 'warning' });
  if (json && syntaxErrors.length === 0) {
    // JSON is stricter than YAML flow: report what JSON.parse refuses (comments, single quotes, trailing commas).
    try {
      JSON.parse(text);
    } catch (e) {
      const m = /position (\d+)/.exec((e as Error).message);
      const at = m ? Number(m[1]) : 0;
      syntaxErrors.push({ start: at, end: at + 1, message: `invalid JSON: ${(e as Error).message}`, severity: 'error' });
    }
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 1000 });
  } catch {
    value = undefined;
  }
  return { text, json, doc, value, syntaxErrors };
}

/** "Map keys must be unique" (yaml's wording) on every repeated key, in document order. */
function duplicateKeys(root: unknown): ParsedJobspec['syntaxErrors'] {
  const out: ParsedJobspec['syntaxErrors'] = [];
  const walk = (node: unknown): void => {
    if (isMap(node)) {
      const seen = new Set<string>();
      for (const it of node.items as Pair[]) {
        const k = isScalar(it.key) ? `${typeof it.key.value}:${String(it.key.value)}` : undefined;
        if (k !== undefined) {
          if (seen.has(k) && (it.key as Node).range) {
            const r = (it.key as Node).range as Range3;
            out.push({ start: r[0], end: Math.max(r[1], r[0] + 1), message: 'Map keys must be unique', severity: 'error' });
          }
          seen.add(k);
        }
        walk(it.value);
      }
    } else if (isSeq(node)) for (const it of node.items) walk(it);
  };
  walk(root);
  return out;
}

export function keyOf(pair: Pair): string | undefined {
  const k = pair.key as unknown;
  if (isScalar(k)) return String(k.value);
  if (k === null || k === undefined) return undefined;
  return typeof k === 'object' ? undefined : String(k);
}

export interface Located {
  /** Key node of the last mapping step (undefined for a sequence item or the root). */
  key?: Node;
  pair?: Pair;
  /** The node at the path (null: `key:` without a value). */
  node: Node | null | undefined;
  /** How many path elements were found. */
  depth: number;
}

export function locate(doc: Document.Parsed, path: Path): Located {
  let node = doc.contents as Node | null;
  let key: Node | undefined;
  let pair: Pair | undefined;
  let depth = 0;
  for (const k of path) {
    if (isMap(node)) {
      const p = (node.items as Pair[]).find((it) => keyOf(it) === String(k));
      if (!p) break;
      pair = p;
      key = isScalar(p.key) ? (p.key as Node) : undefined;
      node = p.value as Node | null;
    } else if (isSeq(node) && typeof k === 'number') {
      const item = node.items[k] as Node | undefined;
      if (item === undefined) break;
      node = item;
      key = undefined;
      pair = undefined;
    } else break;
    depth++;
  }
  return { key, pair, node, depth };
}

function lineEnd(text: string, offset: number): number {
  const nl = text.indexOf('\n', offset);
  return nl < 0 ? text.length : nl;
}

/** The offsets to underline for a diagnostic about `path` (the key itself, or its value). */
export function rangeForPath(p: ParsedJobspec, path: Path, on: 'key' | 'value'): [number, number] {
  const { key, node, depth } = locate(p.doc, path);
  const keyRange = (): [number, number] | undefined => (key?.range ? [key.range[0], key.range[1]] : undefined);
  if (on === 'key' && depth === path.length) {
    const r = keyRange();
    if (r) return r;
  }
  if (node && (isScalar(node) || depth < path.length) && node.range && node.range[1] > node.range[0]) {
    if (isScalar(node)) return [node.range[0], node.range[1]];
  }
  if ((isMap(node) || isSeq(node)) && node.flow && node.range && depth === path.length) return [node.range[0], node.range[1]];
  const r = keyRange();
  if (r) return r;
  if (node?.range) {
    // A collection that is a sequence item or the root: its first line.
    const start = node.range[0];
    if (isMap(node) && node.items.length > 0) {
      const first = node.items[0] as Pair;
      if (isScalar(first.key) && first.key.range) return [first.key.range[0], first.key.range[1]];
    }
    const end = Math.min(lineEnd(p.text, start), node.range[1]);
    return [start, Math.max(end, start + 1)];
  }
  return [0, Math.max(1, lineEnd(p.text, 0))];
}

export interface PathAt {
  path: Path;
  /** On a mapping key (the key's own text) rather than a value. */
  onKey: boolean;
  node: Node | null | undefined;
}

/** The deepest path whose key or value contains the offset. */
export function pathAt(doc: Document.Parsed, offset: number): PathAt | undefined {
  const within = (n: unknown): boolean => {
    const r = (n as Node | null)?.range;
    return !!r && offset >= r[0] && offset <= r[1];
  };
  const walk = (node: Node | null, path: Path): PathAt | undefined => {
    if (isMap(node)) {
      for (const it of node.items as Pair[]) {
        const k = keyOf(it);
        if (k === undefined) continue;
        if (within(it.key)) return { path: [...path, k], onKey: true, node: it.value as Node | null };
        if (within(it.value)) return walk(it.value as Node, [...path, k]) ?? { path: [...path, k], onKey: false, node: it.value as Node };
      }
      return undefined;
    }
    if (isSeq(node)) {
      for (let i = 0; i < node.items.length; i++) {
        const it = node.items[i] as Node;
        if (within(it)) return walk(it, [...path, i]) ?? { path: [...path, i], onKey: false, node: it };
      }
      return undefined;
    }
    return undefined;
  };
  return walk(doc.contents as Node | null, []);
}

/** Where a placeholder sits in a document (see completion). */
export function findPlaceholder(node: unknown, placeholder: string, path: Path = []): { path: Path; onKey: boolean } | undefined {
  if (isMap(node)) {
    for (const it of node.items as Pair[]) {
      const k = keyOf(it);
      if (k === placeholder) return { path, onKey: true };
      if (isScalar(it.value) && it.value.value === placeholder && k !== undefined) return { path: [...path, k], onKey: false };
      if (k !== undefined) {
        const r = findPlaceholder(it.value, placeholder, [...path, k]);
        if (r) return r;
      }
    }
  } else if (isSeq(node)) {
    for (let i = 0; i < node.items.length; i++) {
      const it = node.items[i];
      if (isScalar(it) && it.value === placeholder) return { path: [...path, i], onKey: false };
      const r = findPlaceholder(it, placeholder, [...path, i]);
      if (r) return r;
    }
  } else if (isPair(node)) {
    return undefined;
  }
  return undefined;
}
