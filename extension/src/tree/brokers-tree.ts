/**
 * The Brokers view: the instance's ranks shaped as the TBON, read with the
 * `overlay.topology` RPC (served by flux-core too, so attaching to a real
 * instance shows the same tree); each rank's modules with `module.list` to that rank.
 */
import * as vscode from 'vscode';
import type { TopologyNode } from '../../../broker/src/broker/topology';
import type { InstanceManager } from '../instance/instance-manager';
import type { ModuleInfo } from '../../../broker/src/module/module-info';
import { listModules } from '../modules/modules-api';
import { errorText } from '../util/report';
import type { Flux } from '../../../broker/src/common/libflux/handle';
import { BrokerNode, MessageNode, ModuleNode, ModulesNode, healthState, type BrokerState, type BrokersElement } from './broker-node';

export class BrokersTree implements vscode.TreeDataProvider<BrokersElement> {
  private readonly changed = new vscode.EventEmitter<BrokersElement | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private root: Promise<BrokerNode | undefined> | undefined;
  private readonly modules = new Map<number, Promise<ModuleInfo[] | Error>>();
  private readonly byRank = new Map<number, BrokerNode>();

  constructor(private readonly instance: InstanceManager, private readonly log: vscode.LogOutputChannel) {}

  /** Forget what was read; the view asks again. Called only by the RefreshManager. */
  invalidate(): void {
    this.root = undefined;
    this.modules.clear();
    this.changed.fire(undefined);
  }

  /** Forget one rank's modules (after a load/remove there). Called only by the RefreshManager. */
  invalidateModules(rank: number): void {
    this.modules.delete(rank);
    // The tree has no handle on the folder item it showed: refresh from the top, ids keep expansion.
    this.changed.fire(undefined);
  }

  getTreeItem(node: BrokersElement): vscode.TreeItem {
    return node.treeItem();
  }

  getParent(node: BrokersElement): BrokersElement | undefined {
    return node.parent;
  }

  /** The rank's node as last read (for commands started from the palette). */
  async brokerNode(rank: number): Promise<BrokerNode | undefined> {
    await (this.root ??= this.load());
    return this.byRank.get(rank);
  }

  async getChildren(node?: BrokersElement): Promise<BrokersElement[]> {
    if (!node) {
      const root = await (this.root ??= this.load());
      return root ? [root] : [];
    }
    if (node instanceof BrokerNode) {
      const kids = node.children();
      for (const k of kids) this.byRank.set(k.rank, k);
      return [new ModulesNode(node), ...kids];
    }
    if (node instanceof ModulesNode) {
      const mods = await this.moduleList(node.rank);
      if (mods instanceof Error) return [new MessageNode(`module.list: ${mods.message}`, node)];
      return mods.sort((a, b) => a.name.localeCompare(b.name)).map((m) => new ModuleNode(m, node));
    }
    return [];
  }

  private moduleList(rank: number): Promise<ModuleInfo[] | Error> {
    let p = this.modules.get(rank);
    if (!p) {
      const h = this.instance.flux;
      p = (h ? listModules(h, rank) : Promise.resolve([])).catch((e: unknown) => {
        this.log.error(`module.list on rank ${rank}: ${errorText(e)}`);
        this.modules.delete(rank);
        return e instanceof Error ? e : new Error(String(e));
      });
      this.modules.set(rank, p);
    }
    return p;
  }

  /** Each interior rank's `overlay.health`: the state of its children (a rank that cannot answer reports nothing). */
  private async health(h: Flux, topo: TopologyNode): Promise<Map<number, BrokerState>> {
    const states = new Map<number, BrokerState>();
    const interior: number[] = [];
    const walk = (n: TopologyNode): void => {
      if (n.children.length > 0) interior.push(n.rank);
      n.children.forEach(walk);
    };
    walk(topo);
    await Promise.all(interior.map(async (rank) => {
      try {
        const r = await h.rpc('overlay.health', {}, { nodeid: rank }).get<{ children?: { rank: number; status: string }[] }>();
        for (const c of r.children ?? []) states.set(c.rank, healthState(c.status));
      } catch {
        // unreachable (its parent reports it) or not serving health: nothing to add
      }
    }));
    return states;
  }

  private async load(): Promise<BrokerNode | undefined> {
    const h = this.instance.flux;
    this.byRank.clear();
    if (!h || this.instance.state !== 'running') return undefined;
    try {
      const topo = await h.rpc('overlay.topology', { rank: 0 }).get<TopologyNode>();
      const states = await this.health(h, topo);
      const root = new BrokerNode(topo, states);
      const index = (n: BrokerNode): void => {
        this.byRank.set(n.rank, n);
        for (const c of n.children()) index(c);
      };
      index(root);
      return root;
    } catch (e) {
      this.log.error(`overlay.topology: ${errorText(e)}`);
      return undefined;
    }
  }
}
