/**
 * Read-only documents of one job, under the `flux-job:` scheme:
 *   flux-job:/ƒID.output    — its output (guest.output), followed while the job runs, as `flux job attach`
 *   flux-job:/ƒID.eventlog  — its eventlog as `flux job eventlog` prints it, followed to the end
 * A follower stops when its document is closed or the job is inactive; opening it again re-reads.
 */
import * as vscode from 'vscode';
import { encodeF58, parseJobId, type JobId } from '../../../broker/src/common/libjob/jobid';
import type { InstanceManager } from '../instance/instance-manager';
import { errorText } from '../util/report';
import { JobFollower, type FollowKind } from './job-follow';

export const JOB_SCHEME = 'flux-job';

export function jobUri(id: JobId, kind: FollowKind): vscode.Uri {
  return vscode.Uri.from({ scheme: JOB_SCHEME, path: `/${encodeF58(id)}.${kind}` });
}

export function parseJobUri(uri: vscode.Uri): { id: JobId; kind: FollowKind } {
  const m = /^\/(.+)\.(output|eventlog)$/.exec(uri.path);
  if (!m) throw new Error(`${uri.toString()}: no such Flux job document`);
  return { id: parseJobId(m[1]), kind: m[2] as FollowKind };
}

export class JobDocuments implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  private readonly followers = new Map<string, JobFollower>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly subs: vscode.Disposable[] = [];

  constructor(private readonly instance: InstanceManager, private readonly log: vscode.LogOutputChannel) {
    this.subs.push(
      vscode.workspace.onDidCloseTextDocument((d) => {
        if (d.uri.scheme === JOB_SCHEME) this.drop(d.uri.toString());
      }),
      instance.onDidChange((s) => {
        if (s !== 'running') for (const k of [...this.followers.keys()]) this.drop(k);
      }),
    );
  }

  /** The follower behind an open document (tests wait on it). */
  follower(uri: vscode.Uri): JobFollower | undefined {
    return this.followers.get(uri.toString());
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    const key = uri.toString();
    const existing = this.followers.get(key);
    if (existing) return existing.text();
    const { id, kind } = parseJobUri(uri);
    this.instance.requireFlux();
    const flux = this.instance.uri;
    if (!flux) throw new Error('no instance');
    const f = new JobFollower(flux, id, kind, () => this.fire(uri));
    this.followers.set(key, f);
    f.start().catch((e: unknown) => {
      this.log.error(`${encodeF58(id)} ${kind}: ${errorText(e)}`);
      void vscode.window.showErrorMessage(`Flux: ${encodeF58(id)} ${kind}: ${errorText(e)}`, 'Show Log').then((a) => {
        if (a === 'Show Log') this.log.show();
      });
    });
    return f.text();
  }

  /** Changes are sent at most every 100 ms (a chatty job does not re-render per line). */
  private fire(uri: vscode.Uri): void {
    const key = uri.toString();
    if (this.timers.has(key)) return;
    this.timers.set(key, setTimeout(() => {
      this.timers.delete(key);
      this.changed.fire(uri);
    }, 100));
  }

  /** Open (or re-read, when already open) a job's document; resolves to it. */
  async open(id: JobId, kind: FollowKind, preserveFocus = false): Promise<vscode.TextDocument> {
    const uri = jobUri(id, kind);
    const key = uri.toString();
    const old = this.followers.get(key);
    if (old && !old.done) {
      // still following: just show it
    } else if (old) {
      this.drop(key);
      this.changed.fire(uri);
    }
    const doc = await vscode.workspace.openTextDocument(uri);
    await vscode.window.showTextDocument(doc, { preview: false, preserveFocus });
    return doc;
  }

  private drop(key: string): void {
    this.followers.get(key)?.stop();
    this.followers.delete(key);
    const t = this.timers.get(key);
    if (t) clearTimeout(t);
    this.timers.delete(key);
  }

  dispose(): void {
    for (const k of [...this.followers.keys()]) this.drop(k);
    for (const s of this.subs) s.dispose();
    this.changed.dispose();
  }
}
