/**
 * Jobspec language server (issue 9): the bundled dist/server.js started as VS Code starts it
 * (a Node process over IPC), then, over that connection, the time from a full-text change to its
 * published diagnostics for a 50-line and a 5,000-line jobspec, and completion latency.
 * Target: diagnostics of a 5,000-line jobspec within 100 ms of a keystroke.
 */
import { fork } from 'node:child_process';
import * as path from 'node:path';
import { createMessageConnection, IPCMessageReader, IPCMessageWriter } from 'vscode-languageserver/node';
import type { PublishDiagnosticsParams } from 'vscode-languageserver';
import { ROOT } from './proc';
import { median, summarize, type Row } from './stats';

export interface LspResult {
  startMs: number[];
  diag50: number[];
  diag5000: number[];
  complete5000: number[];
  lines5000: number;
}

/** A valid jobspec of about `lines` lines: many environment variables and a long user section. */
export function bigJobspec(lines: number): string {
  const head = `version: 1
resources:
  - type: slot
    count: 4
    label: task
    with:
      - type: core
        count: 2
tasks:
  - command: [hostname]
    slot: task
    count:
      per_slot: 1
attributes:
  system:
    duration: 3600
    environment:
`;
  const out = [head];
  const n = Math.max(0, lines - head.split('\n').length - 2);
  for (let i = 0; i < n; i++) out.push(`      VAR_${i}: "value number ${i}"\n`);
  out.push('    cwd: /tmp\n');
  return out.join('');
}

export async function benchLsp(rounds: number, log: (s: string) => void): Promise<LspResult> {
  const res: LspResult = { startMs: [], diag50: [], diag5000: [], complete5000: [], lines5000: 0 };
  const small = bigJobspec(50);
  const big = bigJobspec(5000);
  res.lines5000 = big.split('\n').length;
  for (let r = 0; r < Math.max(1, Math.min(rounds, 3)); r++) {
    const t0 = performance.now();
    const child = fork(path.join(ROOT, 'dist', 'server.js'), ['--node-ipc'], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], execArgv: [] });
    const conn = createMessageConnection(new IPCMessageReader(child), new IPCMessageWriter(child));
    const waiting = new Map<string, (p: PublishDiagnosticsParams) => void>();
    conn.onNotification('textDocument/publishDiagnostics', (p: PublishDiagnosticsParams) => waiting.get(p.uri)?.(p));
    conn.listen();
    await conn.sendRequest('initialize', { processId: process.pid, rootUri: null, capabilities: {} });
    await conn.sendNotification('initialized', {});
    res.startMs.push(performance.now() - t0);
    const diag = async (uri: string, text: string, version: number): Promise<number> => {
      const got = new Promise<PublishDiagnosticsParams>((resolve) => waiting.set(uri, resolve));
      const t = performance.now();
      if (version === 1) await conn.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'flux-jobspec', version, text } });
      else await conn.sendNotification('textDocument/didChange', { textDocument: { uri, version }, contentChanges: [{ text }] });
      const p = await got;
      if (p.diagnostics.length !== 0) throw new Error(`unexpected diagnostics: ${p.diagnostics.map((d) => d.message).join('; ')}`);
      return performance.now() - t;
    };
    await diag('file:///bench/small.jobspec.yaml', small, 1);
    await diag('file:///bench/big.jobspec.yaml', big, 1);
    for (let i = 2; i < 12; i++) {
      // a keystroke: the text changes each time (a value grows by a character)
      res.diag50.push(await diag('file:///bench/small.jobspec.yaml', small.replace('hostname', `hostname${'x'.repeat(i)}`), i));
      res.diag5000.push(await diag('file:///bench/big.jobspec.yaml', big.replace('hostname', `hostname${'x'.repeat(i)}`), i));
      const t = performance.now();
      await conn.sendRequest('textDocument/completion', { textDocument: { uri: 'file:///bench/big.jobspec.yaml' }, position: { line: 2, character: 12 } });
      res.complete5000.push(performance.now() - t);
    }
    conn.dispose();
    child.kill();
    await new Promise((r2) => child.once('exit', r2));
    log(`lsp round ${r + 1}: start ${res.startMs.at(-1)?.toFixed(0)} ms, 5000-line diagnostics median ${median(res.diag5000).toFixed(1)} ms`);
  }
  return res;
}

export function lspRows(r: LspResult): Row[] {
  const row = (metric: string, xs: number[], notes: string): Row => ({ metric, ours: median(xs), runs: `${xs.length} runs`, note: `${notes}; max ${summarize(xs).max.toFixed(1)} ms` });
  return [
    row('language server start (fork + initialize)', r.startMs, 'dist/server.js over IPC'),
    row('diagnostics after a change, 50 lines', r.diag50, 'full-text change to publishDiagnostics'),
    row(`diagnostics after a change, ${r.lines5000} lines`, r.diag5000, 'target < 100 ms'),
    row(`completion, ${r.lines5000}-line document`, r.complete5000, 'resource type values'),
  ];
}
