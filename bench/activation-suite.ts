/**
 * Bench-only extension-host entry (extensionTestsPath), bundled on the fly by bench/activation.ts
 * into out/bench/activation-suite.js with `vscode` external. run() activates the Flux extension,
 * reads `activationMs` (measured by activate() itself) from the API object it returns, times the
 * `await ext.activate()` call around it, writes both to the JSON file named by
 * $FLUX_BENCH_ACTIVATION_OUT (set in code-server's environment), and returns: the workbench then
 * closes the extension host and calls window.codeAutomationExit(0).
 */
import * as fs from 'node:fs';
// Runs inside the VS Code extension host, like test/e2e/suite (which the ESLint rule exempts).
import * as vscode from 'vscode';

const EXTENSION_ID = 'flux-vscode.flux-vscode';

export interface ActivationSample {
  ok: boolean;
  /** The extension was already active before our activate() call (then wallMs is ~0). */
  wasActive?: boolean;
  /** `activationMs` from the API object, if it is a number. */
  activationMs?: number;
  /** Wall time of `await ext.activate()` in the extension host. */
  wallMs?: number;
  /** How long the extension host process had been running when activation finished. */
  hostUptimeMs?: number;
  error?: string;
}

export async function run(): Promise<void> {
  const out = process.env.FLUX_BENCH_ACTIVATION_OUT;
  const write = (s: ActivationSample): void => {
    if (out) fs.writeFileSync(out, JSON.stringify(s));
  };
  try {
    const ext = vscode.extensions.getExtension(EXTENSION_ID);
    if (!ext) throw new Error(`extension ${EXTENSION_ID} is not loaded`);
    const wasActive = ext.isActive;
    const t0 = performance.now();
    const api: unknown = await ext.activate();
    const wallMs = performance.now() - t0;
    const hostUptimeMs = process.uptime() * 1000;
    const raw = typeof api === 'object' && api !== null ? (api as { activationMs?: unknown }).activationMs : undefined;
    if (typeof raw !== 'number' || !Number.isFinite(raw)) {
      throw new Error(`activate() returned no numeric activationMs (got ${typeof raw})`);
    }
    write({ ok: true, wasActive, activationMs: raw, wallMs, hostUptimeMs });
  } catch (e) {
    write({ ok: false, error: e instanceof Error ? e.message : String(e) });
    throw e;
  }
}
