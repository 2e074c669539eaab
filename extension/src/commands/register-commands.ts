/** The one table from command id to handler (the handlers live beside it, by area). */
import * as vscode from 'vscode';
import { archiveCommands } from './archive-commands';
import { brokerCommands } from './broker-commands';
import type { CommandContext, Handler } from './context';
import { instanceCommands } from './instance-commands';
import { jobCommands } from '../jobs/job-commands';
import { kvsCommands } from './kvs-commands';
import { jobspecCommands } from '../lsp/jobspec-commands';
import { opsCommands } from './ops-commands';
import { resourceCommands } from './resource-commands';

export type { CommandContext } from './context';

export function registerCommands(ctx: CommandContext): vscode.Disposable[] {
  const table: Record<string, Handler> = {
    ...instanceCommands(ctx),
    ...brokerCommands(ctx),
    ...kvsCommands(ctx),
    ...archiveCommands(ctx),
    ...opsCommands(ctx),
    ...jobCommands(ctx),
    ...jobspecCommands(ctx),
    ...resourceCommands(ctx),
    'flux.views.brokers.refresh': () => ctx.refresh.refresh('manual'),
    'flux.views.kvs.refresh': () => ctx.refresh.refresh('manual'),
    'flux.views.archives.refresh': () => ctx.refresh.refresh('manual'),
    'flux.views.jobs.refresh': () => ctx.refresh.refresh('manual'),
  };
  return Object.entries(table).map(([id, fn]) => vscode.commands.registerCommand(id, fn));
}
