/**
 * The status bar item: the instance's size, state, local or remote, and whether its state is
 * kept (statedir) or lost at stop; a click opens the quick actions.
 */
import * as vscode from 'vscode';
import type { InstanceManager } from './instance/instance-manager';

export class InstanceStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('flux.instance', vscode.StatusBarAlignment.Left, 50);
  private readonly sub: vscode.Disposable;

  constructor(private readonly instance: InstanceManager) {
    this.item.name = 'Flux instance';
    this.item.command = 'flux.instance.quickActions';
    this.sub = instance.onDidChange(() => this.render());
    this.render();
    this.item.show();
  }

  /** The text shown (tests read it). */
  get text(): string {
    return this.item.text;
  }

  private render(): void {
    const s = this.instance.state;
    const i = this.item;
    if (s === 'running') {
      const where = this.instance.kind === 'attached' ? (this.instance.uri?.startsWith('ssh://') ? 'remote' : 'attached') : 'local';
      const kept = this.instance.statedir ? 'state kept' : 'state lost at stop';
      i.text = `$(server-process) Flux: ${this.instance.instanceSize} brokers · ${where}${this.instance.statedir ? ' · $(database)' : ''}`;
      i.tooltip = new vscode.MarkdownString(
        `**Flux instance** running (${where})\n\n${this.instance.instanceSize} brokers at \`${this.instance.uri}\`\n\n` +
          `${kept}${this.instance.statedir ? ` (statedir \`${this.instance.statedir}\`)` : ''}\n\nClick for actions.`,
      );
    } else if (s === 'starting' || s === 'stopping') {
      i.text = `$(loading~spin) Flux: ${s}`;
      i.tooltip = `Flux instance ${s}…`;
    } else {
      i.text = '$(server-process) Flux: stopped';
      i.tooltip = 'No Flux instance. Click to start a local one or attach.';
    }
  }

  dispose(): void {
    this.sub.dispose();
    this.item.dispose();
  }
}
