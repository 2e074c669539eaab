/**
 * `Flux: Show dmesg`: the log rings of every rank in one output channel, labelled by rank
 * (`[N]` in each line, as flux dmesg prints): the history of every rank merged in time order,
 * then new lines as they are logged (dmesg-stream.ts, on a connection of its own that is closed
 * when following stops). The Output view follows the end until the user scrolls up, as it does
 * for any channel. "New messages only" skips the history.
 */
import * as vscode from 'vscode';
import { DmesgStream } from '../dmesg/dmesg-stream';
import type { InstanceManager } from '../instance/instance-manager';

/** More ranks than this: only the first ones are followed (each is one stream). */
export const DMESG_MAX_RANKS = 64;
const KEEP_LINES = 5000;

export class DmesgFollower implements vscode.Disposable {
  private channel: vscode.OutputChannel | undefined;
  private stream: DmesgStream | undefined;
  private readonly lines: string[] = [];
  private readonly sub: vscode.Disposable;

  constructor(private readonly instance: InstanceManager, private readonly log: vscode.LogOutputChannel) {
    this.sub = instance.onDidChange((s) => {
      if (s !== 'running') this.stop();
    });
  }

  /** What the channel holds (the last few thousand lines). */
  text(): string {
    return this.lines.join('\n');
  }

  /** Start following (again); resolves to the number of ranks followed once the history is shown. */
  async show(fromNow: boolean): Promise<number> {
    const uri = this.instance.uri;
    this.instance.requireFlux();
    if (!uri) throw new Error('no instance');
    this.stop();
    this.channel ??= vscode.window.createOutputChannel('Flux dmesg', 'log');
    this.channel.clear();
    this.lines.length = 0;
    this.channel.show(true);
    const size = Math.min(this.instance.instanceSize, DMESG_MAX_RANKS);
    if (this.instance.instanceSize > size) this.append(`(following ranks 0-${size - 1} of ${this.instance.instanceSize})`);
    const stream = new DmesgStream(uri, Array.from({ length: size }, (_, r) => r), {
      fromNow,
      line: (s) => this.append(s),
      problem: (rank, message) => {
        this.append(`(rank ${rank}: ${message})`);
        this.log.warn(`log.dmesg on rank ${rank}: ${message}`);
      },
    });
    this.stream = stream;
    await stream.start();
    return size;
  }

  private append(line: string): void {
    this.channel?.appendLine(line);
    this.lines.push(line);
    if (this.lines.length > KEEP_LINES) this.lines.splice(0, this.lines.length - KEEP_LINES);
  }

  stop(): void {
    this.stream?.stop();
    this.stream = undefined;
  }

  dispose(): void {
    this.stop();
    this.sub.dispose();
    this.channel?.dispose();
  }
}
