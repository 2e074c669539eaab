/**
 * The one place that decides when views refresh, each time for a named reason:
 * instance state changes, manual refresh, the extension's own actions, and KVS
 * commits (flux's `kvs.namespace-NS-setroot` events, which the owner may subscribe
 * to; debounced) for the KVS and Archives views, and rank 0's streaming `overlay.health`
 * (subtree status changes) for the Brokers view. Views never refresh themselves.
 */
import * as vscode from 'vscode';
import type { Flux, Rpc } from '../../../broker/src/common/libflux/handle';
import { FLAG_STREAMING } from '../../../broker/src/common/libflux/message';
import type { InstanceManager } from '../instance/instance-manager';
import { errorText } from '../util/report';

export type RefreshReason = 'instance-state' | 'manual' | 'module-action' | 'kvs-action' | 'archive-action' | 'kvs-commit' | 'overlay-health' | 'job-events' | 'job-runtime';

export interface Refreshable {
  invalidate(): void;
}

export interface RefreshTargets {
  brokers: Refreshable & { invalidateModules(rank: number): void };
  kvs: Refreshable;
  archives: Refreshable;
  /** Open `flux-kvs:` documents are told their namespace changed. */
  kvsChanged?: (namespaces: string[]) => void;
  /** The Jobs view (tree, badge, status bar counts) and the job-manager journal it is read from. */
  jobs?: Refreshable & { onJournal: vscode.Event<void>; hasRunning(): boolean };
}

const KVS_EVENT = /^kvs\.namespace-(.+)-(setroot|removed|created)$/;

export class RefreshManager implements vscode.Disposable {
  private readonly subs: vscode.Disposable[] = [];
  private unEvent: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private pendingNs = new Set<string>();
  private healthRpc: Rpc | undefined;
  private healthTimer: NodeJS.Timeout | undefined;
  private jobsTimer: NodeJS.Timeout | undefined;
  private jobsTick: NodeJS.Timeout | undefined;
  /** How many KVS events were seen (tests and the log use it). */
  kvsEvents = 0;

  constructor(private readonly instance: InstanceManager, private readonly views: RefreshTargets, private readonly log: vscode.LogOutputChannel) {
    this.subs.push(instance.onDidChange((s) => {
      if (s === 'running') void this.watchEvents();
      else this.stopEvents();
      this.refresh('instance-state');
    }));
    // Journal entries (a job changed state) re-render the Jobs view at most every 150 ms.
    const jobs = views.jobs;
    if (jobs) {
      this.subs.push(jobs.onJournal(() => {
        this.jobsTimer ??= setTimeout(() => {
          this.jobsTimer = undefined;
          this.jobsRefresh('job-events');
        }, 150);
      }));
    }
  }

  /** Re-render the Jobs view; while jobs run, again every second (their runtimes), no RPC involved. */
  private jobsRefresh(reason: RefreshReason): void {
    const jobs = this.views.jobs;
    if (!jobs) return;
    this.log.trace(`refresh: ${reason}`);
    jobs.invalidate();
    if (this.jobsTick) clearTimeout(this.jobsTick);
    this.jobsTick = jobs.hasRunning() ? setTimeout(() => this.jobsRefresh('job-runtime'), 1000) : undefined;
  }

  refresh(reason: RefreshReason): void {
    this.log.trace(`refresh: ${reason}`);
    for (const v of [this.views.brokers, this.views.kvs, this.views.archives]) v.invalidate();
    this.views.jobs?.invalidate();
  }

  /** After a module was loaded or removed on `rank`. */
  moduleChanged(rank: number): void {
    this.log.trace(`refresh: module-action on rank ${rank}`);
    this.views.brokers.invalidateModules(rank);
  }

  /** After the extension itself committed to the KVS (the event will follow; do not wait for it). */
  kvsChanged(reason: 'kvs-action' | 'archive-action'): void {
    this.log.trace(`refresh: ${reason}`);
    this.views.kvs.invalidate();
    this.views.archives.invalidate();
  }

  /** Rank 0's `overlay.health` stream: a new answer whenever a subtree's status changes (a rank lost, back, offline). */
  private async watchHealth(h: Flux): Promise<void> {
    const rpc = h.rpc('overlay.health', {}, { nodeid: 0, flags: FLAG_STREAMING });
    this.healthRpc = rpc;
    let first = true;
    try {
      for await (const _m of rpc) {
        if (first) {
          first = false;
          continue;
        }
        this.healthTimer ??= setTimeout(() => {
          this.healthTimer = undefined;
          this.log.trace('refresh: overlay-health');
          this.views.brokers.invalidate();
        }, 200);
      }
    } catch {
      // the connection went away, or the broker does not stream health: the view refreshes on actions
    }
  }

  private async watchEvents(): Promise<void> {
    const h = this.instance.flux;
    if (!h) return;
    this.stopEvents();
    void this.watchHealth(h);
    this.unEvent = h.onEvent((m) => {
      const match = KVS_EVENT.exec(m.topic ?? '');
      if (!match) return;
      this.kvsEvents++;
      this.pendingNs.add(match[1]);
      this.timer ??= setTimeout(() => this.flushKvs(), 250);
    });
    try {
      await h.subscribe('kvs.namespace-');
    } catch (e) {
      // A non-owner may not see private events: the views then refresh on actions and by hand.
      this.log.warn(`event.subscribe kvs.namespace-: ${errorText(e)}`);
    }
  }

  private flushKvs(): void {
    this.timer = undefined;
    const ns = [...this.pendingNs];
    this.pendingNs.clear();
    this.log.trace(`refresh: kvs-commit (${ns.join(',')})`);
    this.views.kvs.invalidate();
    if (ns.includes('primary')) this.views.archives.invalidate();
    this.views.kvsChanged?.(ns);
  }

  private stopEvents(): void {
    this.healthRpc?.cancelLocal();
    this.healthRpc = undefined;
    if (this.healthTimer) clearTimeout(this.healthTimer);
    this.healthTimer = undefined;
    this.unEvent?.();
    this.unEvent = undefined;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.pendingNs.clear();
  }

  dispose(): void {
    this.stopEvents();
    if (this.jobsTimer) clearTimeout(this.jobsTimer);
    if (this.jobsTick) clearTimeout(this.jobsTick);
    for (const s of this.subs) s.dispose();
  }
}
