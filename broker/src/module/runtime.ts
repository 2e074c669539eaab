/**
 * The inside of a broker module, in its worker thread or (`--exec`) its own
 * process: a Flux handle to the broker over a port, a table for the requests
 * it serves (`<name>.*`) with flux-core's default methods (ping, stats-get,
 * stats-clear, rusage, debug, shutdown), and the RFC 5 lifecycle:
 *   main resolves            -> module.status RUNNING (the broker answers `module.load`)
 *   main throws / rejects    -> the message logged, EXITED with its errno (a load error)
 *   `<name>.shutdown`        -> FINALIZING (the broker stops routing to us), the
 *                               onShutdown hooks, EXITED 0, the thread/process ends
 *   an uncaught exception or unhandled rejection later -> logged, EXITED with an
 *                               errno, exit: the broker reports a runtime failure
 *
 * A module is a file exporting `mod_main(ctx, args)` (see README "Writing a module"),
 * loaded by broker/src/module/loader.ts; `runModule(main)` at the top level of a
 * module file does the same for modules written that way.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { errno, FluxError } from '../common/libflux/errno';
import { Flux } from '../common/libflux/handle';
import { FLAG_NORESPONSE, MSGTYPE_REQUEST, deriveErrorResponse, newMessage, setJson, type Message } from '../common/libflux/message';
import { PortTransport, type PortLike } from '../common/libflux/port-transport';
import { respondPing, respondRusage } from '../broker/ping';
import { ServiceTable, type RequestHandler, type Responder } from '../broker/service';
import { applyDebugOp } from './debug-flags';
import { logAppend } from './log-append';

export const MODULE_INIT = 0;
export const MODULE_RUNNING = 1;
export const MODULE_FINALIZING = 2;
export const MODULE_EXITED = 3;

export interface ModuleInit {
  name: string;
  uuid: string;
  rank: number;
  size: number;
  args: string[];
  attrs: Record<string, string>;
  /** The module file the loader runs (absolute). */
  path?: string;
}

const SEVERITIES = { emerg: 0, alert: 1, crit: 2, err: 3, warning: 4, notice: 5, info: 6, debug: 7 } as const;
export type Severity = keyof typeof SEVERITIES;

export interface ModuleContext {
  readonly h: Flux;
  readonly name: string;
  readonly uuid: string;
  readonly rank: number;
  readonly size: number;
  readonly args: string[];
  readonly attrs: Record<string, string>;
  /** Flags set with `flux module debug` (`<name>.debug`); their meaning is the module's. */
  readonly debugFlags: number;
  /** Serve `topic` (its service must be this module's name, or one added with `service.add`). */
  serve(topic: string, handler: RequestHandler): void;
  /** Called on `<name>.shutdown`, after the broker stopped routing requests here. */
  onShutdown(cb: () => void | Promise<void>): void;
  /** A line in the broker's log (`flux dmesg`) as `<name>.<severity>[rank]: text`. */
  log(severity: Severity, text: string): void;
  /** For modules that are plain files: errno numbers and the error type carrying one. */
  readonly errno: typeof errno;
  readonly FluxError: typeof FluxError;
}

export type ModuleMain = (ctx: ModuleContext, args: string[]) => void | Promise<void>;

/** How the loader ends the module: a thread exits its thread, a process flushes its channel first. */
export type ModuleExit = (code: number) => void;

/** The errno of whatever a module threw: a FluxError's, a Node system error's, else ECONNRESET as flux-core. */
export function errnumOf(e: unknown): number {
  const n = (e as { errnum?: unknown } | null)?.errnum;
  if (typeof n === 'number' && Number.isInteger(n) && n > 0) return n;
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code in errno) return errno[code as keyof typeof errno];
  return errno.ECONNRESET;
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Run `main` as module `init.name` over `port`; see the file comment for the lifecycle. */
export function startModule(port: PortLike | MessagePort, init: ModuleInit, main: ModuleMain, exit: ModuleExit): void {
  const h = Flux.attach(new PortTransport(port), `module://${init.name}`);
  h.ref();
  let finalizing = false;
  let ended = false;
  let debugFlags = 0;
  const services = new ServiceTable((m) => h.send(m), (s) => log('err', s));
  const shutdownHooks: (() => void | Promise<void>)[] = [];
  const send = (m: Message): void => {
    if (!h.isClosed) h.send(m);
  };
  const log = (severity: Severity, text: string): void => send(logAppend(init.rank, SEVERITIES[severity], init.name, text));
  const status = (code: number, err = 0, errstr?: string): void => {
    const m = newMessage(MSGTYPE_REQUEST, 'module.status');
    m.flags |= FLAG_NORESPONSE;
    // `errstr` is ours (flux-core ignores unknown keys): the text `flux module load` prints.
    setJson(m, err ? { status: code, errnum: err, ...(errstr ? { errstr } : {}) } : { status: code });
    send(m);
  };
  // The one way out: EXITED (with an errno when failing), then the thread/process ends.
  const end = (err: number, errstr?: string): void => {
    if (ended) return;
    ended = true;
    status(MODULE_EXITED, err, errstr);
    exit(err ? 1 : 0);
  };
  const crash = (what: string, e: unknown): void => {
    log('err', `${what}: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
    end(errnumOf(e), messageOf(e));
  };
  // Thrown later from a timer or a handler's promise: never silent, the broker is told.
  process.on('uncaughtException', (e) => crash('uncaught exception', e));
  process.on('unhandledRejection', (e) => crash('unhandled rejection', e));

  const ping: RequestHandler = (r: Responder) => respondPing(r, init.uuid, init.rank);
  // Default methods every module has (flux-core's libflux/method.c); a module may override them.
  services.register(`${init.name}.stats-get`, (r) => r.respond({ ...h.counters.toJSON() }));
  services.register(`${init.name}.stats-clear`, (r) => {
    h.counters.clear();
    r.respond({});
  });
  services.register(`${init.name}.rusage`, (r) => respondRusage(r));
  services.register(`${init.name}.debug`, (r) => {
    debugFlags = applyDebugOp(debugFlags, r.json());
    r.respond({ flags: debugFlags });
  });
  services.register(`${init.name}.shutdown`, async () => {
    if (finalizing) return;
    finalizing = true;
    // Wait for the broker's answer: after it, no new request is routed here (flux-core mutes the module).
    await h.rpc('module.status', { status: MODULE_FINALIZING }).get().catch(() => undefined);
    try {
      for (const cb of shutdownHooks) await cb();
    } catch (e) {
      crash('shutdown', e);
      return;
    }
    end(0);
  });
  h.onMessage((m) => {
    if (m.type !== MSGTYPE_REQUEST) return;
    // Requests that raced with our shutdown get ENOSYS, as flux-core answers post-shutdown requests.
    if (finalizing && m.topic !== `${init.name}.shutdown`) {
      if (!(m.flags & FLAG_NORESPONSE)) send(deriveErrorResponse(m, errno.ENOSYS));
      return;
    }
    services.dispatch(m, ping);
  });
  h.onDisconnect(() => {
    // The broker is gone (or closed our port): nothing left to serve.
    if (!ended) {
      ended = true;
      exit(0);
    }
  });
  const ctx: ModuleContext = {
    h,
    name: init.name,
    uuid: init.uuid,
    rank: init.rank,
    size: init.size,
    args: init.args,
    attrs: init.attrs,
    get debugFlags() {
      return debugFlags;
    },
    serve: (topic, handler) => services.register(topic, handler),
    onShutdown: (cb) => shutdownHooks.push(cb),
    log,
    errno,
    FluxError,
  };
  Promise.resolve()
    .then(() => main(ctx, init.args))
    .then(() => {
      if (!ended) status(MODULE_RUNNING);
    })
    .catch((e: unknown) => {
      log('err', messageOf(e));
      end(errnumOf(e), messageOf(e));
    });
}

/** Set by the loader while it requires a module file: `runModule(main)` hands `main` to it. */
const LOADER_HOOK = Symbol.for('flux.module.main');

export function setLoaderHook(cb: ((main: ModuleMain) => void) | undefined): void {
  (globalThis as Record<symbol, unknown>)[LOADER_HOOK] = cb;
}

/**
 * `runModule(async (ctx) => { ... })` at the top level of a module file. Under the
 * loader (the normal case) it hands `main` over; run directly as a worker script
 * (workerData = ModuleInit) it starts the module itself.
 */
export function runModule(main: ModuleMain): void {
  const hook = (globalThis as Record<symbol, unknown>)[LOADER_HOOK];
  if (typeof hook === 'function') {
    (hook as (m: ModuleMain) => void)(main);
    return;
  }
  if (!parentPort) throw new Error('a broker module runs in a broker worker thread');
  startModule(parentPort, workerData as ModuleInit, main, (code) => setImmediate(() => process.exit(code)));
}
