/**
 * The stdin half of `flux job attach` / `flux run` (flux-core's src/cmd/job/attach.c): once
 * the job's `shell.init` event names its shell service and leader rank, this process's stdin
 * is sent to `<service>.stdin` as RFC 24 I/O objects for `--stdin-ranks` (default `all`),
 * then end of file. With other ranks asked for, the tasks outside them get end of file first
 * (after `shell.start`'s taskmap says how many there are; ranks beyond the job are dropped
 * with flux-core's warning). A few requests are kept in flight and stdin is paused while they
 * are, so a large input streams at the pace the tasks read it. A job that stops taking stdin
 * after some was sent is flux-core's fatal `stdin not accepted by job`.
 */
import { errno } from '../common/libflux/errno';
import type { Flux } from '../common/libflux/handle';
import { decodeIdset, encodeIdset } from '../common/libidset/idset';
import { jobKvsKey, type JobId } from '../common/libjob/jobid';
import { decodeEvent } from '../common/libjob/states';
import { ioEncode } from '../common/libsubprocess/ioencode';
import { FLUX_KVS_WAITCREATE, FLUX_KVS_WATCH, FLUX_KVS_WATCH_APPEND, watch } from '../common/libkvs/client';

/** Requests in flight before stdin is paused. */
const IN_FLIGHT = 4;

export interface StdinForwarder {
  /** The job is over: stop reading stdin and following its exec eventlog. */
  stop(): void;
}

/** The total task count of an RFC 34 taskmap (`[[nodeid, nnodes, ppn, repeat]...]`). */
function taskCount(taskmap: unknown): number | undefined {
  const map = (taskmap as { map?: unknown } | undefined)?.map;
  if (!Array.isArray(map)) return undefined;
  let n = 0;
  for (const b of map) {
    if (!Array.isArray(b) || b.length < 3) return undefined;
    n += Number(b[1]) * Number(b[2]) * Number(b[3] ?? 1);
  }
  return n;
}

/**
 * Forward `input` (process.stdin) to job `id`. `fail` gets flux-core's fatal messages (the
 * caller prints them and exits 1).
 */
export function forwardStdin(h: Flux, id: JobId, ranks: string, fail: (msg: string) => void, input: NodeJS.ReadableStream = process.stdin): StdinForwarder {
  let stopped = false;
  let reading = false;
  let sentData = false;
  let service: string | undefined;
  let leader = 0;
  let target = ranks;
  let inFlight = 0;
  const w = watch(h, jobKvsKey(id, 'guest.exec.eventlog'), { namespace: 'primary', flags: FLUX_KVS_WATCH | FLUX_KVS_WAITCREATE | FLUX_KVS_WATCH_APPEND });

  const send = (rank: string, data: Buffer | undefined, eof: boolean): void => {
    if (!service || stopped) return;
    inFlight++;
    h.rpc(`${service}.stdin`, { ...ioEncode('stdin', rank, data, eof) }, { nodeid: leader }).get().then(() => {
      inFlight--;
      if (inFlight < IN_FLIGHT && reading && !stopped) input.resume();
    }, (e: unknown) => {
      inFlight--;
      const errnum = (e as { errnum?: number }).errnum;
      // ENOSYS: the job takes no stdin (it ended, or reads a file); only an error once data went.
      if (errnum === errno.ENOSYS) {
        if (sentData && !stopped) fail('stdin not accepted by job');
        stop();
        return;
      }
      if (!stopped) fail(`attach_send_shell: ${e instanceof Error ? e.message : String(e)}`);
      stop();
    });
  };

  const onData = (chunk: Buffer | string): void => {
    const data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (data.length === 0) return;
    sentData = true;
    send(target, data, false);
    if (inFlight >= IN_FLIGHT) input.pause();
  };
  const onEnd = (): void => {
    send(target, undefined, true);
    reading = false;
  };
  const startReading = (): void => {
    if (reading || stopped) return;
    reading = true;
    input.on('data', onData);
    input.once('end', onEnd);
    input.once('error', onEnd);
    input.resume();
  };

  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    w.cancel();
    input.removeListener('data', onData);
    input.removeListener('end', onEnd);
    input.removeListener('error', onEnd);
    input.pause();
    // a terminal or pipe left open would keep this process alive
    (input as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
  };

  void (async () => {
    try {
      for await (const v of w) {
        for (const line of v.string().split('\n')) {
          const ev = line === '' ? undefined : decodeEvent(line);
          if (!ev) continue;
          const c = ev.context ?? {};
          if (ev.name === 'shell.init' && typeof c.service === 'string') {
            service = c.service;
            leader = typeof c['leader-rank'] === 'number' ? c['leader-rank'] : 0;
            if (ranks === 'all') startReading();
          } else if (ev.name === 'shell.start' && ranks !== 'all') {
            const n = taskCount(c.taskmap);
            if (n === undefined) {
              fail('failed to process taskmap in shell.start event');
              continue;
            }
            const want = decodeIdset(ranks);
            const open = want.filter((r) => r < n);
            if (open.length !== want.length) {
              target = encodeIdset(open);
              process.stderr.write(`flux-job: warning: adjusting --stdin-ranks from ${ranks} to ${target}\n`);
            }
            const others = [...Array(n).keys()].filter((r) => !open.includes(r));
            if (others.length > 0) send(encodeIdset(others), undefined, true);
            startReading();
          }
        }
      }
    } catch {
      // the watch ends when canceled (or the job never ran)
    }
  })();

  return { stop };
}
