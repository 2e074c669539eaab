/**
 * Read-only documents about one rank, served under the `flux-info:` scheme:
 *   flux-info:/rank-N.attributes  — `attr.list` then `attr.get` each, sent to rank N (as `flux lsattr -v`)
 *   flux-info:/rank-N.dmesg       — that rank's log ring (`log.dmesg`, streaming, to rank N)
 * Opening one again re-reads it.
 */
import * as vscode from 'vscode';
import type { Flux } from '../../../broker/src/common/libflux/handle';
import { FLAG_STREAMING } from '../../../broker/src/common/libflux/message';
import { DmesgPrinter } from '../../../broker/src/cmd/dmesg';
import type { InstanceManager } from '../instance/instance-manager';

export const INFO_SCHEME = 'flux-info';
export type InfoKind = 'attributes' | 'dmesg';

export function infoUri(rank: number, kind: InfoKind): vscode.Uri {
  return vscode.Uri.from({ scheme: INFO_SCHEME, path: `/rank-${rank}.${kind}` });
}

export async function rankAttributes(h: Flux, rank: number): Promise<string> {
  const { names } = await h.rpc('attr.list', {}, { nodeid: rank }).get<{ names: string[] }>();
  const sorted = [...names].sort();
  const values = await Promise.all(
    sorted.map((name) => h.rpc('attr.get', { name }, { nodeid: rank }).get<{ value: string }>().then((r) => r.value, () => '-')),
  );
  return sorted.map((n, i) => `${n.padEnd(39)} ${values[i]}`).join('\n') + '\n';
}

/** One line as `flux dmesg` prints it (UTC timestamp as recorded). */
const printer = new DmesgPrinter(false, false, false);

/** One log line as `flux dmesg` prints it. */
export function formatLogLine(line: string): string {
  return printer.format(line);
}

export async function rankDmesg(h: Flux, rank: number): Promise<string> {
  const lines: string[] = [];
  const rpc = h.rpc('log.dmesg', { follow: false, nobacklog: false }, { nodeid: rank, flags: FLAG_STREAMING });
  for await (const m of rpc) {
    const raw = m.payload ?? Buffer.alloc(0);
    const nul = raw.indexOf(0);
    lines.push(formatLogLine(raw.toString('utf8', 0, nul < 0 ? raw.length : nul)));
  }
  return lines.join('\n') + '\n';
}

export class InfoDocuments implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;

  constructor(private readonly instance: InstanceManager) {}

  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const m = /^\/rank-(\d+)\.(attributes|dmesg)$/.exec(uri.path);
    if (!m) throw new Error(`${uri.toString()}: no such Flux document`);
    const h = this.instance.requireFlux();
    const rank = Number(m[1]);
    return m[2] === 'attributes' ? rankAttributes(h, rank) : rankDmesg(h, rank);
  }

  /** Open (or re-read, when already open) the document; resolves to it. */
  async open(rank: number, kind: InfoKind): Promise<vscode.TextDocument> {
    const uri = infoUri(rank, kind);
    const already = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
    if (already) this.changed.fire(uri);
    const doc = await vscode.workspace.openTextDocument(uri);
    await vscode.window.showTextDocument(doc, { preview: false });
    return doc;
  }

  dispose(): void {
    this.changed.dispose();
  }
}
