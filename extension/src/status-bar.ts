/** The status bar item: what the instance is doing, one click from its actions. */
import * as vscode from 'vscode';
import type { InstanceManager } from './instance/instance-manager';

export class InstanceStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('flux.instance', vscode.StatusBarAlignment.Left, 50);
  private readonly sub: vscode.Disposable;

  constructor(private readonly instance: InstanceManager) {
    this.item.name = 'Flux instance';
    this.sub = instance.onDidChange(() => this.render());
    this.render();
    this.item.show();
  }

  private render(): void {
    const s = this.instance.state;
    const i = this.item;
    if (s === 'running') {
      i.text = `$(server-process) Flux: ${this.instance.instanceSize} brokers`;
      i.tooltip = `Local Flux instance running at ${this.instance.uri}\nClick to stop it.`;
      i.command = 'flux.instance.stop';
    } else if (s === 'starting' || s === 'stopping') {
      i.text = `$(loading~spin) Flux: ${s}`;
      i.tooltip = `Flux instance ${s}…`;
      i.command = undefined;
    } else {
      i.text = '$(server-process) Flux: stopped';
      i.tooltip = 'No Flux instance. Click to start a local one.';
      i.command = 'flux.instance.start';
    }
  }

  dispose(): void {
    this.sub.dispose();
    this.item.dispose();
  }
}
