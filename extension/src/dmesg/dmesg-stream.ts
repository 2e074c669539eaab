/**
 * "Flux: Show dmesg": the log rings of every rank as one log, labelled by rank (flux dmesg
 * prints one rank's). Each rank's `log.dmesg` is followed without backlog first, then the
 * backlogs are read and merged in time order, then what arrived meanwhile follows (lines seen
 * in a backlog are not repeated), so nothing logged during start-up is lost or doubled. A rank
 * that goes away ends its stream; the others go on. The follower has a connection of its own, so
 * that stopping it (closing that connection) ends every stream on the brokers too. No `vscode`
 * here (tested on real ranks).
 */
import { Flux } from '../../../broker/src/common/libflux/handle';
import { FLAG_STREAMING } from '../../../broker/src/common/libflux/message';
import { DmesgPrinter } from '../../../broker/src/cmd/dmesg';
import { decode, parseTimestamp } from '../../../broker/src/common/libutil/stdlog';

function text(payload: Buffer | undefined): string {
  const raw = payload ?? Buffer.alloc(0);
  const nul = raw.indexOf(0);
  return raw.toString('utf8', 0, nul < 0 ? raw.length : nul);
}

function timeOf(line: string): number {
  const e = decode(line);
  const t = e ? parseTimestamp(e.timestamp) : undefined;
  return t ? t.sec * 1e6 + t.usec : 0;
}

export interface DmesgStreamOptions {
  /** Start from now (no history). */
  fromNow: boolean;
  /** One formatted line (no newline). */
  line(s: string): void;
  /** A rank's log could not be read (or stopped): said once per rank. */
  problem(rank: number, message: string): void;
}

export class DmesgStream {
  private stopped = false;
  private h: Flux | undefined;
  private readonly printer = new DmesgPrinter(false, false, false);

  constructor(private readonly uri: string, private readonly ranks: number[], private readonly opts: DmesgStreamOptions) {}

  async start(): Promise<void> {
    const h = await Flux.open(this.uri);
    this.h = h;
    const live: string[][] = this.ranks.map(() => []);
    let backlogDone = this.opts.fromNow;
    const emit = (raw: string): void => {
      if (!this.stopped) this.opts.line(this.printer.format(raw));
    };
    this.ranks.forEach((rank, i) => {
      const rpc = h.rpc('log.dmesg', { follow: true, nobacklog: true }, { nodeid: rank, flags: FLAG_STREAMING });
      void (async () => {
        try {
          for await (const m of rpc) {
            const raw = text(m.payload);
            if (backlogDone) emit(raw);
            else live[i].push(raw);
          }
        } catch (e) {
          if (!this.stopped) this.opts.problem(rank, e instanceof Error ? e.message : String(e));
        }
      })();
    });
    if (this.opts.fromNow) return;
    const backlogs = await Promise.all(this.ranks.map((rank) => this.backlog(h, rank)));
    const merged = backlogs.flat().sort((a, b) => a.t - b.t || a.seq - b.seq);
    for (const l of merged) emit(l.raw);
    const seen = new Set(merged.map((l) => l.raw));
    backlogDone = true;
    for (const lines of live) for (const raw of lines) if (!seen.has(raw)) emit(raw);
  }

  stop(): void {
    this.stopped = true;
    this.h?.close();
    this.h = undefined;
  }

  private async backlog(h: Flux, rank: number): Promise<{ raw: string; t: number; seq: number }[]> {
    const out: { raw: string; t: number; seq: number }[] = [];
    try {
      for await (const m of h.rpc('log.dmesg', { follow: false, nobacklog: false }, { nodeid: rank, flags: FLAG_STREAMING })) {
        const raw = text(m.payload);
        out.push({ raw, t: timeOf(raw), seq: out.length });
      }
    } catch (e) {
      this.opts.problem(rank, e instanceof Error ? e.message : String(e));
    }
    return out;
  }
}
