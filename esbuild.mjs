// One bundle per entry. `zeromq` and `better-sqlite3` stay external (native addons, loaded from node_modules);
// `vscode` is provided by the extension host.
import * as esbuild from 'esbuild';

const watch = process.argv.includes('--watch');
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: 'linked',
  logLevel: 'warning',
  external: ['zeromq', 'vscode', 'better-sqlite3'],
};

const entries = [
  // broker process: one per rank, spawned by `flux start` (or the extension)
  // (each big bundle has a tiny entry that runs it through V8's code cache: broker/src/boot/)
  { entryPoints: ['broker/src/main.ts'], outfile: 'dist/broker-main.js' },
  { entryPoints: ['broker/src/boot/broker-bin.ts'], outfile: 'dist/broker.js' },
  // the small process each broker spawns its subprocesses from (fork(2) cost grows with the parent's memory)
  { entryPoints: ['broker/src/broker/spawner-main.ts'], outfile: 'dist/spawner.js' },
  // broker modules: one bundle each, loaded into a broker's worker thread
  { entryPoints: ['broker/src/modules/heartbeat/heartbeat.ts'], outfile: 'dist/modules/heartbeat.js' },
  // content store and KVS (issue 5): content on every rank, content-sqlite on rank 0, kvs on every rank
  { entryPoints: ['broker/src/modules/content/content.ts'], outfile: 'dist/modules/content.js' },
  { entryPoints: ['broker/src/modules/content-sqlite/content-sqlite.ts'], outfile: 'dist/modules/content-sqlite.js' },
  { entryPoints: ['broker/src/modules/kvs/kvs.ts'], outfile: 'dist/modules/kvs.js' },
  { entryPoints: ['broker/src/modules/kvs-watch/kvs-watch.ts'], outfile: 'dist/modules/kvs-watch.js' },
  { entryPoints: ['broker/src/modules/resource/resource.ts'], outfile: 'dist/modules/resource.js' },
  // the job pipeline (issue 8)
  ...['job-manager', 'job-ingest', 'job-list', 'job-info', 'job-exec', 'sched-simple'].map((m) => ({ entryPoints: [`broker/src/modules/${m}/${m}.ts`], outfile: `dist/modules/${m}.js` })),
  // Fluxion (issue 10): the graph scheduler's three modules
  ...['sched-fluxion-resource', 'sched-fluxion-qmanager', 'sched-fluxion-feasibility'].map((m) => ({ entryPoints: [`broker/src/modules/${m}/${m}.ts`], outfile: `dist/modules/${m}.js` })),
  // what hosts a module: the worker thread's script, or the `--exec` child process (module-exec)
  { entryPoints: ['broker/src/module/loader.ts'], outfile: 'dist/module-loader.js' },
  // the `flux` command line
  { entryPoints: ['broker/src/cmd/flux.ts'], outfile: 'dist/flux-main.js' },
  { entryPoints: ['broker/src/boot/flux-bin.ts'], outfile: 'dist/flux.js', banner: { js: '#!/usr/bin/env node' } },
  // webviews: one bundle per panel, for the browser (no Node), plus its stylesheet
  { entryPoints: ['webviews/tbon/main.ts'], outfile: 'dist/webviews/tbon.js', platform: 'browser', format: 'iife', target: 'es2022', external: [] },
  { entryPoints: ['webviews/tbon/style.css'], outfile: 'dist/webviews/tbon.css', platform: 'browser', external: [] },
  { entryPoints: ['webviews/resources/main.ts'], outfile: 'dist/webviews/resources.js', platform: 'browser', format: 'iife', target: 'es2022', external: [] },
  { entryPoints: ['webviews/resources/style.css'], outfile: 'dist/webviews/resources.css', platform: 'browser', external: [] },
  // the jobspec language server (issue 9), a process of its own started by the extension
  { entryPoints: ['server/src/main.ts'], outfile: 'dist/server.js' },
  // VS Code extension host
  { entryPoints: ['extension/src/main.ts'], outfile: 'dist/extension.js' },
  // suite that runs inside the extension host (mocha, `vscode` API)
  { entryPoints: ['test/e2e/suite/index.ts'], outfile: 'out/e2e/suite/index.js', external: ['zeromq', 'vscode', 'mocha'] },
];

// dist/bin/flux: the `flux` that programs run inside an instance find first on PATH.
import { mkdirSync, writeFileSync, chmodSync } from 'node:fs';
mkdirSync('dist/bin', { recursive: true });
writeFileSync('dist/bin/flux', "#!/usr/bin/env node\nrequire('../flux.js');\n");
chmodSync('dist/bin/flux', 0o755);
// the Python side of `flux modprobe run FILE.py` (flux-core style rc files)
import { copyFileSync } from 'node:fs';
mkdirSync('dist/python', { recursive: true });
copyFileSync('broker/python/modprobe_shim.py', 'dist/python/modprobe_shim.py');

if (watch) {
  for (const e of entries) {
    const ctx = await esbuild.context({ ...common, ...e });
    await ctx.watch();
  }
} else {
  await Promise.all(entries.map((e) => esbuild.build({ ...common, ...e })));
}
