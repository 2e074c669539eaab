// Entry of the suite that runs inside the VS Code extension host, bundled by esbuild into
// out/e2e/suite/index.js (`vscode` and `mocha` stay external; mocha 11 is required at runtime).
//
// Two ways in:
//  * as extensionTestsPath (e2e/exthost.js in code-server, or @vscode/test-electron): the host
//    calls run(); it installs mocha's tdd globals, defines the tests, runs them, and writes the
//    counts to $FLUX_E2E_RESULTS when that is set.
//  * as a mocha spec file (@vscode/test-cli, .vscode-test.mjs): its runner has already installed
//    the tdd globals when it loads this file, so the tests are defined right away.
import * as fs from 'fs';
import Mocha from 'mocha';
import { defineArchivesTests } from './archives.test';
import { defineBrokersTests } from './brokers.test';
import { defineInstanceTests } from './instance.test';
import { defineJobsTests } from './jobs.test';
import { defineKvsTests } from './kvs.test';
import { defineLspTests } from './lsp.test';
import { defineModulesTests } from './modules.test';
import { defineOpsTests } from './ops.test';
import { defineResourcesTests } from './resources.test';

function defineAll(): void {
  defineBrokersTests();
  defineModulesTests();
  defineOpsTests();
  defineKvsTests();
  defineArchivesTests();
  defineJobsTests();
  defineResourcesTests();
  defineLspTests();
  defineInstanceTests();
}

if (typeof (globalThis as { suite?: unknown }).suite === 'function') {
  defineAll();
}

interface Results {
  passes: number;
  failures: number;
  pending: number;
  failed: string[];
  tests: { title: string; state: string; durationMs?: number }[];
}

export function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'tdd', color: false, timeout: 60000, reporter: 'spec' });
  mocha.suite.emit('pre-require', globalThis, 'flux-e2e-suite', mocha);
  defineAll();

  return new Promise<void>((resolve, reject) => {
    const failed: string[] = [];
    const tests: Results['tests'] = [];
    const runner = mocha.run((failures) => {
      const s = runner.stats;
      const out = process.env.FLUX_E2E_RESULTS;
      if (out) {
        const r: Results = { passes: s?.passes ?? 0, failures: s?.failures ?? failures, pending: s?.pending ?? 0, failed, tests };
        fs.writeFileSync(out, JSON.stringify(r, null, 2));
      }
      if (failures > 0) reject(new Error(`${failures} test(s) failed`));
      else resolve();
    });
    runner.on('fail', (t: Mocha.Runnable, err: Error | undefined) => {
      failed.push(`${t.fullTitle()}: ${err?.message ?? String(err)}`);
    });
    runner.on('test end', (t: Mocha.Test) => {
      tests.push({ title: t.fullTitle(), state: t.state ?? (t.pending ? 'pending' : 'unknown'), durationMs: t.duration });
    });
  });
}
