/**
 * A job's standard input, as flux-core's job shell takes it (src/shell/input.c): unless
 * `--input=FILE` names a file, the job's shell service `<userid>-shell-<id>` answers
 * `<service>.stdin` requests (`flux run`, `flux job attach`) whose payload is an RFC 24 I/O
 * object `{stream:"stdin", rank:"all"|IDSET, data?, eof?}`; the data goes to the stdin of the
 * tasks in `rank`, and `eof` closes it. Without either a task's stdin simply stays open, as a
 * flux-core job's does until someone attaches.
 *
 * Each task's stdin is written through its rexec subprocess within the credits the rexec
 * server grants (RFC 42 add-credit): bytes wait here until the pipe takes them, and a stdin
 * request is answered only once its bytes fit under each target task's high-water mark, so a
 * sender that waits for its answers (ours keeps a few in flight) never runs far ahead of the
 * slowest task and nothing is dropped.
 */
import { errno, FluxError } from '../../common/libflux/errno';
import { FLAG_NORESPONSE, ROLE_OWNER } from '../../common/libflux/message';
import type { Flux } from '../../common/libflux/handle';
import { decodeIdset } from '../../common/libidset/idset';
import { ioDecode, ioEncode } from '../../common/libsubprocess/ioencode';
import type { Responder } from '../../broker/service';

/** Bytes queued for one task beyond which a stdin request waits for its answer. */
const HIGH_WATER = 1 << 20;
/** The longest single rexec.write (flux-core's subprocess buffers are 4 MiB; smaller keeps messages modest). */
const MAX_WRITE = 256 * 1024;

/** One task's stdin: bytes and end of file, sent within the credits its rexec server grants. */
export class StdinWriter {
  private queue: Buffer[] = [];
  private queued = 0;
  private credit = 0;
  private eofPending = false;
  private eofSent = false;
  private matchtag: number | undefined;
  private closed = false;
  private drainWaiters: (() => void)[] = [];

  constructor(private readonly h: Flux, private readonly rank: number) {}

  /** The task's rexec request: its matchtag addresses the writes. */
  attach(matchtag: number): void {
    this.matchtag = matchtag;
    this.flush();
  }

  /** RFC 42 add-credit: the pipe has room for `bytes` more. */
  addCredit(bytes: number): void {
    this.credit += bytes;
    this.flush();
  }

  write(data: Buffer, eof: boolean): void {
    if (this.closed || this.eofPending) return;
    if (data.length > 0) {
      this.queue.push(data);
      this.queued += data.length;
    }
    if (eof) this.eofPending = true;
    this.flush();
  }

  /** Whether end of file was asked for (or the task is gone). */
  get ended(): boolean {
    return this.eofPending || this.closed;
  }

  /** The task exited: nothing more goes to it, and nobody waits on it. */
  close(): void {
    this.closed = true;
    this.queue = [];
    this.queued = 0;
    this.wake();
  }

  /** Resolves once this task's backlog is under the high-water mark (or it is gone). */
  drained(): Promise<void> {
    if (this.closed || this.queued < HIGH_WATER) return Promise.resolve();
    return new Promise((res) => this.drainWaiters.push(res));
  }

  private flush(): void {
    if (this.matchtag === undefined || this.closed) return;
    while (this.queue.length > 0 && this.credit > 0) {
      const head = this.queue[0];
      const n = Math.min(head.length, this.credit, MAX_WRITE);
      const chunk = head.subarray(0, n);
      if (n === head.length) this.queue.shift();
      else this.queue[0] = head.subarray(n);
      this.queued -= n;
      this.credit -= n;
      this.send(ioEncode('stdin', '0', chunk, false));
    }
    if (this.queue.length === 0 && this.eofPending && !this.eofSent) {
      this.eofSent = true;
      this.send(ioEncode('stdin', '0', undefined, true));
    }
    if (this.queued < HIGH_WATER) this.wake();
  }

  private send(io: ReturnType<typeof ioEncode>): void {
    this.h.rpc('rexec.write', { matchtag: this.matchtag, io }, { nodeid: this.rank, flags: FLAG_NORESPONSE });
  }

  private wake(): void {
    const w = this.drainWaiters.splice(0);
    for (const res of w) res();
  }
}

export interface StdinTarget {
  /** Job owner: with the instance owner, the only one allowed to write. */
  userid: number;
  /** Global task rank → its writer. */
  writers: Map<number, StdinWriter>;
  /** `--input=FILE`: the shell takes no stdin from the service. */
  fromFile: boolean;
}

/** Task ranks an I/O object's `rank` names (`all`, or an idset); EPROTO when it is neither. */
function targets(rank: string, t: StdinTarget): StdinWriter[] {
  if (rank === 'all') return [...t.writers.values()];
  let ids: number[];
  try {
    ids = decodeIdset(rank);
  } catch {
    throw new FluxError(errno.EPROTO, `invalid rank ${rank}`);
  }
  return ids.map((i) => t.writers.get(i)).filter((w): w is StdinWriter => w !== undefined);
}

/**
 * A `<service>.stdin` request for the job `t` (undefined once the job is over: ENOSYS, as when
 * the job shell has exited). Answered once the data is queued and the targets have room.
 */
export async function handleStdin(r: Responder, t: StdinTarget | undefined): Promise<void> {
  if (!t || t.fromFile) throw new FluxError(errno.ENOSYS);
  if (!(r.msg.rolemask & ROLE_OWNER) && r.msg.userid !== t.userid) throw new FluxError(errno.EPERM);
  const io = ioDecode(r.json());
  const writers = targets(io.rank, t);
  for (const w of writers) w.write(io.data, io.eof);
  await Promise.all(writers.map((w) => w.drained()));
  r.respond({});
}
