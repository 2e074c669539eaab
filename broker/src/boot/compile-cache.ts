/**
 * Runs one of our large CommonJS bundles (the `flux` command line, the broker) through V8's code
 * cache. Parsing and compiling a 350 KB bundle costs every `flux` process 10–25 ms before it does
 * anything; with the code V8 produced last time, most of that is skipped. The cache sits beside
 * the bundle (`BUNDLE.cache`) and starts with a line naming the bundle it was made from (size and
 * mtime): V8 itself only compares the source's *length*, and a rebuilt bundle of the same length
 * with a stale cache runs the wrong code (a SyntaxError in a lazily compiled function). V8 also
 * refuses a cache from another V8 or other flags; either way we compile as usual and write a
 * fresh one when the process ends. Kept tiny on purpose: this file is what the process compiles
 * without a cache.
 */
import Module from 'node:module';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vm from 'node:vm';

type CjsWrapper = (exports: unknown, require: NodeJS.Require, module: Module, filename: string, dirname: string) => void;

/** What the cache must have been made from: the bundle's size and mtime. */
function stamp(file: string): string {
  const st = fs.statSync(file);
  return `${st.size}:${st.mtimeMs}\n`;
}

/** The V8 data of a cache made from this very bundle, else undefined. */
function readCache(cacheFile: string, want: string): Buffer | undefined {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(cacheFile);
  } catch {
    return undefined;
  }
  const head = Buffer.from(want, 'latin1');
  return buf.length > head.length && buf.subarray(0, head.length).equals(head) ? buf.subarray(head.length) : undefined;
}

export function runBundle(file: string): void {
  const cacheFile = `${file}.cache`;
  const want = stamp(file);
  const source = fs.readFileSync(file, 'utf8');
  const cachedData = readCache(cacheFile, want);
  const script = new vm.Script(Module.wrap(source), { filename: file, cachedData });
  if (cachedData === undefined || script.cachedDataRejected === true) {
    // Written at exit, so that the functions this run compiled are in it too.
    process.once('exit', () => saveCache(script, cacheFile, want));
  }
  const dir = path.dirname(file);
  const mod = new Module(file);
  mod.filename = file;
  mod.paths = (Module as unknown as { _nodeModulePaths(d: string): string[] })._nodeModulePaths(dir);
  const fn = script.runInThisContext() as CjsWrapper;
  fn.call(mod.exports, mod.exports, Module.createRequire(file), mod, file, dir);
}

function saveCache(script: vm.Script, cacheFile: string, stampLine: string): void {
  // Beside the bundle when that directory is ours to write; elsewhere the process simply goes uncached.
  const tmp = `${cacheFile}.${process.pid}`;
  try {
    fs.writeFileSync(tmp, Buffer.concat([Buffer.from(stampLine, 'latin1'), script.createCachedData()]));
    fs.renameSync(tmp, cacheFile);
  } catch {
    try {
      fs.unlinkSync(tmp);
    } catch {
      // nothing was written
    }
  }
}
