/**
 * `# flux:` submission directives of batch scripts, as `flux batch` reads them (flux-batch(1),
 * DIRECTIVES): lines `#flux: OPTIONS` / `# flux: OPTIONS` in the script's leading comment block
 * (they end at the first line that is neither a comment nor blank). Each line's options are checked
 * against flux batch's option table: unknown options, missing or bad values (counts, urgency,
 * FSD time limits), unknown shell options (`-o NAME`) as warnings. No `vscode` import.
 */
import { CompletionItemKind, DiagnosticSeverity, Position, Range, TextEdit, type CompletionItem, type Diagnostic } from 'vscode-languageserver';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import { KNOWN_SHELL_OPTIONS } from '../../broker/src/common/libjob/jobspec-validate';
import { parseFsd } from '../../broker/src/common/libutil/fsd';
import { SOURCE } from './jobspec-service';

type Kind = 'int' | 'urgency' | 'time' | 'shellopt' | 'string' | 'flag';

interface Opt {
  long: string;
  short?: string;
  kind: Kind;
  doc: string;
}

export const BATCH_OPTIONS: Opt[] = [
  { long: 'nslots', short: 'n', kind: 'int', doc: 'Number of slots (each a group of cores) for the batch instance' },
  { long: 'cores-per-slot', short: 'c', kind: 'int', doc: 'Cores per slot' },
  { long: 'gpus-per-slot', short: 'g', kind: 'int', doc: 'GPUs per slot' },
  { long: 'nodes', short: 'N', kind: 'int', doc: 'Number of nodes' },
  { long: 'exclusive', short: 'x', kind: 'flag', doc: 'With -N, the nodes whole' },
  { long: 'time-limit', short: 't', kind: 'time', doc: 'Time limit: minutes without units, else an FSD (30s, 2h, 1.5d)' },
  { long: 'queue', short: 'q', kind: 'string', doc: 'Queue to submit to' },
  { long: 'bank', short: 'B', kind: 'string', doc: 'Bank to charge' },
  { long: 'urgency', kind: 'urgency', doc: 'Urgency 0-31 (0 hold, 16 default, 31 expedite)' },
  { long: 'job-name', kind: 'string', doc: 'Job name' },
  { long: 'cwd', kind: 'string', doc: 'Working directory' },
  { long: 'setopt', short: 'o', kind: 'shellopt', doc: 'Shell option OPT[=VAL]' },
  { long: 'setattr', short: 'S', kind: 'string', doc: 'Jobspec attribute ATTR[=VAL]' },
  { long: 'env', kind: 'string', doc: 'Environment rule' },
  { long: 'env-remove', kind: 'string', doc: 'Remove environment variables matching a pattern' },
  { long: 'env-file', kind: 'string', doc: 'Environment rules from a file' },
  { long: 'dependency', kind: 'string', doc: 'RFC 26 dependency URI (afterok:ID, …)' },
  { long: 'begin-time', kind: 'string', doc: 'Start no sooner than this time' },
  { long: 'input', kind: 'string', doc: 'stdin from a file' },
  { long: 'output', kind: 'string', doc: 'stdout to a file template ({{id}})' },
  { long: 'error', kind: 'string', doc: 'stderr to a file template' },
  { long: 'label-io', short: 'l', kind: 'flag', doc: 'Label output lines with the task rank' },
  { long: 'unbuffered', short: 'u', kind: 'flag', doc: 'Unbuffered output' },
  { long: 'flags', kind: 'string', doc: 'Submission flags (waitable, debug, novalidate)' },
  { long: 'conf', kind: 'string', doc: 'Configuration of the batch instance (KEY=VAL, a file, or TOML)' },
  { long: 'broker-opts', kind: 'string', doc: 'Options for the batch instance\'s brokers' },
  { long: 'add-file', kind: 'string', doc: 'Add a file to the job ([NAME=]PATH)' },
  { long: 'requires', kind: 'string', doc: 'Resource constraints (properties)' },
  { long: 'wrap', kind: 'flag', doc: 'Wrap the arguments in a script' },
];

const DIRECTIVE = /^(\s*#+\s*flux:)(.*)$/;

/** Words of a directive line with their offsets within it; `'` and `"` quote as in sh. */
function words(s: string, base: number): { w: string; start: number; end: number }[] {
  const out: { w: string; start: number; end: number }[] = [];
  let i = 0;
  while (i < s.length) {
    while (i < s.length && /\s/.test(s[i])) i++;
    if (i >= s.length) break;
    const start = i;
    let w = '';
    while (i < s.length && !/\s/.test(s[i])) {
      const q = s[i];
      if (q === '"' || q === "'") {
        const close = s.indexOf(q, i + 1);
        const stop = close < 0 ? s.length : close;
        w += s.slice(i + 1, stop);
        i = stop + 1;
      } else {
        w += q;
        i++;
      }
    }
    out.push({ w, start: base + start, end: base + Math.min(i, s.length) });
  }
  return out;
}

/** The directive lines (numbers) of a script: within the leading comment block. */
export function directiveLines(lines: string[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    if (DIRECTIVE.test(l)) out.push(i);
    else if (l.trim() !== '' && !l.trimStart().startsWith('#')) break;
  }
  return out;
}

function checkValue(o: Opt, v: string): { severity: DiagnosticSeverity; message: string } | undefined {
  switch (o.kind) {
    case 'int':
      return /^[0-9]+$/.test(v) && Number(v) > 0 ? undefined : { severity: DiagnosticSeverity.Error, message: `--${o.long}: invalid int value '${v}'` };
    case 'urgency':
      return /^[0-9]+$/.test(v) && Number(v) <= 31 ? undefined : { severity: DiagnosticSeverity.Error, message: `--urgency: ${v}: urgency range is [0:31]` };
    case 'time':
      if (/^[0-9]+(\.[0-9]+)?$/.test(v)) return undefined; // minutes
      try {
        parseFsd(v);
        return undefined;
      } catch {
        return { severity: DiagnosticSeverity.Error, message: `--time-limit: invalid Flux standard duration '${v}'` };
      }
    case 'shellopt': {
      const name = v.split('=')[0];
      return (KNOWN_SHELL_OPTIONS as readonly string[]).includes(name) || name.includes('.')
        ? undefined
        : { severity: DiagnosticSeverity.Warning, message: `unknown shell option '${name}'` };
    }
    default:
      return undefined;
  }
}

export function diagnoseDirectives(doc: TextDocument): Diagnostic[] {
  const lines = doc.getText().split('\n');
  const out: Diagnostic[] = [];
  const range = (line: number, s: number, e: number): Range => Range.create(line, s, line, e);
  for (const ln of directiveLines(lines)) {
    const m = DIRECTIVE.exec(lines[ln]) as RegExpExecArray;
    const ws = words(m[2], m[1].length);
    for (let i = 0; i < ws.length; i++) {
      const { w, start, end } = ws[i];
      let opt: Opt | undefined;
      let value: string | undefined;
      let vStart = start;
      let vEnd = end;
      if (w.startsWith('--')) {
        const eq = w.indexOf('=');
        const name = eq < 0 ? w.slice(2) : w.slice(2, eq);
        opt = BATCH_OPTIONS.find((o) => o.long === name);
        if (!opt) {
          out.push({ range: range(ln, start, end), severity: DiagnosticSeverity.Error, source: SOURCE, message: `flux batch: unrecognized option '--${name}'` });
          continue;
        }
        if (eq >= 0) {
          value = w.slice(eq + 1);
          vStart = start + eq + 1;
        }
      } else if (w.startsWith('-') && w.length > 1) {
        opt = BATCH_OPTIONS.find((o) => o.short === w[1]);
        if (!opt) {
          out.push({ range: range(ln, start, end), severity: DiagnosticSeverity.Error, source: SOURCE, message: `flux batch: invalid option -- '${w[1]}'` });
          continue;
        }
        if (w.length > 2 && opt.kind !== 'flag') {
          value = w.slice(2).replace(/^=/, '');
          vStart = start + (w[2] === '=' ? 3 : 2);
        }
      } else {
        out.push({ range: range(ln, start, end), severity: DiagnosticSeverity.Error, source: SOURCE, message: `flux batch: directives take options only, not '${w}'` });
        continue;
      }
      if (opt.kind === 'flag') continue;
      if (value === undefined) {
        const next = ws[i + 1];
        if (!next) {
          out.push({ range: range(ln, start, end), severity: DiagnosticSeverity.Error, source: SOURCE, message: `flux batch: option '--${opt.long}' requires an argument` });
          continue;
        }
        value = next.w;
        vStart = next.start;
        vEnd = next.end;
        i++;
      }
      const bad = checkValue(opt, value);
      if (bad) out.push({ range: range(ln, vStart, vEnd), severity: bad.severity, source: SOURCE, message: bad.message });
    }
  }
  return out;
}

export function completeDirective(doc: TextDocument, pos: Position): CompletionItem[] {
  const lines = doc.getText().split('\n');
  if (!directiveLines(lines).includes(pos.line)) return [];
  const before = lines[pos.line].slice(0, pos.character);
  const m = DIRECTIVE.exec(before);
  if (!m) return [];
  const cur = /(\S*)$/.exec(before)?.[1] ?? '';
  const r = Range.create(pos.line, pos.character - cur.length, pos.line, pos.character);
  const prev = /(\S+)\s+\S*$/.exec(m[2])?.[1];
  if (prev === '-o' || prev === '--setopt')
    return [...new Set<string>(KNOWN_SHELL_OPTIONS)].map((k) => ({ label: k, kind: CompletionItemKind.Value, textEdit: TextEdit.replace(r, k) }));
  return BATCH_OPTIONS.map((o) => ({
    label: `--${o.long}`,
    kind: CompletionItemKind.Property,
    detail: o.short ? `-${o.short}` : undefined,
    documentation: o.doc,
    textEdit: TextEdit.replace(r, o.kind === 'flag' ? `--${o.long}` : `--${o.long}=`),
  }));
}
