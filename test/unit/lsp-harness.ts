/** An in-memory client/server pair for the jobspec language server tests. */
import { PassThrough } from 'node:stream';
import { createConnection, createMessageConnection, StreamMessageReader, StreamMessageWriter, type MessageConnection } from 'vscode-languageserver/node';
import type { Diagnostic, PublishDiagnosticsParams } from 'vscode-languageserver';
import { startServer, type FeasibilityAnswer } from '../../server/src/server';

export interface Pair {
  client: MessageConnection;
  open(uri: string, text: string, version?: number, languageId?: string): Promise<Diagnostic[]>;
  change(uri: string, text: string, version: number): Promise<Diagnostic[]>;
  /** Next diagnostics published for uri. */
  nextDiagnostics(uri: string): Promise<Diagnostic[]>;
  close(): void;
}

export async function startPair(opts: { feasibility?: (jobspec: unknown) => FeasibilityAnswer } = {}): Promise<Pair> {
  const up = new PassThrough();
  const down = new PassThrough();
  const serverConn = createConnection(new StreamMessageReader(up), new StreamMessageWriter(down));
  startServer(serverConn);
  const client = createMessageConnection(new StreamMessageReader(down), new StreamMessageWriter(up));
  const waiters = new Map<string, ((d: Diagnostic[]) => void)[]>();
  client.onNotification('textDocument/publishDiagnostics', (p: PublishDiagnosticsParams) => {
    const w = waiters.get(p.uri)?.shift();
    if (w) w(p.diagnostics);
  });
  if (opts.feasibility) {
    const f = opts.feasibility;
    client.onRequest('flux/feasibility', (p: { jobspec: unknown }) => f(p.jobspec));
  }
  client.listen();
  await client.sendRequest('initialize', { processId: null, rootUri: null, capabilities: { experimental: { fluxFeasibility: !!opts.feasibility } } });
  await client.sendNotification('initialized', {});
  const nextDiagnostics = (uri: string): Promise<Diagnostic[]> => new Promise((resolve) => {
    const l = waiters.get(uri) ?? [];
    l.push(resolve);
    waiters.set(uri, l);
  });
  return {
    client,
    nextDiagnostics,
    async open(uri, text, version = 1, languageId = 'flux-jobspec') {
      const p = nextDiagnostics(uri);
      await client.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId, version, text } });
      return p;
    },
    async change(uri, text, version) {
      const p = nextDiagnostics(uri);
      await client.sendNotification('textDocument/didChange', { textDocument: { uri, version }, contentChanges: [{ text }] });
      return p;
    },
    close() {
      client.dispose();
      serverConn.dispose();
      up.destroy();
      down.destroy();
    },
  };
}
