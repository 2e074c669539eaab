/** The Archives view: each archive under `archive.` (files, size), expanding to its entries. */
import * as vscode from 'vscode';
import type { Entry } from '../../../broker/src/common/libfilemap/fileref';
import type { InstanceManager } from '../instance/instance-manager';
import { errorText } from '../util/report';
import { listArchives, type ArchiveSummary } from './archive-lib';

export class ArchiveNode {
  readonly kind = 'archive';
  readonly parent = undefined;
  constructor(readonly summary: ArchiveSummary) {}
  get name(): string {
    return this.summary.name;
  }
}

export class ArchiveEntryNode {
  readonly kind = 'entry';
  constructor(readonly entry: Entry, readonly parent: ArchiveNode) {}
}

export type ArchivesElement = ArchiveNode | ArchiveEntryNode;

export function humanSize(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = -1;
  do {
    v /= 1024;
    i++;
  } while (v >= 1024 && i < units.length - 1);
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

export class ArchivesTree implements vscode.TreeDataProvider<ArchivesElement> {
  private readonly changed = new vscode.EventEmitter<ArchivesElement | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private archives: Promise<ArchiveSummary[]> | undefined;

  constructor(private readonly instance: InstanceManager, private readonly log: vscode.LogOutputChannel) {}

  /** Called only by the RefreshManager. */
  invalidate(): void {
    this.archives = undefined;
    this.changed.fire(undefined);
  }

  getParent(node: ArchivesElement): ArchivesElement | undefined {
    return node.parent;
  }

  /** The archives as last read (quick picks use it). */
  async list(): Promise<ArchiveSummary[]> {
    const h = this.instance.flux;
    if (!h || this.instance.state !== 'running') return [];
    this.archives ??= listArchives(h).catch((e: unknown) => {
      this.log.error(`archives: ${errorText(e)}`);
      this.archives = undefined;
      return [];
    });
    return this.archives;
  }

  async getChildren(node?: ArchivesElement): Promise<ArchivesElement[]> {
    if (!node) return (await this.list()).map((a) => new ArchiveNode(a));
    if (node.kind === 'archive') return node.summary.entries.map((e) => new ArchiveEntryNode(e, node));
    return [];
  }

  getTreeItem(node: ArchivesElement): vscode.TreeItem {
    if (node.kind === 'archive') {
      const s = node.summary;
      const item = new vscode.TreeItem(s.name, vscode.TreeItemCollapsibleState.Collapsed);
      item.id = `flux.archive.${s.name}`;
      item.description = `${s.files} file${s.files === 1 ? '' : 's'}, ${humanSize(s.bytes)}`;
      item.iconPath = new vscode.ThemeIcon('archive');
      item.contextValue = 'flux.archive';
      item.tooltip = `archive.${s.name}: ${s.entries.length} entries, ${s.files} files, ${s.bytes} bytes`;
      return item;
    }
    const e = node.entry;
    const item = new vscode.TreeItem(e.path, vscode.TreeItemCollapsibleState.None);
    item.id = `flux.archive.${node.parent.name}/${e.path}`;
    const mode = `0${(e.mode & 0o7777).toString(8)}`;
    item.description = e.kind === 'symlink' ? `→ ${e.target ?? ''}` : e.kind === 'dir' ? mode : `${humanSize(e.size ?? e.inline?.length ?? 0)}, ${mode}`;
    item.iconPath = new vscode.ThemeIcon(e.kind === 'dir' ? 'folder' : e.kind === 'symlink' ? 'file-symlink-file' : 'file');
    item.contextValue = 'flux.archive.entry';
    return item;
  }
}
