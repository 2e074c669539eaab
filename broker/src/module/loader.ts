/**
 * dist/module-loader.js: what a broker runs to host one module, in either of
 * flux-core's two ways:
 *   - a worker thread of the broker (the default): workerData carries the
 *     ModuleInit, the thread's parentPort carries the messages;
 *   - `flux module load --exec`: a child process of the broker (flux-core's
 *     module-exec loader) with a Node IPC channel; its first message is the
 *     broker's `welcome` request carrying the ModuleInit, as flux-core sends one.
 * Either way the messages are RFC 3 messages in usock framing, one per
 * postMessage, and the module file is required here: its `mod_main(ctx, args)`
 * export (or what it passes to runModule) runs under runtime.ts.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { getJson } from '../common/libflux/message';
import type { PortLike } from '../common/libflux/port-transport';
import { UsockDecoder } from '../common/libflux/usock';
import { type ModuleInit } from './runtime';
import { run } from './load-main';

/** The child's end of the broker's IPC channel, shaped like a MessagePort. */
class ProcessPort implements PortLike {
  private inflight = 0;
  private drained: (() => void)[] = [];

  postMessage(v: unknown): void {
    if (!process.connected) return;
    this.inflight++;
    process.send?.(v, undefined, {}, () => {
      if (--this.inflight === 0) for (const cb of this.drained.splice(0)) cb();
    });
  }
  on(ev: 'message' | 'close', cb: ((v: unknown) => void) | (() => void)): this {
    if (ev === 'message') process.on('message', cb as (v: unknown) => void);
    else process.on('disconnect', cb as () => void);
    return this;
  }
  close(): void {
    if (process.connected) process.disconnect();
  }
  ref(): void {
    process.channel?.ref();
  }
  unref(): void {
    process.channel?.unref();
  }
  /** Resolve once every message sent so far has been handed to the channel. */
  flush(): Promise<void> {
    return this.inflight === 0 ? Promise.resolve() : new Promise((r) => this.drained.push(r));
  }
}

function execMode(): void {
  const port = new ProcessPort();
  // The broker went away (its end of the channel closed): a module process never outlives it.
  process.on('disconnect', () => process.exit(0));
  const decoder = new UsockDecoder();
  const first = (v: unknown): void => {
    if (!(v instanceof Uint8Array)) return;
    const [welcome] = decoder.push(Buffer.from(v.buffer, v.byteOffset, v.byteLength));
    if (!welcome || welcome.topic !== 'welcome') return;
    process.off('message', first);
    const init = getJson<ModuleInit>(welcome);
    process.title = `flux-module-${init.name}`;
    run(port, init, (code) => void port.flush().then(() => process.exit(code)));
  };
  process.on('message', first);
}

if (!isMainThread && parentPort) {
  run(parentPort, (workerData as { init: ModuleInit }).init, (code) => setImmediate(() => process.exit(code)));
} else if (process.send) {
  execMode();
} else {
  process.stderr.write('module-loader: run by a flux broker (worker thread or --exec child), not directly\n');
  process.exit(1);
}
