/** Extension entry: build the services, register views and commands, return the API. */
import * as vscode from 'vscode';
import { registerCommands } from './commands/register-commands';
import { InstanceManager } from './instance/instance-manager';
import { InstanceStatusBar } from './status-bar';
import type { BrokerNode } from './tree/broker-node';
import { BrokersTree } from './tree/brokers-tree';
import { RefreshManager } from './tree/refresh-manager';

export interface FluxExtensionApi {
  instance: {
    state(): 'stopped' | 'starting' | 'running' | 'stopping';
    uri(): string | undefined;
    brokerPids(): number[];
  };
  brokers: vscode.TreeDataProvider<BrokerNode>;
  /** How long activate() took, in milliseconds. */
  activationMs: number;
}

let manager: InstanceManager | undefined;

export function activate(context: vscode.ExtensionContext): FluxExtensionApi {
  const t0 = performance.now();
  const log = vscode.window.createOutputChannel('Flux', { log: true });
  const instance = new InstanceManager(context.extensionPath, log);
  manager = instance;
  const brokers = new BrokersTree(instance, log);
  const refresh = new RefreshManager(instance, [brokers], log);
  context.subscriptions.push(
    log,
    instance,
    refresh,
    new InstanceStatusBar(instance),
    vscode.window.createTreeView('flux.views.brokers', { treeDataProvider: brokers, showCollapseAll: true }),
    ...registerCommands({ instance, refresh, log }),
    instance.onDidChange((s) => {
      // Terminals and tasks opened while an instance runs talk to it.
      if (s === 'running' && instance.uri) context.environmentVariableCollection.replace('FLUX_URI', instance.uri);
      else if (s === 'stopped') context.environmentVariableCollection.delete('FLUX_URI');
    }),
  );
  void vscode.commands.executeCommand('setContext', 'flux.instance.running', false);
  return {
    instance: { state: () => instance.state, uri: () => instance.uri, brokerPids: () => instance.brokerPids },
    brokers,
    activationMs: performance.now() - t0,
  };
}

/** The instance stops with the window: no orphan brokers. */
export function deactivate(): Promise<void> | undefined {
  return manager?.stop();
}
