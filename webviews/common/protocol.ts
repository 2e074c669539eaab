/**
 * Messages between the extension's panels and their webviews (types only: both sides import
 * this file, neither pulls code from the other). Bulk snapshots travel msgpack-encoded
 * (a Uint8Array), small updates as plain objects.
 */

/** A rank as the TBON view shows it: its own state, and what its parent says of its subtree. */
export type RankState = 'online' | 'lost' | 'offline' | 'unknown';

/** flux-core's overlay.health status of a subtree: full, partial (some offline), degraded (some lost), lost, offline. */
export type SubtreeStatus = 'full' | 'partial' | 'degraded' | 'lost' | 'offline' | 'unknown';

/** The whole tree at once (msgpack-encoded in `TbonToView.snapshot.data`). */
export interface TbonSnapshot {
  /** `parents[r]` is rank r's TBON parent, -1 for rank 0. */
  parents: number[];
  /** Host name of each rank (from the `hostlist` attribute), '' when unknown. */
  hosts: string[];
  /** Subtree status of each rank (see SubtreeStatus). */
  status: SubtreeStatus[];
  /** The instance's URI, for the title. */
  uri: string;
}

export interface StatusChange {
  rank: number;
  status: SubtreeStatus;
}

export type TbonToView =
  | { type: 'snapshot'; data: Uint8Array }
  | { type: 'status'; changes: StatusChange[] }
  /** The instance went away (stopped, or its connection was lost). */
  | { type: 'gone'; reason: string }
  | { type: 'modules'; rank: number; modules: string[]; error?: string }
  /** Reveal and highlight one rank (asked by the Brokers view). */
  | { type: 'select'; rank: number };

export type TbonFromView =
  | { type: 'ready' }
  | { type: 'reveal'; rank: number }
  | { type: 'modules'; rank: number };

/** What the webview keeps across a reload (vscode.setState). */
export interface TbonViewState {
  scale: number;
  tx: number;
  ty: number;
  selected?: number;
}

export function rankStateOf(s: SubtreeStatus): RankState {
  switch (s) {
    case 'full':
    case 'partial':
    case 'degraded':
      return 'online';
    case 'lost':
      return 'lost';
    case 'offline':
      return 'offline';
    default:
      return 'unknown';
  }
}

// --- resource graph panel ----------------------------------------------------------------

export type VertexState = 'free' | 'allocated' | 'reserved' | 'down';

/** The containment graph, msgpack-encoded in `ResourcesToView.snapshot.data`. */
export interface ResourceSnapshot {
  /** Where it came from: Fluxion's own graph, or R with the allocations of running jobs. */
  source: 'fluxion' | 'R';
  /** Parallel arrays, one entry per vertex; `parent` -1 for the root; parents come before children. */
  parent: number[];
  type: string[];
  name: string[];
  path: string[];
  rank: number[];
  state: VertexState[];
  /** Jobs holding each vertex (F58 ids), '' when none. */
  jobs: string[];
  uri: string;
  /** The resource module's view of each rank (`resource.status`); absent where it is not served. */
  ranks?: RankStatus;
}

/** What `resource.status` says of the ranks: drained (with why and since when), offline, excluded. */
export interface RankStatus {
  /** Drained ranks, by rank: epoch seconds of the drain and its reason ('' when none was given). */
  drained: Record<number, { timestamp: number; reason: string }>;
  offline: number[];
  excluded: number[];
}

/**
 * Where the scheduler would place a jobspec now (a dry-run match): `now` (the vertices it would
 * get), `later` (must wait: reserved vertices from `at`, when the scheduler can say), `never`
 * (it can never run: the scheduler's error), `error` (the jobspec or the request failed),
 * `unsupported` (the scheduler is not Fluxion: only a yes/no, in `message`).
 */
export interface PlacementPreview {
  kind: 'now' | 'later' | 'never' | 'error' | 'unsupported';
  /** Snapshot vertices (leaves: cores, GPUs) the job would get. */
  vertices: number[];
  /** Epoch seconds the job could start (for `later`, when known). */
  at?: number;
  /** What the panel says, in words (the scheduler's own message for errors). */
  message: string;
  /** The jobspec document's name. */
  source: string;
}

export type ResourcesToView =
  | { type: 'snapshot'; data: Uint8Array }
  | { type: 'gone'; reason: string }
  /** The placement preview to draw over the graph; null clears it. */
  | { type: 'preview'; preview: PlacementPreview | null };

export type ResourcesFromView =
  | { type: 'ready' }
  | { type: 'job'; id: string }
  /** Drain… / Undrain asked on a node vertex (its rank). */
  | { type: 'drain'; rank: number }
  | { type: 'undrain'; rank: number }
  | { type: 'clearPreview' };

/** What the resource view keeps across a reload. */
export interface ResourcesViewState {
  scale: number;
  tx: number;
  ty: number;
  /** Deepest type level drawn (cluster 0, node 1, socket 2, core 3...). */
  depth: number;
  search: string;
}
