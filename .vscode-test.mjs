// `npx vscode-test` (@vscode/test-cli) on a machine that can download VS Code: runs the same
// in-extension-host suite as e2e/exthost.js does in code-server. Build first: `npm run build`.
// (On this project's offline CI, VS Code cannot be downloaded: `npm run test:e2e` uses code-server.)
import { defineConfig } from '@vscode/test-cli';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

// A scratch workspace folder: the suite writes flux.instance.* workspace settings into it.
const workspaceFolder = path.join(os.tmpdir(), 'flux-vscode-test-workspace');
fs.mkdirSync(workspaceFolder, { recursive: true });

export default defineConfig({
  label: 'e2e',
  files: 'out/e2e/suite/index.js',
  version: process.env.VSCODE_TEST_VERSION || 'stable',
  workspaceFolder,
  launchArgs: ['--disable-extensions', '--disable-workspace-trust'],
  mocha: { ui: 'tdd', timeout: 60000, color: false },
});
