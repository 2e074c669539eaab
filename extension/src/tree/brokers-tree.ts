/**
 * The Brokers view: the instance's ranks shaped as the TBON, read with the
 * `overlay.topology` RPC (served by flux-core too, so attaching to a real
 * instance shows the same tree).
 */
import * as vscode from 'vscode';
import type { TopologyNode } from '../../../broker/src/broker/topology';
import type { InstanceManager } from '../instance/instance-manager';
import { BrokerNode } from './broker-node';

export class BrokersTree implements vscode.TreeDataProvider<BrokerNode> {
  private readonly changed = new vscode.EventEmitter<BrokerNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private root: Promise<BrokerNode | undefined> | undefined;

  constructor(private readonly instance: InstanceManager, private readonly log: vscode.LogOutputChannel) {}

  /** Forget what was read; the view asks again. Called only by the RefreshManager. */
  invalidate(): void {
    this.root = undefined;
    this.changed.fire(undefined);
  }

  getTreeItem(node: BrokerNode): vscode.TreeItem {
    return node.treeItem();
  }

  getParent(node: BrokerNode): BrokerNode | undefined {
    return node.parent;
  }

  async getChildren(node?: BrokerNode): Promise<BrokerNode[]> {
    if (node) return node.children();
    const root = await (this.root ??= this.load());
    return root ? [root] : [];
  }

  private async load(): Promise<BrokerNode | undefined> {
    const h = this.instance.flux;
    if (!h || this.instance.state !== 'running') return undefined;
    try {
      const topo = await h.rpc('overlay.topology', { rank: 0 }).get<TopologyNode>();
      return new BrokerNode(topo, 'online');
    } catch (e) {
      this.log.error(`overlay.topology: ${e instanceof Error ? e.message : String(e)}`);
      return undefined;
    }
  }
}
