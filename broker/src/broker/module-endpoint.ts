/**
 * Where a broker module runs: a worker thread of the broker (the default) or,
 * for `flux module load --exec`, a child process with a Node IPC channel (the
 * broker's side of flux-core's module-exec loader). Both carry RFC 3 messages
 * in usock framing, one per postMessage, and report how the module ended.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { inThreadChannel } from './inthread-channel';
import { run as runModuleFile } from '../module/load-main';
import { MSGTYPE_REQUEST, FLAG_NORESPONSE, newMessage, setJson } from '../common/libflux/message';
import { encodeUsock } from '../common/libflux/usock';
import { startModule, type ModuleInit, type ModuleMain } from '../module/runtime';

/** How a module's thread or process ended, for the log when the module could not say so itself. */
export interface EndpointExit {
  code: number | null;
  /** `exited with status 1`, `killed by Segmentation fault`. */
  description: string;
}

export interface Endpoint {
  readonly exec: boolean;
  /** The module process's pid (a thread's is the broker's own). */
  readonly pid: number;
  post(buf: Buffer): void;
  /** Stop it now, whatever it is doing (a busy loop included). */
  kill(): void;
  onMessage(cb: (buf: Buffer) => void): void;
  onExit(cb: (e: EndpointExit) => void): void;
  /** Errors of the thread/process machinery itself (not the module's: those it reports). */
  onError(cb: (e: Error) => void): void;
}

function asBuffer(v: unknown): Buffer | undefined {
  return v instanceof Uint8Array ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : undefined;
}

export function threadEndpoint(loader: string, init: ModuleInit): Endpoint {
  const w = new Worker(loader, { workerData: { init } });
  return {
    exec: false,
    pid: process.pid,
    post: (buf) => {
      // A buffer with an ArrayBuffer of its own (encodeUsock's, past Node's 4 KiB pool) is handed
      // over, not copied: the host never touches a message again once posted.
      if (buf.byteOffset === 0 && buf.byteLength === buf.buffer.byteLength && buf.byteLength > 4096) w.postMessage(buf, [buf.buffer as ArrayBuffer]);
      else w.postMessage(buf);
    },
    kill: () => void w.terminate(),
    onMessage: (cb) => w.on('message', (v: unknown) => {
      const b = asBuffer(v);
      if (b) cb(b);
    }),
    onExit: (cb) => w.on('exit', (code) => cb({ code, description: `exited with status ${code}` })),
    onError: (cb) => w.on('error', cb),
  };
}

/**
 * A module run in the broker's own thread, over an in-thread channel: for the small
 * modules this build ships and trusts (heartbeat), where a thread of its own
 * would cost about 10 MB per broker for a timer. Same messages, same lifecycle;
 * what it cannot do is be stopped while its code runs, so only our own modules
 * with no long-running work go here.
 */
export function inlineEndpoint(init: ModuleInit, main?: () => Promise<ModuleMain>): Endpoint {
  const { port1, port2 } = inThreadChannel();
  let exitCb: ((e: EndpointExit) => void) | undefined;
  let exited = false;
  const finish = (code: number): void => {
    if (exited) return;
    exited = true;
    port1.close();
    port2.close();
    exitCb?.({ code, description: `exited with status ${code}` });
  };
  // Start on the next turn so the host has its handlers in place, as with a thread. When the
  // module ends, closing its port lets every message it sent arrive first (then 'close').
  let exitCode = 0;
  port1.once('close', () => finish(exitCode));
  const exit = (code: number): void => {
    exitCode = code;
    port2.close();
  };
  // A module compiled into the broker starts from its main; any other is loaded from its file.
  setImmediate(() => {
    if (!main) {
      runModuleFile(port2, init, exit);
      return;
    }
    main().then(
      (m) => startModule(port2, init, m, exit),
      (e: unknown) => startModule(port2, init, () => {
        throw e;
      }, exit),
    );
  });
  return {
    exec: false,
    pid: process.pid,
    post: (buf) => {
      if (!exited) port1.postMessage(buf);
    },
    kill: () => finish(1),
    onMessage: (cb) => port1.on('message', (v: unknown) => {
      const b = asBuffer(v);
      if (b) cb(b);
    }),
    onExit: (cb) => (exitCb = cb),
    onError: () => {},
  };
}

const SIGNAL_TEXT: Record<string, string> = {
  SIGKILL: 'Killed',
  SIGTERM: 'Terminated',
  SIGSEGV: 'Segmentation fault',
  SIGABRT: 'Aborted',
  SIGBUS: 'Bus error',
  SIGINT: 'Interrupt',
  SIGHUP: 'Hangup',
};

export function execEndpoint(loader: string, init: ModuleInit): Endpoint {
  const child: ChildProcess = fork(loader, [], {
    execArgv: [],
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  // flux-core's first message to an exec'd module: `welcome` with its name, uuid, args and attributes.
  const welcome = newMessage(MSGTYPE_REQUEST, 'welcome');
  welcome.flags |= FLAG_NORESPONSE;
  setJson(welcome, { ...init, conf: {} });
  child.send(encodeUsock(welcome));
  let exited = false;
  child.once('exit', () => (exited = true));
  return {
    exec: true,
    pid: child.pid ?? -1,
    post: (buf) => {
      if (child.connected) child.send(buf);
    },
    kill: () => {
      if (!exited) child.kill('SIGKILL');
    },
    onMessage: (cb) => child.on('message', (v: unknown) => {
      const b = asBuffer(v);
      if (b) cb(b);
    }),
    onExit: (cb) => {
      child.once('exit', (code, signal) => cb({
        code,
        description: signal ? `killed by ${SIGNAL_TEXT[signal] ?? signal}` : `exited with status ${code}`,
      }));
      // A process that never started has no 'exit' to report: say so, or its load would wait forever.
      child.once('error', (e) => {
        if (child.pid === undefined) cb({ code: null, description: `could not start: ${e.message}` });
      });
    },
    onError: (cb) => child.on('error', cb),
  };
}
