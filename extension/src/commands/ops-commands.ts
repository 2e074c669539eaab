/**
 * Instance-wide operations: the TBON and resource graph panels, Run on Ranks (a terminal running one command on a
 * set of ranks, as `flux exec -l`), and the rehearsal of failure —
 * Kill Broker (SIGKILL: its subtree goes lost) and Restart Broker (it and its subtree start again
 * and rejoin). Killing and restarting need a local instance started here; rank 0 is the
 * instance itself (Stop / Restart Instance).
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { openRunTerminal } from '../exec/run-terminal';
import { askRanks } from '../exec/ask-ranks';
import { parseRanks } from '../exec/run-session';
import { ResourcesPanel, type ResourcesPanelDeps } from '../panels/resources-panel';
import { TbonPanel } from '../panels/tbon-panel';
import { reported, withProgress } from '../util/report';
import type { CommandContext, Handler } from './context';

interface TopologyNode {
  rank: number;
  children: TopologyNode[];
}

function rankArg(x: unknown): number | undefined {
  if (typeof x === 'number' && Number.isInteger(x)) return x;
  if (typeof x === 'object' && x !== null && Number.isInteger((x as { rank?: unknown }).rank)) return (x as { rank: number }).rank;
  return undefined;
}

/** Rank and every rank below it in the TBON. */
function subtreeRanks(root: TopologyNode, rank: number): number[] {
  const find = (n: TopologyNode): TopologyNode | undefined => (n.rank === rank ? n : n.children.map(find).find((x) => x !== undefined));
  const top = find(root);
  const out: number[] = [];
  const walk = (n: TopologyNode): void => {
    out.push(n.rank);
    n.children.forEach(walk);
  };
  if (top) walk(top);
  return out;
}

async function askRank(ctx: CommandContext, node: unknown, title: string): Promise<number | undefined> {
  const given = rankArg(node);
  if (given !== undefined) return given;
  const size = ctx.instance.instanceSize;
  const pick = await vscode.window.showQuickPick(
    Array.from({ length: size - 1 }, (_, i) => ({ label: `rank ${i + 1}`, rank: i + 1 })),
    { title, placeHolder: 'Which broker? (rank 0 is the instance itself)' },
  );
  return pick?.rank;
}

/** What the resource graph panel needs; a vertex's job opens that job's output. */
export function resourcesDeps(ctx: Pick<CommandContext, 'extensionPath' | 'instance' | 'log'>): ResourcesPanelDeps {
  return {
    extensionPath: ctx.extensionPath, instance: ctx.instance, log: ctx.log,
    showJob: (id) => void vscode.commands.executeCommand('flux.jobs.showOutput', id),
  };
}

export function opsCommands(ctx: CommandContext): Record<string, Handler> {
  const { instance, log, refresh } = ctx;
  const tbon = { extensionPath: ctx.extensionPath, instance, log, reveal: (rank: number) => void ctx.revealRank(rank) };
  const binDir = path.join(ctx.extensionPath, 'dist', 'bin');
  return {
    'flux.tbon.show': (node?: unknown) => {
      TbonPanel.show(tbon, rankArg(node));
    },

    'flux.resources.show': () => {
      ResourcesPanel.show(resourcesDeps(ctx));
    },

    'flux.ranks.run': (given?: unknown) =>
      reported(log, 'run on ranks', async () => {
        const h = instance.requireFlux();
        const size = instance.instanceSize;
        const g = (given ?? {}) as { ranks?: string; command?: string; wait?: boolean };
        const rankText = g.ranks ?? (await askRanks('Flux: Run on Ranks (1/2)', 'Ranks to run on: all, or an idset such as 1-3 or 0,2', size));
        if (rankText === undefined) return undefined;
        const ranks = parseRanks(rankText, size);
        const command = g.command ?? (await vscode.window.showInputBox({
          title: 'Flux: Run on Ranks (2/2)',
          prompt: 'Command line, run with sh -c on each rank (FLUX_URI is that rank\'s broker)',
          placeHolder: 'hostname',
          validateInput: (v) => (v.trim() ? undefined : 'a command is needed'),
        }));
        if (!command?.trim()) return undefined;
        const cwd = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
        const label = rankText.trim() === '' ? 'all' : rankText.trim();
        const run = openRunTerminal(h, ranks, command, cwd, label, binDir);
        // Other extensions and tests may wait for the end: the exit code, summary and output.
        if (g.wait) return { name: run.terminal.name, ranks, ...(await run.done) };
        return { name: run.terminal.name, ranks };
      }),

    'flux.broker.kill': (node?: unknown) =>
      reported(log, 'kill broker', async () => {
        const h = instance.requireFlux();
        if (instance.kind !== 'local') throw new Error('Only brokers of a local instance started here can be killed');
        const rank = await askRank(ctx, node, 'Kill Broker');
        if (rank === undefined) return undefined;
        if (rank === 0) throw new Error('Killing rank 0 ends the instance: use Stop Instance');
        const { value } = await h.rpc('attr.get', { name: 'broker.pid' }, { nodeid: rank }).get<{ value: string }>();
        const pid = Number(value);
        process.kill(pid, 'SIGKILL');
        log.info(`killed rank ${rank} (pid ${pid}): its subtree is lost until Restart Broker`);
        refresh.refresh('manual');
        return { rank, pid };
      }),

    'flux.broker.restart': (node?: unknown) =>
      reported(log, 'restart broker', async () => {
        const h = instance.requireFlux();
        const rank = await askRank(ctx, node, 'Restart Broker');
        if (rank === undefined) return undefined;
        if (rank === 0) throw new Error('Rank 0 is the instance itself: use Restart Instance');
        const topo = await h.rpc('overlay.topology', { rank: 0 }, { nodeid: 0 }).get<TopologyNode>();
        const started = await withProgress(`Restarting rank ${rank}`, () => instance.restartRanks(subtreeRanks(topo, rank)));
        log.info(started.length ? `restarted ranks ${started.join(',')}` : `rank ${rank} and its subtree are running: nothing to restart`);
        refresh.refresh('manual');
        return { rank, started };
      }),
  };
}
