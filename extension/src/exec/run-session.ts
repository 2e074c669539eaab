/**
 * "Flux: Run on Ranks…": one command on a set of ranks, as `flux exec -l` runs it — output
 * labelled `RANK: ` line by line as it streams in (stderr in the terminal's warning colour),
 * input typed in the terminal broadcast to every rank's stdin, Ctrl-C forwarded as SIGINT,
 * Ctrl-D as end of input — and flux exec's summary at the end (`[1-3]: Exit 2`, the exit code
 * the largest remote code, 128+signal, 126/127 for launch failures). No `vscode` here: the
 * Pseudoterminal around it is run-terminal.ts, and the integration tests drive this directly.
 */
import type { Flux } from '../../../broker/src/common/libflux/handle';
import { decodeIdset } from '../../../broker/src/common/libidset/idset';
import { RemoteProcess } from '../../../broker/src/common/libsubprocess/remote';
import { ExitSummary, encodeIdsetBrackets } from '../../../broker/src/cmd/exec-summary';

const SIGINT = 2;
const STDERR_ON = '\x1b[33m';
const STYLE_OFF = '\x1b[0m';

/** "all", or an RFC 22 idset within the instance's size; throws with a message for the input box. */
export function parseRanks(text: string, size: number): number[] {
  const s = text.trim();
  if (s === '' || s === 'all') return Array.from({ length: size }, (_, i) => i);
  let ranks: number[];
  try {
    ranks = decodeIdset(s);
  } catch {
    throw new Error(`'${s}' is not an idset (examples: all, 0, 1-3, 0,2-5)`);
  }
  const bad = ranks.filter((r) => r >= size);
  if (bad.length > 0) throw new Error(`rank ${bad[0]} is not in this instance (ranks 0-${size - 1})`);
  if (ranks.length === 0) throw new Error('no ranks given');
  return ranks;
}

export interface RunResult {
  /** flux exec's exit code. */
  code: number;
  /** flux exec's summary lines (`[1-3]: Exit 2`), and errors of ranks that could not run it. */
  summary: string[];
}

export class RunSession {
  private readonly procs: RemoteProcess[] = [];
  private readonly lineStart = new Map<string, boolean>();
  private readonly failures: string[] = [];

  constructor(
    private readonly h: Flux,
    private readonly ranks: number[],
    private readonly commandLine: string,
    private readonly opts: { cwd?: string; env: Record<string, string>; write(text: string): void },
  ) {}

  /** Run it everywhere; resolves when every rank is done. */
  async run(): Promise<RunResult> {
    const summary = new ExitSummary();
    const argv0 = this.commandLine.trim().split(/\s+/)[0] ?? 'sh';
    const cmd = { cmdline: ['sh', '-c', this.commandLine], env: this.opts.env, cwd: this.opts.cwd };
    for (const rank of this.ranks) {
      this.procs.push(new RemoteProcess(this.h, rank, cmd, { output: (stream, data) => this.output(rank, stream, data) }));
    }
    const ends = await Promise.all(this.procs.map((p) => p.done));
    ends.forEach((end, i) => {
      const rank = this.ranks[i];
      if ('status' in end) summary.completed(rank, end.status);
      else {
        summary.failed(end.errnum);
        this.failures.push(`flux-exec: Error: rank ${rank}: ${argv0}: ${end.error}`);
      }
    });
    return { code: summary.code, summary: [...this.failures, ...summary.lines()] };
  }

  /** Keys typed in the terminal: Ctrl-C interrupts, Ctrl-D ends input, the rest goes to stdin. */
  input(data: string): void {
    for (const ch of data) {
      if (ch === '\x03') this.interrupt();
      else if (ch === '\x04') for (const p of this.procs) p.write(undefined, true);
      else for (const p of this.procs) p.write(Buffer.from(ch === '\r' ? '\n' : ch, 'utf8'));
    }
  }

  interrupt(): void {
    for (const p of this.procs) p.kill(SIGINT).catch(() => undefined);
  }

  private output(rank: number, stream: 'stdout' | 'stderr', data: Buffer): void {
    const key = `${rank}:${stream}`;
    let text = '';
    const s = data.toString('utf8');
    let start = 0;
    while (start < s.length) {
      if (this.lineStart.get(key) !== false) text += `${rank}: `;
      const nl = s.indexOf('\n', start);
      const end = nl < 0 ? s.length : nl + 1;
      text += s.slice(start, nl < 0 ? end : nl);
      if (nl >= 0) text += '\r\n';
      this.lineStart.set(key, nl >= 0);
      start = end;
    }
    this.opts.write(stream === 'stderr' ? `${STDERR_ON}${text}${STYLE_OFF}` : text);
  }
}

/** The summary as flux exec prints it, plus where it ended. */
export function closingText(r: RunResult, ranks: number[]): string {
  const lines = [...r.summary, `Finished on ${encodeIdsetBrackets(ranks)} with exit code ${r.code}.`];
  return lines.map((l) => `${l}\r\n`).join('');
}
