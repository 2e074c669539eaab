/**
 * The Brokers view's items: a rank (TBON-shaped, its children below), its "modules" folder
 * (filled lazily by `module.list` sent to that rank), and one module.
 */
import * as vscode from 'vscode';
import type { TopologyNode } from '../../../broker/src/broker/topology';
import type { ModuleInfo } from '../../../broker/src/module/module-info';
import { moduleState } from '../modules/modules-api';

export type BrokerState = 'online' | 'lost' | 'offline';

/** What `overlay.health` says of a child link: full/partial/degraded are up, lost and offline are not. */
export function healthState(status: string): BrokerState {
  return status === 'lost' ? 'lost' : status === 'offline' ? 'offline' : 'online';
}

export class BrokerNode {
  readonly kind = 'broker';
  /** `states`: what the ranks' parents report (overlay.health); a rank below a lost one is lost too. */
  constructor(readonly topo: TopologyNode, private readonly states: ReadonlyMap<number, BrokerState>, readonly parent?: BrokerNode) {}

  get rank(): number {
    return this.topo.rank;
  }

  get state(): BrokerState {
    if (this.parent && this.parent.state !== 'online') return this.parent.state;
    return this.states.get(this.rank) ?? 'online';
  }

  children(): BrokerNode[] {
    return this.topo.children.map((c) => new BrokerNode(c, this.states, this));
  }

  treeItem(): vscode.TreeItem {
    const item = new vscode.TreeItem(
      `rank ${this.rank}`,
      this.topo.children.length > 0 ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed,
    );
    item.id = `flux.broker.${this.rank}`;
    item.description = this.state;
    // Rank 0 is the instance itself: Kill / Restart Broker apply to the others only.
    item.contextValue = `flux.broker.${this.state}${this.rank === 0 ? '.leader' : ''}`;
    const color = this.state === 'online' ? 'testing.iconPassed' : this.state === 'lost' ? 'testing.iconFailed' : 'disabledForeground';
    item.iconPath = new vscode.ThemeIcon('server', new vscode.ThemeColor(color));
    const below = this.topo.size - 1;
    item.tooltip = new vscode.MarkdownString(
      `**rank ${this.rank}** — ${this.state}\n\n${below === 0 ? 'no brokers below' : `${below} broker${below === 1 ? '' : 's'} below`}` +
        (this.parent ? `\n\nparent: rank ${this.parent.rank}` : '\n\nleader (rank 0)'),
    );
    return item;
  }
}

/** "modules" under a rank: expands to what `module.list` on that rank answers. */
export class ModulesNode {
  readonly kind = 'modules';
  constructor(readonly parent: BrokerNode) {}

  get rank(): number {
    return this.parent.rank;
  }

  treeItem(): vscode.TreeItem {
    const item = new vscode.TreeItem('modules', vscode.TreeItemCollapsibleState.Collapsed);
    item.id = `flux.broker.${this.rank}.modules`;
    item.contextValue = 'flux.modules';
    item.iconPath = new vscode.ThemeIcon('extensions');
    item.tooltip = `Modules loaded on rank ${this.rank} (module.list)`;
    return item;
  }
}

export class ModuleNode {
  readonly kind = 'module';
  constructor(readonly info: ModuleInfo, readonly parent: ModulesNode) {}

  get rank(): number {
    return this.parent.rank;
  }

  get name(): string {
    return this.info.name;
  }

  /** Built into the broker (connector-local, groups, ...): not removable. */
  get builtin(): boolean {
    return this.info.path === 'builtin';
  }

  treeItem(): vscode.TreeItem {
    const m = this.info;
    const item = new vscode.TreeItem(m.name, vscode.TreeItemCollapsibleState.None);
    item.id = `flux.broker.${this.rank}.module.${m.name}`;
    const idle = m.idle > 99 ? 'idle' : `idle ${m.idle}s`;
    const extra = m.services.filter((s) => s !== m.name);
    item.description = `${moduleState(m.status)}, ${idle}${extra.length ? ` · ${extra.join(',')}` : ''}`;
    item.contextValue = this.builtin ? 'flux.module.builtin' : 'flux.module';
    const color = m.status === 3 ? 'testing.iconFailed' : m.status === 1 ? undefined : 'disabledForeground';
    item.iconPath = new vscode.ThemeIcon(this.builtin ? 'symbol-constant' : 'symbol-module', color ? new vscode.ThemeColor(color) : undefined);
    item.tooltip = new vscode.MarkdownString(
      `**${m.name}** on rank ${this.rank}\n\nstate: ${moduleState(m.status)}\n\nidle: ${m.idle} s\n\n` +
        `services: ${m.services.length ? m.services.join(', ') : '(none)'}\n\npath: \`${m.path}\``,
    );
    return item;
  }
}

/** A line in place of children that could not be read (flux's message). */
export class MessageNode {
  readonly kind = 'message';
  constructor(readonly text: string, readonly parent: ModulesNode) {}

  get rank(): number {
    return this.parent.rank;
  }

  treeItem(): vscode.TreeItem {
    const item = new vscode.TreeItem(this.text, vscode.TreeItemCollapsibleState.None);
    item.id = `flux.broker.${this.rank}.modules.message`;
    item.iconPath = new vscode.ThemeIcon('error', new vscode.ThemeColor('errorForeground'));
    item.contextValue = 'flux.message';
    return item;
  }
}

export type BrokersElement = BrokerNode | ModulesNode | ModuleNode | MessageNode;

/** A node that names a rank (any Brokers view item does). */
export function rankOf(node: BrokersElement): number {
  return node.rank;
}
