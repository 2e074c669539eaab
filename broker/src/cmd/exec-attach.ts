/**
 * `flux exec --attach=PID|LABEL`: follow a background process on each target
 * rank (its output, then its exit status), forwarding SIGINT/SIGTERM to it.
 */
import * as os from 'node:os';
import { errno, FluxError } from '../common/libflux/errno';
import type { Flux } from '../common/libflux/handle';
import { FLAG_STREAMING, getJson } from '../common/libflux/message';
import { Exit, errln } from './cli';
import { ExitSummary } from './exec-summary';
import { ioData, type IoObject } from '../common/libsubprocess/ioencode';

const PROG = 'flux-exec';
const REXEC_STDOUT = 1;
const REXEC_STDERR = 2;

/** `--attach PID|LABEL`: follow background processes started with --bg. */
export async function attach(h: Flux, service: string, ranks: number[], what: string, opt: { labelIo: boolean; quiet: boolean; verbose: boolean }): Promise<void> {
  const pid = /^\d+$/.test(what) ? Number(what) : 0;
  const payload: Record<string, unknown> = { pid, flags: REXEC_STDOUT | REXEC_STDERR };
  if (!/^\d+$/.test(what)) payload.label = what;
  const summary = new ExitSummary();
  const running = new Map<number, number>();
  const onSignal = (signame: 'SIGINT' | 'SIGTERM'): void => {
    const signum = os.constants.signals[signame];
    for (const [rank, p] of running) h.rpc(`${service}.kill`, { pid: p, signum }, { nodeid: rank }).response().catch(() => {});
  };
  const onInt = (): void => onSignal('SIGINT');
  const onTerm = (): void => onSignal('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  await Promise.all(ranks.map(async (rank) => {
    const lineStart: Record<string, boolean> = { stdout: true, stderr: true };
    let status: number | undefined;
    try {
      for await (const m of h.rpc(`${service}.attach`, payload, { nodeid: rank, flags: FLAG_STREAMING })) {
        const r = getJson<{ type?: unknown; pid?: unknown; status?: unknown; io?: IoObject }>(m);
        if (r.type === 'attached' && typeof r.pid === 'number') running.set(rank, r.pid);
        else if (r.type === 'finished' && typeof r.status === 'number') {
          status = r.status;
          running.delete(rank);
        } else if (r.type === 'output' && r.io) {
          const data = ioData(r.io);
          if (data.length === 0) continue;
          const dest = r.io.stream === 'stderr' ? process.stderr : process.stdout;
          if (!opt.labelIo) dest.write(data);
          else {
            const text = data.toString('latin1');
            let outText = '';
            for (const ch of text.split(/(?<=\n)/)) {
              if (lineStart[r.io.stream]) outText += `${rank}: `;
              outText += ch;
              lineStart[r.io.stream] = ch.endsWith('\n');
            }
            dest.write(Buffer.from(outText, 'latin1'));
          }
        }
      }
      if (status !== undefined) summary.completed(rank, status);
    } catch (e) {
      running.delete(rank);
      errln(`${PROG}: Error: rank ${rank}: ${what}: ${e instanceof Error ? e.message : String(e)}`);
      summary.failed(e instanceof FluxError ? e.errnum : errno.EPROTO);
    }
  }));
  process.off('SIGINT', onInt);
  process.off('SIGTERM', onTerm);
  h.close();
  if (!opt.quiet) for (const line of summary.lines()) errln(line);
  if (summary.code !== 0) throw new Exit(summary.code);
}
