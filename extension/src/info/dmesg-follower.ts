/**
 * `Flux: Show dmesg`: the log rings of every rank in one output channel, labelled by rank
 * (`[N]` in each line, as flux dmesg prints), following new lines as they are logged
 * (`log.dmesg {follow}` streamed from each rank, on a connection of its own that is closed when
 * following stops). The Output view follows the end until the user scrolls up, as it does for
 * any channel. "New messages only" skips the backlog (`nobacklog`).
 */
import * as vscode from 'vscode';
import { Flux } from '../../../broker/src/common/libflux/handle';
import { FLAG_STREAMING } from '../../../broker/src/common/libflux/message';
import type { InstanceManager } from '../instance/instance-manager';
import { formatLogLine } from './info-documents';

/** More ranks than this: only the first ones are followed (each is one stream). */
export const DMESG_MAX_RANKS = 64;
const KEEP_LINES = 5000;

export class DmesgFollower implements vscode.Disposable {
  private channel: vscode.OutputChannel | undefined;
  private h: Flux | undefined;
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

  /** Start following (again); resolves to the number of ranks followed once every stream is open. */
  async show(fromNow: boolean): Promise<number> {
    const uri = this.instance.uri;
    this.instance.requireFlux();
    if (!uri) throw new Error('no instance');
    this.stop();
    this.channel ??= vscode.window.createOutputChannel('Flux dmesg');
    this.channel.clear();
    this.lines.length = 0;
    this.channel.show(true);
    const h = await Flux.open(uri);
    this.h = h;
    const size = Math.min(this.instance.instanceSize, DMESG_MAX_RANKS);
    if (this.instance.instanceSize > size) this.append(`(following ranks 0-${size - 1} of ${this.instance.instanceSize})`);
    for (let rank = 0; rank < size; rank++) void this.follow(h, rank, fromNow);
    return size;
  }

  private append(line: string): void {
    this.channel?.appendLine(line);
    this.lines.push(line);
    if (this.lines.length > KEEP_LINES) this.lines.splice(0, this.lines.length - KEEP_LINES);
  }

  private async follow(h: Flux, rank: number, fromNow: boolean): Promise<void> {
    try {
      const rpc = h.rpc('log.dmesg', { follow: true, nobacklog: fromNow }, { nodeid: rank, flags: FLAG_STREAMING });
      for await (const m of rpc) {
        if (this.h !== h) return;
        const raw = m.payload ?? Buffer.alloc(0);
        const nul = raw.indexOf(0);
        this.append(formatLogLine(raw.toString('utf8', 0, nul < 0 ? raw.length : nul)));
      }
    } catch (e) {
      if (this.h === h && !h.isClosed) {
        this.append(`(rank ${rank}: ${e instanceof Error ? e.message : String(e)})`);
        this.log.warn(`log.dmesg on rank ${rank}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }

  stop(): void {
    const h = this.h;
    this.h = undefined;
    h?.close();
  }

  dispose(): void {
    this.stop();
    this.sub.dispose();
    this.channel?.dispose();
  }
}
