/**
 * Following one job's output or eventlog, as `flux job attach` / `flux job eventlog -f` do,
 * through job-info (flux-core 0.88's `job-info.eventlog-watch {id,path}` and `job-info.lookup`).
 * Each follower has a connection of its own: closing it ends the watches on the broker too
 * (0.88's job-info has no cancel for them). No `vscode` import.
 */
import { Flux } from '../../../broker/src/common/libflux/handle';
import { FLAG_STREAMING } from '../../../broker/src/common/libflux/message';
import type { JobId } from '../../../broker/src/common/libjob/jobid';
import { idJson, jsonPayload, payloadJson } from '../../../broker/src/common/libjob/rpc-json';
import { decodeEvent, formatEventText, waitStatusExitCode, type JobEvent } from '../../../broker/src/common/libjob/states';
import { ioData, type IoObject } from '../../../broker/src/common/libsubprocess/ioencode';

export type FollowKind = 'output' | 'eventlog';

/** The text of a job's guest.output entries (RFC 24 `data` entries, stdout and stderr in order). */
export function outputText(lines: string[]): string {
  let out = '';
  for (const line of lines) {
    const ev = decodeEvent(line);
    if (!ev || ev.name !== 'data' || !ev.context) continue;
    out += ioData(ev.context as unknown as IoObject).toString('utf8');
  }
  return out;
}

/** What `flux job attach` prints after the output: exceptions and a non-zero exit. */
export function attachTrailer(events: JobEvent[]): string {
  const t0 = events[0]?.timestamp ?? 0;
  let s = '';
  for (const ev of events) {
    const c = ev.context ?? {};
    if (ev.name === 'exception') {
      const sev = typeof c.severity === 'number' ? c.severity : 0;
      s += `${`${(ev.timestamp - t0).toFixed(3)}s: job.exception type=${String(c.type)} severity=${sev} ${typeof c.note === 'string' ? c.note : ''}`.trimEnd()}\n`;
    } else if (ev.name === 'finish' && typeof c.status === 'number' && c.status !== 0) {
      const sig = c.status & 0x7f;
      s += sig ? `flux-job: task(s) terminated by signal ${sig}\n` : `flux-job: task(s) exited with exit code ${waitStatusExitCode(c.status)}\n`;
    }
  }
  return s;
}

export class JobFollower {
  private h: Flux | undefined;
  private stopped = false;
  private readonly outLines: string[] = [];
  private readonly events: JobEvent[] = [];
  private _done = false;
  private finalOutput: string | undefined;
  readonly finished: Promise<void>;
  private resolveFinished!: () => void;

  constructor(private readonly uri: string, readonly id: JobId, readonly kind: FollowKind, private readonly changed: () => void) {
    this.finished = new Promise((r) => (this.resolveFinished = r));
  }

  /** True once the job is inactive and everything is read. */
  get done(): boolean {
    return this._done;
  }

  text(): string {
    if (this.kind === 'eventlog') return this.events.map((e) => formatEventText(e) + '\n').join('');
    return (this.finalOutput ?? outputText(this.outLines)) + (this._done ? attachTrailer(this.events) : '');
  }

  async start(): Promise<void> {
    const h = await Flux.open(this.uri);
    if (this.stopped) {
      h.close();
      return;
    }
    this.h = h;
    const output = this.kind === 'output' ? this.watch(h, 'guest.output', (line) => this.outLines.push(line)).catch(() => undefined) : undefined;
    try {
      await this.watch(h, 'eventlog', (line) => {
        const ev = decodeEvent(line);
        if (ev) this.events.push(ev);
      });
      if (this.kind === 'output') {
        // the output watch may lag the eventlog's: the whole output, read once the job is clean
        const r = payloadJson<Record<string, unknown>>(await h.rpc('job-info.lookup', jsonPayload({ id: idJson(this.id), keys: ['guest.output'], flags: 0 })).response());
        if (typeof r['guest.output'] === 'string') this.finalOutput = outputText(r['guest.output'].split('\n').filter((l) => l !== ''));
      }
    } catch (e) {
      // no output at all (a job that never ran), or the follower was stopped
      if (!this.stopped && this.kind === 'output' && this.outLines.length === 0 && this.events.length === 0) throw e;
    } finally {
      this._done = true;
      this.changed();
      this.stop();
      void output;
      this.resolveFinished();
    }
  }

  /** job-info.eventlog-watch on `path`; resolves at ENODATA (the main eventlog ends after `clean`). */
  private async watch(h: Flux, path: string, line: (l: string) => void): Promise<void> {
    const rpc = h.rpc('job-info.eventlog-watch', jsonPayload({ id: idJson(this.id), path, flags: 0 }), { nodeid: 0, flags: FLAG_STREAMING });
    for await (const m of rpc) {
      const r = payloadJson<{ event?: unknown }>(m);
      if (typeof r.event === 'string') {
        line(r.event);
        this.changed();
      }
    }
  }

  stop(): void {
    this.stopped = true;
    this.h?.close();
    this.h = undefined;
  }
}
