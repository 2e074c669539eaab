/**
 * Resource administration from the editor: Drain… and Undrain nodes (`resource.drain` /
 * `resource.undrain` to rank 0, as `flux resource drain|undrain` sends them), from the resource
 * graph panel (a node's rank) or the palette (a pick of nodes); and the placement preview of the
 * jobspec in the editor on the resource graph (`flux.jobspec.previewPlacement`), cleared by
 * `flux.resources.clearPreview`. Failures are flux's messages in a notification.
 */
import * as vscode from 'vscode';
import { decodeIdset } from '../../../broker/src/common/libidset/idset';
import type { Flux } from '../../../broker/src/common/libflux/handle';
import { lookup } from '../../../broker/src/common/libkvs/client';
import { Rlist } from '../../../broker/src/common/librlist/rlist';
import { JOBSPEC_LANGUAGE } from '../lsp/jobspec-client';
import { ResourcesPanel } from '../panels/resources-panel';
import { drainRanks, readRankStatus, undrainRanks } from '../panels/resources-status';
import { reported } from '../util/report';
import type { CommandContext, Handler } from './context';
import { resourcesDeps } from './ops-commands';

/** Ranks given by a caller: a rank, an idset, a list, or `{rank}` (the panel) / `{fluxRank}` (its context menu). */
export function ranksArg(x: unknown): number[] | undefined {
  if (typeof x === 'number' && Number.isInteger(x) && x >= 0) return [x];
  if (typeof x === 'string' && x.trim() !== '') return decodeIdset(x.trim());
  if (Array.isArray(x) && x.every((r) => Number.isInteger(r) && (r as number) >= 0)) return x as number[];
  if (typeof x === 'object' && x !== null) {
    const o = x as { rank?: unknown; fluxRank?: unknown; ranks?: unknown };
    return ranksArg(o.ranks ?? o.rank ?? o.fluxRank);
  }
  return undefined;
}

interface NodePick extends vscode.QuickPickItem {
  rank: number;
}

/** The instance's nodes (resource.R) with their drain state, to pick from. */
async function pickRanks(h: Flux, title: string, only: 'drained' | 'all'): Promise<number[] | undefined> {
  const R = Rlist.fromR((await lookup(h, 'resource.R')).json());
  const status = await readRankStatus(h);
  const drained = status?.drained ?? {};
  const items: NodePick[] = R.ranks
    .filter((r) => only === 'all' || drained[r.rank] !== undefined)
    .map((r) => {
      const d = drained[r.rank];
      const off = status?.offline.includes(r.rank) ? 'offline' : '';
      return {
        label: `rank ${r.rank}`,
        description: [r.hostname, off, d ? `drained${d.reason ? `: ${d.reason}` : ''}` : ''].filter((s) => s).join(' · '),
        rank: r.rank,
      };
    });
  if (items.length === 0) {
    void vscode.window.showInformationMessage(only === 'drained' ? 'Flux: no node is drained.' : 'Flux: this instance has no nodes.');
    return undefined;
  }
  const picked = await vscode.window.showQuickPick(items, { title, canPickMany: true, placeHolder: 'Nodes (ranks)' });
  return picked && picked.length > 0 ? picked.map((p) => p.rank) : undefined;
}

/** The jobspec document a command is about: the given one, or the active editor's. */
function jobspecDocument(arg: unknown): vscode.TextDocument | undefined {
  const uri = arg instanceof vscode.Uri ? arg.toString() : typeof arg === 'string' ? arg : undefined;
  if (uri) return vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri);
  const doc = vscode.window.activeTextEditor?.document;
  if (!doc) return undefined;
  // A jobspec in a plain YAML or JSON editor is previewed too (the jobspec parser tells).
  return doc.languageId === JOBSPEC_LANGUAGE || doc.languageId === 'yaml' || doc.languageId === 'json' ? doc : undefined;
}

export function resourceCommands(ctx: CommandContext): Record<string, Handler> {
  const { instance, log } = ctx;
  return {
    'flux.resources.drain': (arg?: unknown) =>
      reported(log, 'drain', async () => {
        const h = instance.requireFlux();
        const ranks = ranksArg(arg) ?? (await pickRanks(h, 'Flux: Drain Nodes', 'all'));
        if (!ranks) return undefined;
        const given = (arg as { reason?: unknown } | undefined)?.reason;
        const reason = typeof given === 'string' ? given : await vscode.window.showInputBox({
          title: `Flux: Drain rank${ranks.length > 1 ? 's' : ''} ${ranks.join(',')}`,
          prompt: 'Reason (shown by flux resource status; may be empty)',
          placeHolder: 'maintenance',
        });
        if (reason === undefined) return undefined;
        const mode = (arg as { mode?: unknown } | undefined)?.mode;
        await drainRanks(h, ranks, reason.trim(), mode === 'overwrite' || mode === 'update' ? mode : null);
        log.info(`drained rank(s) ${ranks.join(',')}${reason.trim() ? `: ${reason.trim()}` : ''}`);
        ResourcesPanel.changed();
        return { ranks, reason: reason.trim() };
      }),

    'flux.resources.undrain': (arg?: unknown) =>
      reported(log, 'undrain', async () => {
        const h = instance.requireFlux();
        const ranks = ranksArg(arg) ?? (await pickRanks(h, 'Flux: Undrain Nodes', 'drained'));
        if (!ranks) return undefined;
        await undrainRanks(h, ranks);
        log.info(`undrained rank(s) ${ranks.join(',')}`);
        ResourcesPanel.changed();
        return { ranks };
      }),

    'flux.jobspec.previewPlacement': (arg?: unknown) => {
      const doc = jobspecDocument(arg);
      if (!doc) {
        void vscode.window.showWarningMessage('Flux: open a jobspec (YAML or JSON) in the editor to preview its placement.');
        return undefined;
      }
      ResourcesPanel.previewDocument(resourcesDeps(ctx), doc);
      return doc.uri.toString();
    },

    'flux.resources.clearPreview': () => {
      ResourcesPanel.clearPreview();
    },
  };
}
