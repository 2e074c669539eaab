/**
 * The one place that decides when views refresh, each time for a named reason.
 * Today: instance state changes and manual refresh; later issues add events
 * and watches here, never in the views themselves.
 */
import * as vscode from 'vscode';
import type { InstanceManager } from '../instance/instance-manager';

export type RefreshReason = 'instance-state' | 'manual';

export interface Refreshable {
  invalidate(): void;
}

export class RefreshManager implements vscode.Disposable {
  private readonly subs: vscode.Disposable[] = [];

  constructor(instance: InstanceManager, private readonly views: Refreshable[], private readonly log: vscode.LogOutputChannel) {
    this.subs.push(instance.onDidChange(() => this.refresh('instance-state')));
  }

  refresh(reason: RefreshReason): void {
    this.log.trace(`refresh: ${reason}`);
    for (const v of this.views) v.invalidate();
  }

  dispose(): void {
    for (const s of this.subs) s.dispose();
  }
}
