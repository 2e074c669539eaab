/**
 * The `rexec` service on every broker: flux-core's subprocess server (RFC 42),
 * what `flux exec` talks to.
 *
 *   rexec.exec        streaming: add-credit, started {pid}, output {pid, io},
 *                     finished {status}, then ENODATA; a spawn error is the
 *                     error response ("error launching process: ..."). Not
 *                     streaming: a background process, one `started` reply,
 *                     output and exit go to the broker log.
 *   rexec.write       {matchtag, io}, NORESPONSE: stdin of the caller's process
 *   rexec.kill        {pid|label, signum}: signal its process group
 *   rexec.list        {rank, procs: [...]}
 *   rexec.wait        {pid|label}: status of a waitable background process
 *   rexec.attach      {pid|label, flags}, streaming: follow a background process
 *   rexec.disconnect  the caller went away: its foreground processes are killed
 *
 * Each process gets the environment the client sent (or the broker's, if it
 * sent none) with FLUX_URI pointing at this broker's own socket. When the
 * broker exits its processes get SIGTERM (flux-core does that in the `exit`
 * state), then SIGKILL as the process goes; a reaper kills them if the broker
 * is killed outright.
 */
import * as path from 'node:path';
import { errno, FluxError, strerror } from '../common/libflux/errno';
import { FLAG_STREAMING, ROLE_LOCAL } from '../common/libflux/message';
import {
  BUFSIZE,
  Proc,
  REXEC_CHANNEL,
  REXEC_STDERR,
  REXEC_STDOUT,
  REXEC_WAITABLE,
  REXEC_WRITE_CREDIT,
  Reaper,
  ioDecode,
  ioEncode,
  type IoObject,
} from './rexec-proc';
import type { Responder, ServiceTable } from './service';
import { listName, parseCmd, parseProcRef, type CmdObject } from './rexec-cmd';
import { defaultLauncher } from './spawner';


export { parseCmd, type CmdObject };

/** How much of a waitable background process's latest output `rexec.wait` returns (flux-core's cap). */
const RETAINED_OUTPUT_MAX = 8192;


export interface RexecHost {
  rank: number;
  /** `local://RUNDIR/local-RANK`, set as FLUX_URI of every process. */
  localUri(): string;
  log: { info(s: string): void; err(s: string): void };
  /**
   * True for a multi-user instance: rank 0 then refuses requests that did not
   * enter the instance on rank 0 (flux-core's rule; this instance is single-user).
   */
  multiUser?(): boolean;
}

interface Entry {
  proc: Proc;
  cmd: CmdObject;
  /** Started by a non-streaming request: never changes. */
  bg: boolean;
  /** A client follows this background process (rexec.attach). */
  attached: boolean;
  waitable: boolean;
  /** Forwarding flags: the exec's, or the attaching client's. */
  flags: number;
  /** The request that gets this process's responses, while one does. */
  r: Responder | undefined;
  waiter: Responder | undefined;
  retained: IoObject[];
  retainedBytes: number;
}

/** The client a request came from: the first hop it took (flux-core's first route). */
function senderOf(r: Responder): string {
  const routes = r.msg.routes;
  return routes[routes.length - 1] ?? '';
}

export class RexecService {
  private readonly procs = new Set<Entry>();
  private readonly reaper = new Reaper();
  private readonly launcher = defaultLauncher();
  private shuttingDown = false;
  private readonly onProcessExit = (): void => this.reaper.killAll(9);

  constructor(private readonly host: RexecHost) {
    // A broker leaving through process.exit (its launcher vanished) takes its processes along.
    process.on('exit', this.onProcessExit);
  }

  register(services: ServiceTable): void {
    services.register('rexec.exec', (r) => this.exec(r));
    services.register('rexec.write', (r) => this.write(r));
    services.register('rexec.kill', (r) => this.kill(r));
    services.register('rexec.list', (r) => this.list(r));
    services.register('rexec.wait', (r) => this.wait(r));
    services.register('rexec.attach', (r) => this.attach(r));
    services.register('rexec.disconnect', (r) => this.disconnect(senderOf(r)));
  }

  /** How many processes this server holds (running, or zombies waiting for rexec.wait). */
  get count(): number {
    return this.procs.size;
  }

  /**
   * The broker is exiting: refuse new processes, drop zombies, signal the rest
   * (flux-core sends SIGTERM here and SIGKILL to whatever is left at the end).
   */
  shutdown(signum = 15): void {
    this.shuttingDown = true;
    for (const e of [...this.procs]) {
      if (!e.proc.active) {
        e.waitable = false;
        this.remove(e);
      } else {
        this.signal(e, signum);
      }
    }
  }

  /** Kill everything now and let the reaper go (the broker is done). */
  close(): void {
    this.reaper.killAll(9);
    this.reaper.close();
    this.launcher.close?.();
    process.off('exit', this.onProcessExit);
  }

  // --- requests ---------------------------------------------------------------

  private auth(r: Responder): void {
    if (this.host.rank === 0 && this.host.multiUser?.() && !(r.msg.rolemask & ROLE_LOCAL)) {
      throw new FluxError(errno.EPERM, 'Remote rexec requests are not allowed on rank 0');
    }
  }

  private exec(r: Responder): void {
    const p = r.json<{ cmd?: unknown; flags?: unknown; local_flags?: unknown }>();
    if (typeof p.cmd !== 'object' || p.cmd === null || !Number.isInteger(p.flags)
      || (p.local_flags !== undefined && !Number.isInteger(p.local_flags))) {
      throw new FluxError(errno.EPROTO, 'invalid request payload');
    }
    this.auth(r);
    const flags = p.flags as number;
    const bg = (r.msg.flags & FLAG_STREAMING) === 0;
    if (this.shuttingDown) throw new FluxError(errno.ENOSYS, 'subprocess server is shutting down');
    if (bg && flags & REXEC_WRITE_CREDIT) throw new FluxError(errno.EINVAL, 'write-credit flag is not allowed in background mode');
    const cmd = parseCmd(p.cmd);
    if (cmd.label !== undefined && this.byLabel(cmd.label)) throw new FluxError(errno.EEXIST, 'command label is not unique');
    if (cmd.cmdline.length === 0) throw new FluxError(errno.EPROTO, 'command string is empty');
    if (bg && cmd.channels.length > 0) throw new FluxError(errno.EINVAL, 'auxiliary channels are not allowed in background mode');
    if (flags & REXEC_WAITABLE && !bg) throw new FluxError(errno.EINVAL, 'waitable flag only supported in background mode');
    // Auxiliary channels are socketpairs handed over by fd number; not offered here.
    if (cmd.channels.length > 0) throw new FluxError(errno.EINVAL, 'auxiliary channels are not supported');

    // No environment sent: the server's own (RFC 42). FLUX_URI always points here.
    const env: NodeJS.ProcessEnv = Object.keys(cmd.env).length > 0 ? { ...cmd.env } : { ...process.env };
    env.FLUX_URI = this.host.localUri();
    delete env.FLUX_PROXY_REMOTE;
    delete env.NOTIFY_SOCKET;
    delete env.INVOCATION_ID;

    // The callbacks run later, once `e` exists.
    const proc = new Proc({
      argv: cmd.cmdline,
      env,
      cwd: cmd.cwd,
      noStdin: bg,
      // A background process's output is read so it can be logged.
      stdout: bg || (flags & REXEC_STDOUT) !== 0,
      stderr: bg || (flags & REXEC_STDERR) !== 0,
    }, {
      started: () => this.started(e),
      failed: (errnum, text) => this.failed(e, errnum, text),
      output: (stream, data, eof) => this.output(e, stream, data, eof),
      exited: (status) => {
        if (this.listening(e)) e.r?.respond({ type: 'finished', status });
      },
      completed: () => this.completed(e),
      credit: (bytes) => {
        if (e.flags & REXEC_WRITE_CREDIT && !e.bg) e.r?.respond({ type: 'add-credit', channels: { stdin: bytes } });
      },
    }, this.reaper, this.launcher);
    const e: Entry = {
      proc,
      cmd,
      bg,
      attached: false,
      waitable: bg && (flags & REXEC_WAITABLE) !== 0,
      flags,
      r,
      waiter: undefined,
      retained: [],
      retainedBytes: 0,
    };
    this.procs.add(e);
    e.proc.start();
  }

  private started(e: Entry): void {
    const r = e.r;
    if (!r) return;
    // RFC 42: the first add-credit carries the whole buffer size.
    if (!e.bg && e.flags & REXEC_WRITE_CREDIT) r.respond({ type: 'add-credit', channels: { stdin: BUFSIZE } });
    r.respond({ type: 'started', pid: e.proc.pid });
    // A background process's request has had its one response.
    if (e.bg) e.r = undefined;
  }

  private failed(e: Entry, errnum: number, text: string): void {
    e.r?.respondError(errnum, `error launching process: ${text}`);
    e.r = undefined;
    e.waitable = false;
    this.remove(e);
  }

  private listening(e: Entry): boolean {
    return !e.bg || e.attached;
  }

  private forwarded(e: Entry, stream: string): boolean {
    if (stream === 'stdout') return (e.flags & REXEC_STDOUT) !== 0;
    if (stream === 'stderr') return (e.flags & REXEC_STDERR) !== 0;
    return (e.flags & REXEC_CHANNEL) !== 0;
  }

  private output(e: Entry, stream: 'stdout' | 'stderr', data: Buffer | undefined, eof: boolean): void {
    const rank = String(this.host.rank);
    if (this.listening(e) && this.forwarded(e, stream)) {
      e.r?.respond({ type: 'output', pid: e.proc.pid, io: ioEncode(stream, rank, data, eof) });
    }
    if (!data || data.length === 0) return;
    if (e.bg) {
      // A background process's output is kept in the broker log, as flux-core's server logs it.
      const label = e.cmd.label ?? path.basename(e.cmd.cmdline[0]);
      const text = data.toString('utf8').replace(/\n$/, '');
      if (stream === 'stderr') this.host.log.err(`${label}[${e.proc.pid}]: ${text}`);
      else this.host.log.info(`${label}[${e.proc.pid}]: ${text}`);
    }
    if (e.waitable) {
      e.retained.push(ioEncode(stream, rank, data, false));
      e.retainedBytes += data.length;
      while (e.retainedBytes > RETAINED_OUTPUT_MAX && e.retained.length > 1) {
        const old = e.retained.shift()!;
        e.retainedBytes -= ioDecode(old).data.length;
      }
    }
  }

  private completed(e: Entry): void {
    if (e.bg) {
      const label = e.cmd.label ? `${e.cmd.label}: ` : '';
      const st = e.proc.status;
      if (st & 0x7f) this.host.log.info(`${label}${e.cmd.cmdline[0]}[${e.proc.pid}]: Killed by signal ${st & 0x7f}`);
      else this.host.log.info(`${label}${path.basename(e.cmd.cmdline[0])}[${e.proc.pid}]: Exit ${(st >> 8) & 0xff}`);
    }
    if (this.listening(e)) {
      e.r?.respondError(errno.ENODATA);
      // An attached client got `finished`: the status is consumed, no zombie is kept (RFC 42).
      if (e.attached && e.r) e.waitable = false;
      e.r = undefined;
      e.attached = false;
    }
    this.remove(e);
  }

  /** Drop a process from the list, unless it is a zombie someone may still wait for. */
  private remove(e: Entry): void {
    if (e.waitable && !e.proc.active && e.waiter) {
      const payload: Record<string, unknown> = { status: e.proc.status };
      if (e.retained.length > 0) payload.output = e.retained;
      e.waiter.respond(payload);
      e.waiter = undefined;
      e.waitable = false;
    }
    if (e.waitable) return;
    this.procs.delete(e);
  }

  private write(r: Responder): void {
    let matchtag: unknown;
    let io: ReturnType<typeof ioDecode>;
    try {
      const p = r.json<{ matchtag?: unknown; io?: unknown }>();
      matchtag = p.matchtag;
      if (!Number.isInteger(matchtag)) throw new FluxError(errno.EPROTO);
      io = ioDecode(p.io);
      this.auth(r);
    } catch (e) {
      this.host.log.err(`Error decoding rexec.write request: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    const sender = senderOf(r);
    // Data for a process that is gone or unknown is dropped silently, as flux-core does.
    const e = [...this.procs].find((x) => x.r && !x.bg && senderOf(x.r) === sender && x.r.msg.aux2 === matchtag);
    if (!e || !e.proc.active || io.stream !== 'stdin') return;
    if (io.data.length > 0) e.proc.write(io.data);
    if (io.eof) e.proc.closeStdin();
  }

  private find(pid: number, label: string | undefined): Entry {
    if (typeof label === 'string') {
      const e = this.byLabel(label);
      if (!e) throw new FluxError(errno.ESRCH, `label ${label} does not belong to any subprocess`);
      return e;
    }
    const e = [...this.procs].find((x) => x.proc.pid === pid && x.proc.pid > 0);
    if (!e) throw new FluxError(errno.ESRCH, `pid ${String(pid)} does not belong to any subprocess`);
    return e;
  }

  private byLabel(label: string): Entry | undefined {
    return [...this.procs].find((x) => x.cmd.label === label);
  }

  private kill(r: Responder): void {
    const p = parseProcRef(r.json(), ['signum']);
    this.auth(r);
    const e = this.find(p.pid, p.label);
    try {
      e.proc.kill(p.signum);
    } catch (err) {
      const fe = err instanceof FluxError ? err : FluxError.fromNode(err);
      throw new FluxError(fe.errnum, strerror(fe.errnum));
    }
    r.respondRaw();
  }

  private list(r: Responder): void {
    this.auth(r);
    const procs = [...this.procs].filter((e) => e.proc.pid > 0).map((e) => ({
      pid: e.proc.pid,
      cmd: listName(e.cmd.cmdline),
      label: e.cmd.label ?? '',
      state: e.proc.active ? 'R' : 'Z',
      bg: e.bg,
      waitable: e.waitable,
      attached: this.listening(e) || e.waiter !== undefined,
    }));
    r.respond({ rank: this.host.rank, procs });
  }

  private wait(r: Responder): void {
    const p = parseProcRef(r.json(), []);
    this.auth(r);
    const e = this.find(p.pid, p.label);
    if (!e.waitable) throw new FluxError(errno.EINVAL, 'process is not waitable');
    if (e.waiter) throw new FluxError(errno.EINVAL, 'process is already being waited on');
    if (e.attached) throw new FluxError(errno.EBUSY, 'subprocess has a client attached');
    e.waiter = r;
    this.remove(e);
  }

  private attach(r: Responder): void {
    const p = parseProcRef(r.json(), ['flags']);
    this.auth(r);
    if (!(r.msg.flags & FLAG_STREAMING)) throw new FluxError(errno.EPROTO, 'attach request is missing STREAMING flag');
    let e: Entry;
    try {
      e = this.find(p.pid, p.label);
    } catch (err) {
      throw new FluxError(errno.ENOENT, err instanceof Error ? err.message : undefined);
    }
    if (!e.bg) throw new FluxError(errno.EBUSY, 'subprocess is not in background mode');
    if (e.attached) throw new FluxError(errno.EBUSY, 'subprocess already has a client attached');
    if (e.waiter) throw new FluxError(errno.EBUSY, 'subprocess is being waited on');
    e.flags = p.flags;
    r.respond({ type: 'attached', pid: e.proc.pid, cmd: { ...e.cmd } });
    // Exactly one EOF per forwarded stream on every attach: those already closed get theirs now.
    const rank = String(this.host.rank);
    for (const stream of ['stdout', 'stderr'] as const) {
      if (this.forwarded(e, stream) && e.proc.closed.has(stream)) {
        r.respond({ type: 'output', pid: e.proc.pid, io: ioEncode(stream, rank, undefined, true) });
      }
    }
    if (!e.proc.active) {
      // A zombie: the whole ending at once, and it is reaped.
      r.respond({ type: 'finished', status: e.proc.status });
      r.respondError(errno.ENODATA);
      e.waitable = false;
      this.remove(e);
      return;
    }
    e.r = r;
    e.attached = true;
  }

  /** A client went away: kill its foreground processes, detach it, forget its waits. */
  disconnect(sender: string): void {
    for (const e of [...this.procs]) {
      if (e.r && senderOf(e.r) === sender) {
        if (e.attached) {
          e.attached = false;
          e.r = undefined;
        } else if (!e.bg) {
          e.r = undefined;
          this.signal(e, 9);
        }
      }
      if (e.waiter && senderOf(e.waiter) === sender) e.waiter = undefined;
    }
  }

  private signal(e: Entry, signum: number): void {
    try {
      e.proc.kill(signum);
    } catch (err) {
      // ESRCH: it exited and its exit is on its way from the spawner; nothing to say
      if (err instanceof FluxError && err.errnum === errno.ESRCH) return;
      this.host.log.err(`subprocess_kill ${e.proc.pid} ${signum}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}

/** Where the broker keeps its run control hooks (a subset of StateMachine). */
export interface RexecStateHooks {
  onState(fn: (state: string) => void): void;
}

/**
 * Create the `rexec` service, register its methods, and tie it to run control:
 * on entering `exit` its processes get SIGTERM, as in flux-core.
 */
export function registerRexec(services: ServiceTable, host: RexecHost, sm: RexecStateHooks): RexecService {
  const rexec = new RexecService(host);
  rexec.register(services);
  sm.onState((st) => {
    if (st === 'exit') rexec.shutdown(15);
  });
  return rexec;
}
