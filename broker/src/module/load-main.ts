/**
 * Loading a module file and starting it under runtime.ts, whatever carries its
 * messages (a worker's parentPort, an exec'd process's IPC channel, or a
 * MessagePort of the broker's own thread). No side effects at import: the
 * broker itself uses it for modules it runs in its own thread.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import type { MessagePort } from 'node:worker_threads';
import { errno, FluxError } from '../common/libflux/errno';
import type { PortLike } from '../common/libflux/port-transport';
import { setLoaderHook, startModule, type ModuleExit, type ModuleInit, type ModuleMain } from './runtime';

/** import() that esbuild leaves alone (its CommonJS output would turn it into require). */
const importEsm = new Function('url', 'return import(url)') as (url: string) => Promise<Record<string, unknown>>;

/** The module's main: its `mod_main` export, or what it handed to runModule while being loaded. */
export async function loadMain(file: string): Promise<ModuleMain> {
  let viaRun: ModuleMain | undefined;
  setLoaderHook((m) => (viaRun = m));
  let exported: unknown;
  try {
    exported = /\.mjs$/.test(file) ? await importEsm(pathToFileURL(file).href) : createRequire(file)(file);
  } catch (e) {
    // flux-core: a DSO that will not dlopen() is ENOENT with dlerror()'s text.
    const text = e instanceof Error ? e.message.split('\n')[0] : String(e);
    throw new FluxError(errno.ENOENT, text);
  } finally {
    setLoaderHook(undefined);
  }
  const exp = exported as { mod_main?: unknown; default?: { mod_main?: unknown } } | undefined;
  const main = exp?.mod_main ?? exp?.default?.mod_main;
  if (typeof main === 'function') return main as ModuleMain;
  if (viaRun) return viaRun;
  throw new FluxError(errno.EINVAL, 'module does not define mod_main()');
}

/** Start the module; a load failure still goes through the runtime so the broker hears it as EXITED. */
export function run(port: PortLike | MessagePort, init: ModuleInit, exit: ModuleExit): void {
  loadMain(init.path ?? '').then(
    (main) => startModule(port, init, main, exit),
    (e: unknown) => startModule(port, init, () => {
      throw e;
    }, exit),
  );
}
