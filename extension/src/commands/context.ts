/** What command handlers get: the services, views and the output channel. */
import type * as vscode from 'vscode';
import type { ArchivesTree } from '../archives/archives-tree';
import type { DmesgFollower } from '../info/dmesg-follower';
import type { InfoDocuments } from '../info/info-documents';
import type { InstanceManager } from '../instance/instance-manager';
import type { JobsView } from '../jobs/jobs-view';
import type { KvsFileSystem } from '../kvs/kvs-fs';
import type { KvsTree } from '../kvs/kvs-tree';
import type { BrokersTree } from '../tree/brokers-tree';
import type { RefreshManager } from '../tree/refresh-manager';

export interface CommandContext {
  instance: InstanceManager;
  refresh: RefreshManager;
  log: vscode.LogOutputChannel;
  extensionPath: string;
  brokers: BrokersTree;
  kvs: KvsTree;
  kvsFs: KvsFileSystem;
  archives: ArchivesTree;
  info: InfoDocuments;
  dmesg: DmesgFollower;
  jobs: JobsView;
  /** Select a rank in the Brokers view (from the TBON panel). */
  revealRank(rank: number): Promise<void>;
}

export type Handler = (...args: unknown[]) => unknown;
