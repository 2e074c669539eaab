/**
 * The inside of a broker module: runs in a worker thread of its broker. The
 * module gets a Flux handle (the same client library, over a MessagePort), a
 * table for the requests it serves (`<name>.*` plus `<name>.ping` by default),
 * and a shutdown hook. Lifecycle as RFC 5: the broker's `module.load` answers
 * once the module reports RUNNING; `<name>.shutdown` stops it; an exception
 * before RUNNING is a load error, after it an EXITED status with its errno.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { errno, FluxError } from '../common/libflux/errno';
import { Flux } from '../common/libflux/handle';
import { FLAG_NORESPONSE, MSGTYPE_REQUEST, newMessage, setJson } from '../common/libflux/message';
import { PortTransport } from '../common/libflux/port-transport';
import { respondPing, respondRusage } from '../broker/ping';
import { ServiceTable, type RequestHandler, type Responder } from '../broker/service';

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
}

export interface ModuleContext {
  readonly h: Flux;
  readonly name: string;
  readonly rank: number;
  readonly size: number;
  readonly args: string[];
  readonly attrs: Record<string, string>;
  /** Serve `topic` (its service must be this module's name, or one registered with addService). */
  serve(topic: string, handler: RequestHandler): void;
  /** Called on `<name>.shutdown` before the module thread ends. */
  onShutdown(cb: () => void | Promise<void>): void;
}

export type ModuleMain = (ctx: ModuleContext) => void | Promise<void>;

/** Entry point of every module bundle: `runModule(async (ctx) => { ... })`. */
export function runModule(main: ModuleMain): void {
  if (!parentPort) throw new Error('a broker module runs in a broker worker thread');
  const init = workerData as ModuleInit;
  const h = Flux.attach(new PortTransport(parentPort), `module://${init.name}`);
  h.ref();
  const services = new ServiceTable((m) => h.send(m), (s) => process.stderr.write(`${init.name}: ${s}\n`));
  const shutdownHooks: (() => void | Promise<void>)[] = [];
  const status = (code: number, err = 0): void => {
    const m = newMessage(MSGTYPE_REQUEST, 'module.status');
    m.flags |= FLAG_NORESPONSE;
    setJson(m, err ? { status: code, errnum: err } : { status: code });
    h.send(m);
  };
  // The default `<name>.ping`: the request echoed with the route it took, as flux-core answers.
  const ping: RequestHandler = (r: Responder) => respondPing(r, init.uuid, init.rank);
  // Default methods every module has (flux-core's libflux/method.c); a module may override them.
  services.register(`${init.name}.stats-get`, (r) => r.respond({ ...h.counters.toJSON() }));
  services.register(`${init.name}.stats-clear`, (r) => {
    h.counters.clear();
    r.respond({});
  });
  services.register(`${init.name}.rusage`, (r) => respondRusage(r));
  services.register(`${init.name}.shutdown`, async () => {
    status(MODULE_FINALIZING);
    for (const cb of shutdownHooks) await cb();
    status(MODULE_EXITED);
    // Let the status message go out before the thread ends.
    setImmediate(() => process.exit(0));
  });
  h.onMessage((m) => {
    if (m.type === MSGTYPE_REQUEST) services.dispatch(m, ping);
  });
  const ctx: ModuleContext = {
    h,
    name: init.name,
    rank: init.rank,
    size: init.size,
    args: init.args,
    attrs: init.attrs,
    serve: (topic, handler) => services.register(topic, handler),
    onShutdown: (cb) => shutdownHooks.push(cb),
  };
  Promise.resolve()
    .then(() => main(ctx))
    .then(() => status(MODULE_RUNNING))
    .catch((e: unknown) => {
      const n = e instanceof FluxError ? e.errnum : errno.EINVAL;
      process.stderr.write(`${init.name}: ${e instanceof Error ? e.message : String(e)}\n`);
      status(MODULE_EXITED, n);
      setImmediate(() => process.exit(1));
    });
}
