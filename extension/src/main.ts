/** Extension entry: build the services, register views and commands, return the API. */
import * as vscode from 'vscode';
import { ArchivesTree } from './archives/archives-tree';
import { registerCommands } from './commands/register-commands';
import { DmesgFollower } from './info/dmesg-follower';
import { INFO_SCHEME, InfoDocuments } from './info/info-documents';
import { InstanceManager } from './instance/instance-manager';
import { JobsView } from './jobs/jobs-view';
import { KVS_SCHEME, KvsFileSystem } from './kvs/kvs-fs';
import { KvsTree } from './kvs/kvs-tree';
import { JobspecClient } from './lsp/jobspec-client';
import { InstanceStatusBar } from './status-bar';
import type { BrokersElement } from './tree/broker-node';
import { BrokersTree } from './tree/brokers-tree';
import { RefreshManager } from './tree/refresh-manager';
import { TbonPanel } from './panels/tbon-panel';
import { ResourcesPanel, type ResourcesSummary } from './panels/resources-panel';
import { resourcesDeps } from './commands/ops-commands';

export interface FluxExtensionApi {
  instance: {
    state(): 'stopped' | 'starting' | 'running' | 'stopping';
    uri(): string | undefined;
    brokerPids(): number[];
    kind(): 'local' | 'attached' | undefined;
    statedir(): string | undefined;
  };
  brokers: vscode.TreeDataProvider<BrokersElement>;
  kvs: KvsTree;
  archives: ArchivesTree;
  jobs: JobsView;
  statusText(): string;
  /** What `Flux: Show dmesg` shows (its last lines), for tests. */
  dmesgText(): string;
  /** KVS events seen since activation (setroot etc.), for tests. */
  kvsEvents(): number;
  /** The TBON panel's rank states, while it is open. */
  tbonStatus(): string[] | undefined;
  /** The resource graph panel's last snapshot in figures (drained, offline, the placement preview), while it is open. */
  resourcesSummary(): ResourcesSummary | undefined;
  /** How long activate() took, in milliseconds. */
  activationMs: number;
}

let manager: InstanceManager | undefined;
let memory: vscode.Memento | undefined;

export function activate(context: vscode.ExtensionContext): FluxExtensionApi {
  const t0 = performance.now();
  const log = vscode.window.createOutputChannel('Flux', { log: true });
  const instance = new InstanceManager(context.extensionPath, log);
  manager = instance;
  const brokers = new BrokersTree(instance, log);
  const kvs = new KvsTree(instance, log);
  const archives = new ArchivesTree(instance, log);
  const kvsFs = new KvsFileSystem(instance);
  const info = new InfoDocuments(instance);
  const dmesg = new DmesgFollower(instance, log);
  const jobs = new JobsView(instance, log);
  const refresh = new RefreshManager(instance, {
    brokers, kvs, archives, jobs,
    // Open values of a namespace that changed are re-read (VS Code re-reads a changed, unmodified document).
    kvsChanged: (namespaces) => kvsFs.notifyChanged(vscode.workspace.textDocuments
      .map((d) => d.uri).filter((u) => u.scheme === KVS_SCHEME && namespaces.includes(u.authority))),
  }, log);
  const status = new InstanceStatusBar(instance);
  const brokersView = vscode.window.createTreeView('flux.views.brokers', { treeDataProvider: brokers, showCollapseAll: true });
  const revealRank = async (rank: number): Promise<void> => {
    const node = await brokers.brokerNode(rank);
    if (node) await brokersView.reveal(node, { select: true, focus: false, expand: true });
  };
  context.subscriptions.push(
    log,
    instance,
    new JobspecClient(context.extensionPath, instance, log),
    refresh,
    status,
    kvsFs,
    info,
    dmesg,
    jobs,
    vscode.workspace.registerFileSystemProvider(KVS_SCHEME, kvsFs, { isCaseSensitive: true }),
    vscode.workspace.registerTextDocumentContentProvider(INFO_SCHEME, info),
    brokersView,
    TbonPanel.registerSerializer({ extensionPath: context.extensionPath, instance, log, reveal: (rank) => void revealRank(rank) }),
    ResourcesPanel.registerSerializer(resourcesDeps({ extensionPath: context.extensionPath, instance, log })),
    vscode.window.createTreeView('flux.views.kvs', { treeDataProvider: kvs, showCollapseAll: true }),
    vscode.window.createTreeView('flux.views.archives', { treeDataProvider: archives, showCollapseAll: true }),
    ...registerCommands({ instance, refresh, log, extensionPath: context.extensionPath, brokers, kvs, kvsFs, archives, info, dmesg, jobs, revealRank }),
    instance.onDidChange((s) => {
      // Terminals and tasks opened while an instance runs talk to it.
      if (s === 'running' && instance.uri) context.environmentVariableCollection.replace('FLUX_URI', instance.uri);
      else if (s === 'stopped') context.environmentVariableCollection.delete('FLUX_URI');
    }),
  );
  context.environmentVariableCollection.description = 'FLUX_URI of the Flux instance shown in VS Code';
  // An instance an earlier window left running (flux.instance.stopWithWindow off): back to it.
  memory = context.globalState;
  void instance.reattach(context.globalState).catch((e: unknown) => log.warn(`reattach: ${e instanceof Error ? e.message : String(e)}`));
  void vscode.commands.executeCommand('setContext', 'flux.instance.running', false);
  return {
    instance: {
      state: () => instance.state,
      uri: () => instance.uri,
      brokerPids: () => instance.brokerPids,
      kind: () => instance.kind,
      statedir: () => instance.statedir,
    },
    brokers,
    kvs,
    archives,
    jobs,
    statusText: () => status.text,
    kvsEvents: () => refresh.kvsEvents,
    dmesgText: () => dmesg.text(),
    tbonStatus: () => TbonPanel.currentStatus(),
    resourcesSummary: () => ResourcesPanel.currentSummary(),
    activationMs: performance.now() - t0,
  };
}

/** The instance stops with the window (no orphan brokers), unless flux.instance.stopWithWindow is off. */
export function deactivate(): Promise<void> | undefined {
  return memory ? manager?.windowClosing(memory) : manager?.stop();
}
