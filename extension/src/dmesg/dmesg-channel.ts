/**
 * "Flux: Show dmesg": every rank's log in one output channel (log highlighting), following new
 * lines; the output view's smart scrolling stops following when the user scrolls up and picks up
 * again at the bottom. Asked once each time: the whole history, or from now on.
 */
import * as vscode from 'vscode';
import type { InstanceManager } from '../instance/instance-manager';
import { DmesgFollower } from './dmesg-follower';

export class DmesgChannel implements vscode.Disposable {
  private channel: vscode.OutputChannel | undefined;
  private follower: DmesgFollower | undefined;
  private readonly sub: vscode.Disposable;

  constructor(private readonly instance: InstanceManager) {
    this.sub = instance.onDidChange((s) => {
      if (s !== 'running' && this.follower) {
        this.stop();
        this.channel?.appendLine('-- the instance is no longer running --');
      }
    });
  }

  /** The command: pick where to start, then show and follow. */
  async show(): Promise<void> {
    const uri = this.instance.state === 'running' ? this.instance.uri : undefined;
    if (!uri) {
      void vscode.window.showErrorMessage('No Flux instance is running (start one with "Flux: Start Local Instance" or attach to one)');
      return;
    }
    const pick = await vscode.window.showQuickPick(
      [
        { label: 'Whole history', description: 'every rank\'s log ring, merged in time order, then new lines', fromNow: false },
        { label: 'From now on', description: 'only lines logged from now', fromNow: true },
      ],
      { title: 'Flux: Show dmesg (all ranks)' },
    );
    if (!pick) return;
    this.stop();
    this.channel ??= vscode.window.createOutputChannel('Flux dmesg', 'log');
    const channel = this.channel;
    channel.clear();
    channel.show(true);
    const size = this.instance.instanceSize;
    const ranks = Array.from({ length: size }, (_, i) => i);
    const follower = new DmesgFollower(uri, ranks, {
      fromNow: pick.fromNow,
      line: (s) => channel.appendLine(s),
      problem: (rank, message) => channel.appendLine(`-- rank ${rank}: ${message} --`),
    });
    this.follower = follower;
    try {
      await follower.start();
    } catch (e) {
      void vscode.window.showErrorMessage(`flux dmesg: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private stop(): void {
    this.follower?.stop();
    this.follower = undefined;
  }

  dispose(): void {
    this.stop();
    this.sub.dispose();
    this.channel?.dispose();
  }
}
