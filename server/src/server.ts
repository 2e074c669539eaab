/**
 * The jobspec language server on a connection (IPC from VS Code, or an in-memory pair in tests).
 *
 * Besides the standard requests it asks the client `flux/feasibility {uri, jobspec}` for a valid
 * jobspec: the client answers from the attached instance's `feasibility.check`
 * (`{state: 'ok' | 'infeasible' | 'unknown', message?}`); 'infeasible' becomes a warning on
 * `resources`. The client sends `flux/instanceChanged` when an instance comes or goes.
 */
import {
  DiagnosticSeverity,
  TextDocuments,
  TextDocumentSyncKind,
  type Connection,
  type Diagnostic,
  type InitializeResult,
} from 'vscode-languageserver';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { completeDirective, diagnoseDirectives } from './directives';
import { rangeForPath } from './jobspec-doc';
import { codeLenses, definition, folding, format, symbols } from './jobspec-outline';
import { codeActions } from './jobspec-quick-fixes';
import { complete, diagnose, hover, JobspecDocument, SOURCE } from './jobspec-service';

export interface FeasibilityAnswer {
  state: 'ok' | 'infeasible' | 'unknown';
  message?: string;
}

export const FEASIBILITY_REQUEST = 'flux/feasibility';
export const INSTANCE_CHANGED = 'flux/instanceChanged';

export function startServer(connection: Connection): void {
  const documents = new TextDocuments(TextDocument);
  const jobspecs = new Map<string, JobspecDocument>();
  let clientFeasibility = false;
  /** jobspec JSON -> answer, cleared when the instance changes. */
  const feasible = new Map<string, FeasibilityAnswer>();
  const timers = new Map<string, NodeJS.Timeout>();

  /** Shell scripts are served for their `# flux:` directives only. */
  const isScript = (uri: string): boolean => {
    const d = documents.get(uri);
    return d !== undefined && d.languageId === 'shellscript';
  };

  const jd = (uri: string): JobspecDocument | undefined => {
    const d = documents.get(uri);
    if (!d || d.languageId === 'shellscript') return undefined;
    let j = jobspecs.get(uri);
    if (!j) jobspecs.set(uri, (j = new JobspecDocument(d)));
    j.doc = d;
    return j;
  };

  const feasibilityDiagnostic = (j: JobspecDocument, a: FeasibilityAnswer | undefined): Diagnostic | undefined => {
    if (!a || a.state !== 'infeasible') return undefined;
    const [s, e] = rangeForPath(j.parsed, ['resources'], 'key');
    return { range: j.range(s, e), severity: DiagnosticSeverity.Warning, source: SOURCE, code: 'feasibility', message: `the attached instance cannot satisfy this request: ${a.message ?? 'unsatisfiable'}` };
  };

  const publish = (uri: string): void => {
    const script = documents.get(uri);
    if (script && isScript(uri)) {
      void connection.sendDiagnostics({ uri, version: script.version, diagnostics: diagnoseDirectives(script) });
      return;
    }
    const j = jd(uri);
    if (!j) return;
    const diags = diagnose(j);
    const valid = !diags.some((d) => d.severity === DiagnosticSeverity.Error);
    let key: string | undefined;
    if (valid && clientFeasibility) {
      key = JSON.stringify(j.parsed.value);
      const f = feasibilityDiagnostic(j, feasible.get(key));
      if (f) diags.push(f);
    }
    void connection.sendDiagnostics({ uri, version: j.doc.version, diagnostics: diags });
    if (key !== undefined && !feasible.has(key)) scheduleFeasibility(uri, key, j.parsed.value);
  };

  const scheduleFeasibility = (uri: string, key: string, jobspec: unknown): void => {
    clearTimeout(timers.get(uri));
    timers.set(uri, setTimeout(() => {
      timers.delete(uri);
      connection.sendRequest<FeasibilityAnswer>(FEASIBILITY_REQUEST, { uri, jobspec }).then((a) => {
        feasible.set(key, a);
        publish(uri);
      }, () => feasible.set(key, { state: 'unknown' }));
    }, 300));
  };

  connection.onInitialize((params): InitializeResult => {
    const exp = params.capabilities.experimental as { fluxFeasibility?: boolean } | undefined;
    clientFeasibility = exp?.fluxFeasibility === true;
    return {
      capabilities: {
        textDocumentSync: TextDocumentSyncKind.Incremental,
        completionProvider: { triggerCharacters: [' ', ':', '"', '-', '['] },
        hoverProvider: true,
        codeActionProvider: { codeActionKinds: ['quickfix'] },
        documentSymbolProvider: true,
        foldingRangeProvider: true,
        documentFormattingProvider: true,
        definitionProvider: true,
        codeLensProvider: { resolveProvider: false },
      },
      serverInfo: { name: 'flux-jobspec', version: '0.1.0' },
    };
  });

  // Changes that arrive together (fast typing in a big file) are validated once, for the last one.
  const pending = new Set<string>();
  documents.onDidChangeContent((e) => {
    if (pending.has(e.document.uri)) return;
    pending.add(e.document.uri);
    setImmediate(() => {
      pending.delete(e.document.uri);
      publish(e.document.uri);
    });
  });
  documents.onDidClose((e) => {
    jobspecs.delete(e.document.uri);
    clearTimeout(timers.get(e.document.uri));
    void connection.sendDiagnostics({ uri: e.document.uri, diagnostics: [] });
  });
  connection.onNotification(INSTANCE_CHANGED, () => {
    feasible.clear();
    for (const d of documents.all()) publish(d.uri);
  });

  connection.onCompletion((p) => {
    const script = documents.get(p.textDocument.uri);
    if (script && isScript(p.textDocument.uri)) return completeDirective(script, p.position);
    const j = jd(p.textDocument.uri);
    return j ? complete(j, p.position) : [];
  });
  connection.onHover((p) => {
    const j = jd(p.textDocument.uri);
    return (j && hover(j, p.position)) ?? null;
  });
  connection.onCodeAction((p) => {
    const j = jd(p.textDocument.uri);
    return j ? codeActions(j, p.context.diagnostics) : [];
  });
  connection.onDocumentSymbol((p) => {
    const j = jd(p.textDocument.uri);
    return j ? symbols(j) : [];
  });
  connection.onFoldingRanges((p) => {
    const j = jd(p.textDocument.uri);
    return j ? folding(j) : [];
  });
  connection.onDocumentFormatting((p) => {
    const j = jd(p.textDocument.uri);
    return j ? format(j, p.options.tabSize) : [];
  });
  connection.onDefinition((p) => {
    const j = jd(p.textDocument.uri);
    return (j && definition(j, p.position)) ?? null;
  });
  connection.onCodeLens((p) => {
    const j = jd(p.textDocument.uri);
    return j ? codeLenses(j) : [];
  });

  documents.listen(connection);
  connection.listen();
}
