/** The status bar item with the instance's pending and running job counts; a click shows the Jobs view. */
import * as vscode from 'vscode';
import type { InstanceManager } from '../instance/instance-manager';
import type { JobsJournal } from './jobs-journal';

export class JobsStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('flux.jobs', vscode.StatusBarAlignment.Left, 49);

  constructor(private readonly instance: InstanceManager, private readonly journal: JobsJournal) {
    this.item.name = 'Flux jobs';
    this.item.command = 'flux.views.jobs.focus';
    this.render();
  }

  private visible = false;

  /** The text shown, '' while hidden (tests read it). */
  get text(): string {
    return this.visible ? this.item.text : '';
  }

  /** Called with the Jobs view's refreshes (RefreshManager). */
  render(): void {
    if (this.instance.state !== 'running' || !this.journal.ready) {
      this.item.hide();
      this.visible = false;
      return;
    }
    const c = this.journal.counts();
    this.item.text = `$(checklist) ${c.pending} pending · ${c.running} running`;
    this.item.tooltip = `Flux jobs: ${c.pending} pending, ${c.running} running, ${c.inactive} inactive. Click to show the Jobs view.`;
    this.item.show();
    this.visible = true;
  }

  dispose(): void {
    this.item.dispose();
  }
}
