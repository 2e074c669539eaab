/** The one table from command id to handler. */
import * as vscode from 'vscode';
import type { InstanceManager } from '../instance/instance-manager';
import type { RefreshManager } from '../tree/refresh-manager';

export interface CommandContext {
  instance: InstanceManager;
  refresh: RefreshManager;
  log: vscode.LogOutputChannel;
}

/** Show a failure with its message and a way to the log; still reject for programmatic callers. */
async function reported<T>(ctx: CommandContext, what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    void vscode.window.showErrorMessage(`Flux: ${what}: ${msg}`, 'Show Log').then((a) => {
      if (a === 'Show Log') ctx.log.show();
    });
    throw e;
  }
}

export function registerCommands(ctx: CommandContext): vscode.Disposable[] {
  const table: Record<string, (...args: unknown[]) => unknown> = {
    'flux.instance.start': () => reported(ctx, 'start failed', () => ctx.instance.start()),
    'flux.instance.stop': () => reported(ctx, 'stop failed', () => ctx.instance.stop()),
    'flux.views.brokers.refresh': () => ctx.refresh.refresh('manual'),
  };
  return Object.entries(table).map(([id, fn]) => vscode.commands.registerCommand(id, fn));
}
