/**
 * One subprocess of the `rexec` service (rexec.ts) and what it needs around it:
 * RFC 42's I/O object encoding, flux-core's line buffering of output, stdin
 * with credits, wait statuses, and a reaper that kills every process group the
 * broker started if the broker itself dies without cleaning up (SIGKILL).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as os from 'node:os';
import { errno, FluxError, strerror } from '../common/libflux/errno';
import type { ChildHandle, Launcher } from './spawner';

/** flux-core's SUBPROCESS_DEFAULT_BUFSIZE: the stdin credit granted up front, and the longest output record. */
export const BUFSIZE = 4 * 1024 * 1024;

/** RFC 42 exec flags. */
export const REXEC_STDOUT = 1;
export const REXEC_STDERR = 2;
export const REXEC_CHANNEL = 4;
export const REXEC_WRITE_CREDIT = 8;
export const REXEC_WAITABLE = 16;

export { ioDecode, ioEncode, type IoObject } from '../common/libsubprocess/ioencode';

/** A wait(2) status from what Node reports: exit code in bits 8-15, or the signal number. */
export function waitStatus(code: number | null, signal: NodeJS.Signals | null): number {
  if (signal) return (os.constants.signals[signal] ?? 0) & 0x7f;
  return ((code ?? 0) & 0xff) << 8;
}

/** Errors spawn() reports that errno.ts has no name for. */
const EXTRA_ERRNO: Record<string, [number, string]> = {
  ENOEXEC: [8, 'Exec format error'],
  ENAMETOOLONG: [36, 'File name too long'],
  ELOOP: [40, 'Too many levels of symbolic links'],
  ETXTBSY: [26, 'Text file busy'],
};

/** errno and strerror text of a Node.js system error. */
export function nodeErrno(e: unknown): { errnum: number; text: string } {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && EXTRA_ERRNO[code]) {
    const [errnum, text] = EXTRA_ERRNO[code];
    return { errnum, text };
  }
  const fe = FluxError.fromNode(e);
  return { errnum: fe.errnum, text: fe.strerror };
}

/**
 * Output records cut at line ends: flux-core reads subprocess output line by line and a line that
 * fills the whole buffer goes out as it is. We send every complete line of a read in one record
 * (flux exec splits them again to label them): one response per line made 50 MB of output cost
 * a million messages.
 */
export class LineBuffer {
  private parts: Buffer[] = [];
  private size = 0;

  constructor(private readonly emit: (b: Buffer) => void, private readonly max = BUFSIZE) {}

  push(chunk: Buffer): void {
    const nl = chunk.lastIndexOf(0x0a);
    let rest = chunk;
    if (nl >= 0) {
      const lines = chunk.subarray(0, nl + 1);
      if (this.size > 0) {
        this.parts.push(lines);
        this.emitPending();
      } else {
        this.emit(lines);
      }
      rest = chunk.subarray(nl + 1);
    }
    if (rest.length > 0) {
      this.parts.push(rest);
      this.size += rest.length;
      while (this.size >= this.max) {
        const all = Buffer.concat(this.parts);
        this.emit(all.subarray(0, this.max));
        const left = all.subarray(this.max);
        this.parts = left.length ? [left] : [];
        this.size = left.length;
      }
    }
  }

  /** End of stream: a last line without newline goes out as it is. */
  flush(): void {
    if (this.size > 0) this.emitPending();
  }

  private emitPending(): void {
    const b = Buffer.concat(this.parts);
    this.parts = [];
    this.size = 0;
    this.emit(b);
  }
}

/**
 * Kills the process groups the broker started when the broker goes away
 * without doing it itself (SIGKILL, a crash): a small shell, in a session of
 * its own so terminal signals miss it, reads `+PGID`/`-PGID` lines on a pipe
 * from the broker and, when that pipe reaches EOF, SIGKILLs the groups still
 * listed. flux-core leaves such processes behind; here `flux start` promises
 * that nothing survives it.
 */
export class Reaper {
  private child: ChildProcess | undefined;
  private failed = false;
  private readonly groups = new Set<number>();

  private static readonly SCRIPT = [
    "trap '' INT HUP TERM QUIT PIPE",
    'g=" "',
    'while read -r op id; do',
    '  case "$op" in',
    '    +) g="$g$id " ;;',
    '    -) case "$g" in *" $id "*) g="${g%%" $id "*} ${g#*" $id "}" ;; esac ;;',
    '  esac',
    'done',
    'for id in $g; do kill -9 -- "-$id" 2>/dev/null; done',
  ].join('\n');

  add(pgid: number): void {
    this.groups.add(pgid);
    this.tell(`+ ${pgid}\n`);
  }

  remove(pgid: number): void {
    if (this.groups.delete(pgid)) this.tell(`- ${pgid}\n`);
  }

  /** Signal every group still listed (synchronous: usable from process 'exit'). */
  killAll(signum: number): void {
    for (const g of this.groups) {
      try {
        process.kill(-g, signum);
      } catch {
        // already gone
      }
    }
  }

  /** Let the shell go (its stdin reaches EOF; it kills what is left, which should be nothing). */
  close(): void {
    this.child?.stdin?.end();
    this.child = undefined;
  }

  private tell(line: string): void {
    if (this.failed) return;
    if (!this.child) {
      try {
        const c = spawn('/bin/sh', ['-c', Reaper.SCRIPT], { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
        c.on('error', () => {
          this.failed = true;
          this.child = undefined;
        });
        c.stdin.on('error', () => {});
        c.unref();
        (c.stdin as unknown as { unref?: () => void }).unref?.();
        this.child = c;
      } catch {
        this.failed = true;
        return;
      }
    }
    this.child.stdin?.write(line);
  }
}

export interface ProcSpec {
  argv: string[];
  env: NodeJS.ProcessEnv;
  cwd?: string;
  /** Background: stdin is /dev/null from the start (RFC 42: at end-of-file). */
  noStdin: boolean;
  /** Streams whose output is read; the others go to /dev/null. */
  stdout: boolean;
  stderr: boolean;
}

export interface ProcEvents {
  started(): void;
  /** Spawning failed (execvp error, bad cwd): nothing ran. */
  failed(errnum: number, text: string): void;
  /** A line (or a buffer-full chunk), or EOF (data undefined). */
  output(stream: 'stdout' | 'stderr', data: Buffer | undefined, eof: boolean): void;
  /** The process was reaped: wait status. */
  exited(status: number): void;
  /** Exited and every output stream reached EOF. */
  completed(): void;
  /** Bytes written to the process's stdin pipe: as many credits come back. */
  credit(bytes: number): void;
}

type ProcState = 'init' | 'running' | 'exited' | 'failed';

/** A child process in its own process group (signals reach whatever it started). */
export class Proc {
  pid = -1;
  state: ProcState = 'init';
  status = 0;
  /** Output streams that reached EOF. */
  readonly closed = new Set<string>();
  private child: ChildHandle | undefined;
  private stdinClosed = false;
  private pendingSignal: number | undefined;

  constructor(private readonly spec: ProcSpec, private readonly ev: ProcEvents, private readonly reaper: Reaper, private readonly launcher: Launcher) {}

  get active(): boolean {
    return this.state === 'init' || this.state === 'running';
  }

  start(): void {
    const s = this.spec;
    let pending = (s.stdout ? 1 : 0) + (s.stderr ? 1 : 0);
    let exited = false;
    const maybeComplete = (): void => {
      if (exited && pending === 0 && this.state === 'exited') {
        this.reaper.remove(this.pid);
        this.ev.completed();
      }
    };
    const lines = {
      stdout: new LineBuffer((b) => this.ev.output('stdout', b, false)),
      stderr: new LineBuffer((b) => this.ev.output('stderr', b, false)),
    };
    // flux-core runs each subprocess in a process group of its own (setpgrp); the launcher gives
    // it a session of its own, the closest Node offers, which also keeps terminal signals away.
    this.child = this.launcher.launch({
      file: s.argv[0], args: s.argv.slice(1), env: s.env, cwd: s.cwd, stdin: !s.noStdin, stdout: s.stdout, stderr: s.stderr,
    }, {
      spawned: (pid) => {
        this.pid = pid;
        this.state = 'running';
        this.reaper.add(pid);
        this.ev.started();
        if (this.pendingSignal !== undefined) {
          try {
            this.kill(this.pendingSignal);
          } catch {
            // gone already
          }
        }
      },
      error: (e, sync) => {
        if (this.state !== 'init') return; // kill() errors after spawn are handled where kill is called
        this.state = 'failed';
        const { errnum, text } = nodeErrno(e);
        // Synchronous refusals (arguments with NUL bytes and the like) are EINVAL.
        if (sync && errnum === errno.EIO) this.ev.failed(errno.EINVAL, strerror(errno.EINVAL));
        else this.ev.failed(errnum, text);
      },
      data: (name, chunk) => lines[name].push(chunk),
      eof: (name) => {
        if (this.state === 'failed') return;
        lines[name].flush();
        this.closed.add(name);
        this.ev.output(name, undefined, true);
        pending--;
        maybeComplete();
      },
      exit: (code, signal) => {
        if (this.state === 'failed') return;
        exited = true;
        this.status = waitStatus(code, signal);
        this.state = 'exited';
        this.stdinClosed = true;
        this.ev.exited(this.status);
        maybeComplete();
      },
      credit: (n) => this.ev.credit(n),
    });
  }

  /** Data for stdin; its credits come back once it is in the pipe. */
  write(data: Buffer): void {
    if (!this.child || this.spec.noStdin || this.stdinClosed || data.length === 0) return;
    this.child.write(data);
  }

  closeStdin(): void {
    if (this.stdinClosed) return;
    this.stdinClosed = true;
    if (!this.spec.noStdin) this.child?.end();
  }

  /** Signal the process group; throws FluxError when there is nothing to signal. */
  kill(signum: number): void {
    if (this.state === 'init') {
      // asked to start and not started yet (the spawner has it): signalled as soon as it is
      this.pendingSignal = signum;
      return;
    }
    if (this.state !== 'running') throw new FluxError(errno.EINVAL);
    try {
      process.kill(-this.pid, signum);
    } catch (e) {
      // The group leader may have changed its group: signal the process itself.
      try {
        process.kill(this.pid, signum);
      } catch {
        throw FluxError.fromNode(e);
      }
    }
  }
}
