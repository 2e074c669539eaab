/**
 * What the TBON panel draws, read live from the instance with RPCs flux-core 0.88 also serves:
 * the shape from `overlay.topology`, host names from the `hostlist` attribute, and each rank's
 * state from streaming `overlay.health` requests to every rank that has children (each answer
 * lists its children's subtree states; a new one arrives whenever one changes). A router that
 * is lost takes its stream down: its descendants are shown lost with it, as `flux overlay
 * status` shows them, until the parent reports it back and its stream is opened again.
 * No `vscode` here: the integration tests drive it against real brokers.
 */
import { Flux } from '../../../broker/src/common/libflux/handle';
import { FLAG_STREAMING, getJson } from '../../../broker/src/common/libflux/message';
import { decodeHostlist } from '../../../broker/src/common/libhostlist/hostlist';
import type { StatusChange, SubtreeStatus, TbonSnapshot } from '../../../webviews/common/protocol';
import { rankStateOf } from '../../../webviews/common/protocol';

interface TopologyNode {
  rank: number;
  children: TopologyNode[];
}

interface HealthReply {
  rank: number;
  status: string;
  children: { rank: number; status: string }[];
}

export interface TbonFeedEvents {
  snapshot(s: TbonSnapshot): void;
  changes(c: StatusChange[]): void;
  gone(reason: string): void;
}

const STATUSES = new Set<SubtreeStatus>(['full', 'partial', 'degraded', 'lost', 'offline']);

function asStatus(s: string): SubtreeStatus {
  return STATUSES.has(s as SubtreeStatus) ? (s as SubtreeStatus) : 'unknown';
}

/** Flatten the topology into a parent per rank. */
export function parentsOf(root: TopologyNode): number[] {
  const parents: number[] = [];
  const stack: [TopologyNode, number][] = [[root, -1]];
  while (stack.length) {
    const [n, p] = stack.pop()!;
    parents[n.rank] = p;
    for (const c of n.children) stack.push([c, n.rank]);
  }
  for (let r = 0; r < parents.length; r++) if (parents[r] === undefined) parents[r] = -1;
  return parents;
}

export class TbonFeed {
  private h: Flux | undefined;
  private parents: number[] = [];
  private kids: number[][] = [];
  private status: SubtreeStatus[] = [];
  /** Ranks whose health stream is open. */
  private readonly streams = new Set<number>();
  private stopped = false;
  private pending: StatusChange[] = [];
  private flushTimer: NodeJS.Timeout | undefined;

  constructor(private readonly uri: string, private readonly ev: TbonFeedEvents) {}

  /** Read the tree, send the snapshot, then follow health. Rejects if the instance cannot be read. */
  async start(): Promise<void> {
    const h = await Flux.open(this.uri);
    this.h = h;
    h.onDisconnect(() => {
      if (!this.stopped) this.ev.gone('The connection to the instance was lost.');
    });
    const topo = await h.rpc('overlay.topology', { rank: 0 }, { nodeid: 0 }).get<TopologyNode>();
    this.parents = parentsOf(topo);
    this.kids = this.parents.map(() => []);
    this.parents.forEach((p, r) => {
      if (p >= 0) this.kids[p].push(r);
    });
    const hosts = await this.hosts(h);
    this.status = this.parents.map(() => 'unknown');
    // First answers of every router, before the first paint (a leaf's state is in its parent's).
    const routers = this.parents.map((_, r) => r).filter((r) => this.kids[r].length > 0 || r === 0);
    await Promise.all(routers.map((r) => this.follow(r)));
    this.pending = [];
    this.ev.snapshot({ parents: this.parents, hosts, status: [...this.status], uri: this.uri });
  }

  stop(): void {
    this.stopped = true;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.h?.close();
    this.h = undefined;
  }

  /** Module names loaded on one rank (for the hover). */
  async modules(rank: number): Promise<string[]> {
    if (!this.h) throw new Error('not connected');
    const r = await this.h.rpc('module.list', undefined, { nodeid: rank }).get<{ mods?: { name: string }[] }>();
    return (r.mods ?? []).map((m) => m.name).sort();
  }

  private async hosts(h: Flux): Promise<string[]> {
    try {
      const names = decodeHostlist(await h.getattr('hostlist'));
      return this.parents.map((_, r) => names[r] ?? '');
    } catch {
      return this.parents.map(() => '');
    }
  }

  /** Open rank's health stream; resolves with its first answer applied (or its failure). */
  private follow(rank: number): Promise<void> {
    const h = this.h;
    if (!h || this.stopped || this.streams.has(rank)) return Promise.resolve();
    this.streams.add(rank);
    const rpc = h.rpc('overlay.health', undefined, { nodeid: rank, flags: FLAG_STREAMING });
    let first: (() => void) | undefined;
    const firstAnswer = new Promise<void>((resolve) => (first = resolve));
    void (async () => {
      try {
        for await (const m of rpc) {
          this.apply(getJson<HealthReply>(m));
          first?.();
          first = undefined;
        }
      } catch {
        // Lost (EHOSTUNREACH) or gone: its parent's stream says which; its subtree goes with it.
      }
      this.streams.delete(rank);
      if (!this.stopped && rank !== 0) this.lose(rank, undefined);
      first?.();
    })();
    return firstAnswer;
  }

  private apply(r: HealthReply): void {
    this.set(r.rank, asStatus(r.status));
    for (const c of r.children) {
      const s = asStatus(c.status);
      this.set(c.rank, s);
      // A router that came back (or was not followed yet) gets its stream; a lost one takes its subtree.
      if (rankStateOf(s) === 'online' && this.kids[c.rank]?.length) void this.follow(c.rank);
      else if (rankStateOf(s) !== 'online') this.lose(c.rank, s);
    }
  }

  /**
   * Rank is no longer reachable (its parent said so, with `s`), or its own stream ended (no
   * `s`: the parent's next answer says what became of it). Its descendants that nobody can ask
   * share its fate.
   */
  private lose(rank: number, s: SubtreeStatus | undefined): void {
    if (s !== undefined) this.set(rank, s);
    const fate: SubtreeStatus = s === 'offline' ? 'offline' : 'lost';
    const stack = [...(this.kids[rank] ?? [])];
    while (stack.length) {
      const k = stack.pop()!;
      if (this.streams.has(k)) continue;
      this.set(k, fate);
      stack.push(...this.kids[k]);
    }
  }

  private set(rank: number, s: SubtreeStatus): void {
    if (rank < 0 || rank >= this.status.length || this.status[rank] === s) return;
    this.status[rank] = s;
    this.pending.push({ rank, status: s });
    // Changes come in bursts (a subtree at once): one message per turn.
    this.flushTimer ??= setTimeout(() => {
      this.flushTimer = undefined;
      const c = this.pending;
      this.pending = [];
      if (c.length && !this.stopped) this.ev.changes(c);
    }, 0);
  }
}
