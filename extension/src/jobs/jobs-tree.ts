/**
 * The Jobs view: the instance's jobs grouped by state (Pending, Running, Inactive), each job
 * with its id (F58), name, state, nodes and ranks, runtime and result, read from the journal
 * (jobs-journal.ts). The RefreshManager decides when it re-renders; the badge and the status bar
 * item follow the same refreshes.
 */
import * as vscode from 'vscode';
import { fsd } from '../../../broker/src/cmd/jobs-format';
import { resultToString, stateToString } from '../../../broker/src/common/libjob/states';
import type { InstanceManager } from '../instance/instance-manager';
import type { JobEntry, JobGroup, JobsJournal } from './jobs-journal';

/** Inactive jobs shown (newest first); the rest are counted in the group's description. */
export const MAX_INACTIVE_SHOWN = 500;

export class JobGroupNode {
  readonly kind = 'group';
  readonly parent = undefined;
  constructor(readonly group: JobGroup) {}
}

export class JobNode {
  readonly kind = 'job';
  constructor(readonly job: JobEntry, readonly parent: JobGroupNode) {}
}

export type JobsElement = JobGroupNode | JobNode;

const GROUPS: { group: JobGroup; label: string; icon: string }[] = [
  { group: 'pending', label: 'Pending', icon: 'clock' },
  { group: 'running', label: 'Running', icon: 'play-circle' },
  { group: 'inactive', label: 'Inactive', icon: 'history' },
];

/** What the row says after the id: name, state/result, nodes and ranks, runtime. */
export function jobDescription(j: JobEntry, now = Date.now() / 1000): string {
  const sm = j.sm;
  const parts = [j.name || '-'];
  parts.push(j.group === 'inactive' ? resultToString(sm.result) : stateToString(sm.state));
  if (j.nnodes !== undefined) parts.push(`${j.nnodes} node${j.nnodes === 1 ? '' : 's'}${j.ranks !== undefined ? ` [${j.ranks}]` : ''}`);
  parts.push(`${j.ntasks} task${j.ntasks === 1 ? '' : 's'}`);
  parts.push(fsd(j.runtime(now)));
  if (j.group === 'inactive' && sm.fatal) parts.push(`${sm.fatal.type}${sm.fatal.note ? `: ${sm.fatal.note}` : ''}`);
  else if (j.group === 'inactive' && sm.waitstatus !== undefined && sm.waitstatus !== 0) {
    const sig = sm.waitstatus & 0x7f;
    parts.push(sig ? `signal ${sig}` : `exit ${(sm.waitstatus >> 8) & 0xff}`);
  }
  return parts.join(' · ');
}

export class JobsTree implements vscode.TreeDataProvider<JobsElement> {
  private readonly changed = new vscode.EventEmitter<JobsElement | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly groups = new Map(GROUPS.map((g) => [g.group, new JobGroupNode(g.group)]));

  constructor(private readonly instance: InstanceManager, readonly journal: JobsJournal) {}

  /** Called only by the RefreshManager. */
  invalidate(): void {
    this.changed.fire(undefined);
  }

  getParent(node: JobsElement): JobsElement | undefined {
    return node.parent;
  }

  getChildren(node?: JobsElement): JobsElement[] {
    if (this.instance.state !== 'running') return [];
    if (!node) return GROUPS.map((g) => this.groups.get(g.group) as JobGroupNode);
    if (node.kind === 'job') return [];
    let list = this.journal.group(node.group);
    if (node.group === 'inactive') list = list.slice(0, MAX_INACTIVE_SHOWN);
    return list.map((j) => new JobNode(j, node));
  }

  getTreeItem(node: JobsElement): vscode.TreeItem {
    if (node.kind === 'group') {
      const g = GROUPS.find((x) => x.group === node.group) ?? GROUPS[0];
      const n = this.journal.counts()[node.group];
      const item = new vscode.TreeItem(g.label, node.group === 'inactive' ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.Expanded);
      item.id = `flux.jobs.${node.group}`;
      item.description = node.group === 'inactive' && n > MAX_INACTIVE_SHOWN ? `${n} (newest ${MAX_INACTIVE_SHOWN} shown)` : String(n);
      item.iconPath = new vscode.ThemeIcon(g.icon);
      item.contextValue = `flux.jobs.${node.group}`;
      return item;
    }
    const j = node.job;
    const item = new vscode.TreeItem(j.f58, vscode.TreeItemCollapsibleState.None);
    item.id = `flux.job.${j.id}`;
    item.description = jobDescription(j);
    item.contextValue = `flux.job.${j.group}`;
    item.iconPath = new vscode.ThemeIcon(
      j.group === 'pending' ? 'clock' : j.group === 'running' ? 'sync~spin' : j.sm.success ? 'pass' : 'error',
    );
    const sm = j.sm;
    const md = new vscode.MarkdownString();
    md.appendMarkdown(`**${j.f58}** \`${j.name}\`\n\n`);
    md.appendMarkdown(`state ${stateToString(sm.state)}${j.group === 'inactive' ? `, result ${resultToString(sm.result)}` : ''}\n\n`);
    if (j.command.length > 0) md.appendCodeblock(j.command.join(' '), 'sh');
    md.appendMarkdown(`\n${j.ntasks} tasks${j.nnodes !== undefined ? `, ${j.nnodes} nodes` : ''}${j.ranks !== undefined ? `, ranks ${j.ranks}` : ''}; id ${j.id}`);
    if (sm.exception.occurred) md.appendMarkdown(`\n\nexception ${sm.exception.type} (severity ${sm.exception.severity}) ${sm.exception.note}`);
    item.tooltip = md;
    return item;
  }
}
