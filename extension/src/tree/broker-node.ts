/** One rank in the Brokers view: renders itself and yields its TBON children. */
import * as vscode from 'vscode';
import type { TopologyNode } from '../../../broker/src/broker/topology';

export type BrokerState = 'online' | 'lost' | 'offline';

export class BrokerNode {
  constructor(readonly topo: TopologyNode, readonly state: BrokerState, readonly parent?: BrokerNode) {}

  get rank(): number {
    return this.topo.rank;
  }

  children(): BrokerNode[] {
    return this.topo.children.map((c) => new BrokerNode(c, this.state, this));
  }

  treeItem(): vscode.TreeItem {
    const item = new vscode.TreeItem(
      `rank ${this.rank}`,
      this.topo.children.length > 0 ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.None,
    );
    item.id = `flux.broker.${this.rank}`;
    item.description = this.state;
    item.contextValue = `flux.broker.${this.state}`;
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
