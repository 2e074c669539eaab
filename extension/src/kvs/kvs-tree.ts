/**
 * The KVS view: namespaces (`kvs.namespace-list`), then directories read on demand (one
 * READDIR lookup each; values that sit inline in the directory are shown shortened without
 * another request), paged: a directory shows PAGE entries, then a "Load more" item.
 */
import * as vscode from 'vscode';
import * as kvs from '../../../broker/src/common/libkvs/client';
import type { TreeObj } from '../../../broker/src/common/libkvs/treeobj';
import type { InstanceManager } from '../instance/instance-manager';
import { errorText, showError } from '../util/report';
import { kvsUri } from './kvs-uri';

export const KVS_PAGE = 200;

export class NamespaceNode {
  readonly kind = 'namespace';
  readonly key = '.';
  readonly parent = undefined;
  constructor(readonly namespace: string, readonly owner: number) {}
  get id(): string {
    return `flux.kvs.${this.namespace}:.`;
  }
}

export class KvsDirNode {
  readonly kind = 'dir';
  constructor(readonly namespace: string, readonly key: string, readonly name: string, readonly parent: KvsParent) {}
  get id(): string {
    return `flux.kvs.${this.namespace}:${this.key}`;
  }
}

export class KvsValueNode {
  readonly kind = 'value';
  constructor(readonly namespace: string, readonly key: string, readonly name: string, readonly entry: TreeObj | undefined, readonly parent: KvsParent) {}
  get id(): string {
    return `flux.kvs.${this.namespace}:${this.key}`;
  }
}

export class KvsMoreNode {
  readonly kind = 'more';
  constructor(readonly dir: KvsParent, readonly shown: number, readonly total: number) {}
  get parent(): KvsParent {
    return this.dir;
  }
  get id(): string {
    return `${this.dir.id}:more`;
  }
}

export type KvsParent = NamespaceNode | KvsDirNode;
export type KvsElement = NamespaceNode | KvsDirNode | KvsValueNode | KvsMoreNode;

/** A value for the description: printable text cut to `max` characters, or what it is. */
export function shortValue(entry: TreeObj | undefined, max = 48): string {
  if (!entry) return '';
  if (entry.type === 'symlink') return `→ ${entry.data.namespace ? `${entry.data.namespace}::` : ''}${entry.data.target}`;
  if (entry.type === 'valref') return `(${entry.data.length} blob${entry.data.length === 1 ? '' : 's'})`;
  if (entry.type !== 'val') return '';
  return shortBytes(Buffer.from(entry.data, 'base64'), max);
}

/** Printable text cut to `max` characters, or what the bytes are. */
export function shortBytes(buf: Buffer, max = 48): string {
  if (buf.length === 0) return '(empty)';
  const text = buf.toString('utf8');
  // eslint-disable-next-line no-control-regex
  if (text.includes('\uFFFD') || /[\x00-\x08\x0e-\x1f]/.test(text)) return `(${buf.length} bytes binary)`;
  const one = text.replace(/\s+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

function valrefKey(n: KvsValueNode): string {
  return `${n.namespace}:${n.entry?.type === 'valref' ? n.entry.data.join(',') : ''}`;
}

export class KvsTree implements vscode.TreeDataProvider<KvsElement> {
  private readonly changed = new vscode.EventEmitter<KvsElement | KvsElement[] | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly dirs = new Map<string, Promise<kvs.KVSDir>>();
  private readonly shown = new Map<string, number>();
  /** Shortened text of values stored as valrefs, by namespace and blobrefs (so a new value is fetched again). */
  private readonly valrefText = new Map<string, string>();

  constructor(private readonly instance: InstanceManager, private readonly log: vscode.LogOutputChannel) {}

  /** Forget what was read (expansion and pages shown are kept). Called only by the RefreshManager. */
  invalidate(): void {
    this.dirs.clear();
    this.changed.fire(undefined);
  }

  /** Show the next page of a directory ("Load more"). */
  loadMore(node: KvsMoreNode): void {
    this.shown.set(node.dir.id, node.shown + KVS_PAGE);
    this.changed.fire(node.dir);
  }

  getParent(node: KvsElement): KvsElement | undefined {
    return node.parent;
  }

  getTreeItem(node: KvsElement): vscode.TreeItem {
    switch (node.kind) {
      case 'namespace': {
        const item = new vscode.TreeItem(node.namespace, vscode.TreeItemCollapsibleState.Collapsed);
        item.id = node.id;
        item.description = `owner ${node.owner}`;
        item.iconPath = new vscode.ThemeIcon('database');
        item.contextValue = 'flux.kvs.namespace';
        item.resourceUri = kvsUri(node.namespace, '.');
        return item;
      }
      case 'dir': {
        const item = new vscode.TreeItem(node.name, vscode.TreeItemCollapsibleState.Collapsed);
        item.id = node.id;
        item.iconPath = vscode.ThemeIcon.Folder;
        item.contextValue = 'flux.kvs.dir';
        item.tooltip = `${node.key} (namespace ${node.namespace})`;
        item.resourceUri = kvsUri(node.namespace, node.key);
        return item;
      }
      case 'value': {
        const item = new vscode.TreeItem(node.name, vscode.TreeItemCollapsibleState.None);
        item.id = node.id;
        item.description = (node.entry?.type === 'valref' ? this.valrefText.get(valrefKey(node)) : undefined) ?? shortValue(node.entry);
        item.iconPath = new vscode.ThemeIcon(node.entry?.type === 'symlink' ? 'file-symlink-file' : 'symbol-string');
        item.contextValue = 'flux.kvs.value';
        item.tooltip = `${node.key} (namespace ${node.namespace})`;
        const uri = kvsUri(node.namespace, node.key);
        item.command = { command: 'vscode.open', title: 'Open Value', arguments: [uri] };
        return item;
      }
      case 'more': {
        const item = new vscode.TreeItem(`Load more… (${node.total - node.shown} more)`, vscode.TreeItemCollapsibleState.None);
        item.id = node.id;
        item.iconPath = new vscode.ThemeIcon('ellipsis');
        item.contextValue = 'flux.kvs.more';
        item.command = { command: 'flux.kvs.loadMore', title: 'Load More', arguments: [node] };
        return item;
      }
    }
  }

  async getChildren(node?: KvsElement): Promise<KvsElement[]> {
    const h = this.instance.flux;
    if (!h || this.instance.state !== 'running') return [];
    if (!node) {
      try {
        const list = await kvs.namespaceList(h);
        return list.sort((a, b) => a.namespace.localeCompare(b.namespace)).map((n) => new NamespaceNode(n.namespace, n.owner));
      } catch (e) {
        this.log.error(`kvs.namespace-list: ${errorText(e)}`);
        return [];
      }
    }
    if (node.kind !== 'namespace' && node.kind !== 'dir') return [];
    let dir: kvs.KVSDir;
    try {
      dir = await this.readDir(node);
    } catch (e) {
      showError(this.log, `KVS ${node.key} (namespace ${node.namespace})`, e);
      return [];
    }
    const names = dir.keys();
    const limit = Math.max(KVS_PAGE, this.shown.get(node.id) ?? KVS_PAGE);
    const out: KvsElement[] = names.slice(0, limit).map((n) => {
      const key = dir.keyAt(n);
      return dir.isDir(n) ? new KvsDirNode(node.namespace, key, n, node) : new KvsValueNode(node.namespace, key, n, dir.treeobjOf(n), node);
    });
    if (names.length > limit) out.push(new KvsMoreNode(node, limit, names.length));
    void this.fillValrefs(out);
    return out;
  }

  /**
   * Values too big to sit in their directory (valrefs) need a lookup each: done after the page
   * is shown, a few at a time, small ones only; their rows are then redrawn with the text.
   */
  private async fillValrefs(nodes: KvsElement[]): Promise<void> {
    const todo = nodes.filter((n): n is KvsValueNode => n.kind === 'value' && n.entry?.type === 'valref'
      && n.entry.data.length <= 4 && !this.valrefText.has(valrefKey(n)));
    const h = this.instance.flux;
    if (!h || todo.length === 0) return;
    const done: KvsValueNode[] = [];
    const worker = async (): Promise<void> => {
      for (let n = todo.shift(); n; n = todo.shift()) {
        try {
          const raw = (await kvs.lookup(h, n.key, { namespace: n.namespace })).raw();
          this.valrefText.set(valrefKey(n), shortBytes(raw));
          done.push(n);
        } catch {
          // gone or changed meanwhile: the next refresh shows it
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    if (this.valrefText.size > 10_000) this.valrefText.clear();
    if (done.length) this.changed.fire(done);
  }

  private readDir(node: KvsParent): Promise<kvs.KVSDir> {
    let p = this.dirs.get(node.id);
    if (!p) {
      p = kvs.KVSDir.open(this.instance.requireFlux(), node.key, { namespace: node.namespace });
      p.catch(() => this.dirs.delete(node.id));
      this.dirs.set(node.id, p);
    }
    return p;
  }
}
