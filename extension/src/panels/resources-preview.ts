/**
 * A placement preview's link to its jobspec document: the jobspec it holds now (YAML or JSON,
 * parsed as the language server and Submit parse it), again after each edit once typing pauses,
 * and the end of the preview when the document's last editor tab closes (or the document
 * itself). A jobspec that does not parse is a preview error (the parser's message), not a
 * notification: the user is in the middle of typing.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { jobspecJson } from '../lsp/jobspec-commands';

const DEBOUNCE_MS = 300;

/** A jobspec to preview, or a reason there is none yet (the document does not parse). */
export type PreviewInput = { jobspec: unknown; source: string } | { error: string; source: string };

export class PreviewSession implements vscode.Disposable {
  private readonly subs: vscode.Disposable[] = [];
  private timer: NodeJS.Timeout | undefined;
  readonly uri: string;
  readonly source: string;

  /** `update` gets the jobspec now and after each pause in editing; `ended` once the document is closed. */
  constructor(private readonly doc: vscode.TextDocument, private readonly update: (p: PreviewInput) => void, ended: () => void) {
    this.uri = doc.uri.toString();
    this.source = path.basename(doc.uri.path) || doc.uri.toString();
    this.subs.push(
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (e.document.uri.toString() !== this.uri) return;
        if (this.timer) clearTimeout(this.timer);
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.send();
        }, DEBOUNCE_MS);
      }),
      vscode.workspace.onDidCloseTextDocument((d) => {
        if (d.uri.toString() === this.uri) ended();
      }),
      // Closing the editor does not close the document at once (VS Code keeps it a while): the tabs say.
      vscode.window.tabGroups.onDidChangeTabs((e) => {
        if (e.closed.length > 0 && !this.shown()) ended();
      }),
    );
    this.send();
  }

  /** The jobspec as it is now (after a reconnect, for instance). */
  send(): void {
    try {
      this.update({ jobspec: jobspecJson(this.doc).value, source: this.source });
    } catch (e) {
      this.update({ error: e instanceof Error ? e.message : String(e), source: this.source });
    }
  }

  private shown(): boolean {
    return vscode.window.tabGroups.all.some((g) => g.tabs.some((t) => {
      const input = t.input;
      if (input instanceof vscode.TabInputText) return input.uri.toString() === this.uri;
      if (input instanceof vscode.TabInputTextDiff) return input.modified.toString() === this.uri || input.original.toString() === this.uri;
      return false;
    }));
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    for (const d of this.subs.splice(0)) d.dispose();
  }
}
