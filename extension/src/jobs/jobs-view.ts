/**
 * The Jobs part of the extension in one place: the journal (started with the instance), the
 * tree view with its badge (running jobs), the status bar counts and the job documents.
 * `invalidate()` is what the RefreshManager calls; `onJournal` is what it listens to.
 */
import * as vscode from 'vscode';
import type { InstanceManager } from '../instance/instance-manager';
import { errorText } from '../util/report';
import { JOB_SCHEME, JobDocuments } from './job-documents';
import { JobsJournal } from './jobs-journal';
import { JobsStatusBar } from './jobs-status';
import { JobsTree, type JobsElement } from './jobs-tree';

export class JobsView implements vscode.Disposable {
  readonly journal = new JobsJournal();
  readonly tree: JobsTree;
  readonly documents: JobDocuments;
  readonly view: vscode.TreeView<JobsElement>;
  private readonly status: JobsStatusBar;
  private readonly journalChanged = new vscode.EventEmitter<void>();
  /** Fired (not debounced) when journal entries arrived. */
  readonly onJournal = this.journalChanged.event;
  private readonly subs: vscode.Disposable[] = [];

  constructor(private readonly instance: InstanceManager, private readonly log: vscode.LogOutputChannel) {
    this.tree = new JobsTree(instance, this.journal);
    this.documents = new JobDocuments(instance, log);
    this.status = new JobsStatusBar(instance, this.journal);
    this.view = vscode.window.createTreeView('flux.views.jobs', { treeDataProvider: this.tree, canSelectMany: true, showCollapseAll: true });
    const off = this.journal.onChange(() => this.journalChanged.fire());
    this.subs.push(
      { dispose: off },
      this.view,
      this.status,
      this.documents,
      this.journalChanged,
      vscode.workspace.registerTextDocumentContentProvider(JOB_SCHEME, this.documents),
      instance.onDidChange((s) => {
        if (s === 'running') this.follow();
        else this.journal.clear();
      }),
    );
    if (instance.state === 'running') this.follow();
  }

  private follow(): void {
    const h = this.instance.flux;
    if (!h) return;
    void this.journal.start(h).then(() => {
      if (this.journal.error && this.instance.state === 'running') this.log.warn(`job-manager.events-journal: ${this.journal.error}`);
    }, (e: unknown) => this.log.warn(`job-manager.events-journal: ${errorText(e)}`));
  }

  /** Re-render the tree, the badge and the status bar (the RefreshManager decides when). */
  invalidate(): void {
    this.tree.invalidate();
    const running = this.instance.state === 'running' ? this.journal.counts().running : 0;
    this.view.badge = running > 0 ? { value: running, tooltip: `${running} running job${running === 1 ? '' : 's'}` } : undefined;
    this.status.render();
  }

  /** Whether some job runs (its runtime in the view goes on). */
  hasRunning(): boolean {
    return this.instance.state === 'running' && this.journal.counts().running > 0;
  }

  /** The status bar text ('' when hidden). */
  get statusText(): string {
    return this.status.text;
  }

  dispose(): void {
    for (const s of this.subs) s.dispose();
  }
}
