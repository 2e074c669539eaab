/**
 * Runs one of our large CommonJS bundles (the `flux` command line, the broker) through V8's code
 * cache. Parsing and compiling a 350 KB bundle costs every `flux` process 10–25 ms before it does
 * anything; with the code V8 produced last time, most of that is skipped. The cache sits beside
 * the bundle (`BUNDLE.cache`); V8 refuses one made from other source or by another V8, and then we
 * compile as usual and write a fresh one when the process ends. Kept tiny on purpose: this file is
 * what the process compiles without a cache.
 */
import Module from 'node:module';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vm from 'node:vm';

type CjsWrapper = (exports: unknown, require: NodeJS.Require, module: Module, filename: string, dirname: string) => void;

export function runBundle(file: string): void {
  const cacheFile = `${file}.cache`;
  const source = fs.readFileSync(file, 'utf8');
  let cachedData: Buffer | undefined;
  try {
    cachedData = fs.readFileSync(cacheFile);
  } catch {
    cachedData = undefined;
  }
  const script = new vm.Script(Module.wrap(source), { filename: file, cachedData });
  if (cachedData === undefined || script.cachedDataRejected === true) {
    // Written at exit, so that the functions this run compiled are in it too.
    process.once('exit', () => saveCache(script, cacheFile));
  }
  const dir = path.dirname(file);
  const mod = new Module(file);
  mod.filename = file;
  mod.paths = (Module as unknown as { _nodeModulePaths(d: string): string[] })._nodeModulePaths(dir);
  const fn = script.runInThisContext() as CjsWrapper;
  fn.call(mod.exports, mod.exports, Module.createRequire(file), mod, file, dir);
}

function saveCache(script: vm.Script, cacheFile: string): void {
  // Beside the bundle when that directory is ours to write; elsewhere the process simply goes uncached.
  const tmp = `${cacheFile}.${process.pid}`;
  try {
    fs.writeFileSync(tmp, script.createCachedData());
    fs.renameSync(tmp, cacheFile);
  } catch {
    try {
      fs.unlinkSync(tmp);
    } catch {
      // nothing was written
    }
  }
}
