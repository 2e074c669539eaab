/**
 * What the resource graph panel draws, live, and the one place that decides when it is read
 * again: the scheduler's graph (resources-snapshot.ts: Fluxion's own, or R with the running
 * jobs' R), the resource module's drained / offline ranks (`resource.status`), and the placement
 * preview of a jobspec (resources-placement.ts), recomputed with every new snapshot since it
 * depends on what is allocated. A new snapshot is read (debounced) when the job-manager's
 * journal allocates or frees, when `broker.online` changes (groups.get, streaming), when
 * `resource.eventlog` grows (drain, undrain), and when told something changed (`changed()`,
 * after a drain or undrain made here). No `vscode` here.
 */
import { Flux } from '../../../broker/src/common/libflux/handle';
import { FLAG_STREAMING, getJson } from '../../../broker/src/common/libflux/message';
import { FluxError } from '../../../broker/src/common/libflux/errno';
import { lookup, watch } from '../../../broker/src/common/libkvs/client';
import { FLUX_KVS_WAITCREATE, FLUX_KVS_WATCH, FLUX_KVS_WATCH_APPEND } from '../../../broker/src/common/libkvs/lookup';
import type { PlacementPreview, ResourceSnapshot } from '../../../webviews/common/protocol';
import { previewPlacement } from './resources-placement';
import { f58, snapshotFromJgf, snapshotFromR } from './resources-snapshot';
import { readRankStatus } from './resources-status';

export { snapshotFromJgf, snapshotFromR } from './resources-snapshot';

const REFRESH_MS = 150;

export interface ResourcesFeedEvents {
  snapshot(s: ResourceSnapshot): void;
  gone(reason: string): void;
  /** The placement preview on the latest snapshot; null once it is cleared. */
  preview?(p: PlacementPreview | null): void;
}

/** A jobspec to preview: the object the document holds, and the document's name. */
export interface PreviewRequest {
  jobspec: unknown;
  source: string;
}

export class ResourcesFeed {
  private h: Flux | undefined;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  /** Running jobs' R, by F58 id (for the R-based graph). */
  private readonly jobs = new Map<string, unknown>();
  private fetching = false;
  /** What the next read must do: the whole graph, or only the preview on the last snapshot. */
  private wantGraph = false;
  private wantPreview = false;
  private last: ResourceSnapshot | undefined;
  private previewReq: PreviewRequest | undefined;

  constructor(private readonly uri: string, private readonly ev: ResourcesFeedEvents) {}

  async start(): Promise<void> {
    const h = await Flux.open(this.uri);
    this.h = h;
    h.onDisconnect(() => {
      if (!this.stopped) this.ev.gone('The connection to the instance was lost.');
    });
    await this.followJournal(h);
    this.followStream(() => h.rpc('groups.get', { name: 'broker.online' }, { nodeid: 0, flags: FLAG_STREAMING }));
    this.followStream(() => watch(h, 'resource.eventlog', { flags: FLUX_KVS_WATCH | FLUX_KVS_WAITCREATE | FLUX_KVS_WATCH_APPEND }));
    this.wantGraph = true;
    await this.refresh();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.h?.close();
    this.h = undefined;
  }

  /** Something changed the resources (a drain or undrain made here): read them again. */
  changed(): void {
    this.schedule(true);
  }

  /** Preview this jobspec (recomputed on every snapshot), or stop previewing (undefined). */
  setPreview(req: PreviewRequest | undefined): void {
    this.previewReq = req;
    if (!req) {
      this.ev.preview?.(null);
      return;
    }
    this.schedule(false);
  }

  /** The journal's history first (jobs running now), then every change; ends with `{id:-1}` after the history. */
  private followJournal(h: Flux): Promise<void> {
    return new Promise((resolve) => {
      const rpc = h.rpc('job-manager.events-journal', { full: false }, { flags: FLAG_STREAMING });
      let live = false;
      void (async () => {
        try {
          for await (const m of rpc) {
            const e = getJson<{ id?: unknown; events?: { name?: string }[]; R?: unknown }>(m);
            if (e.id === -1) {
              live = true;
              resolve();
              continue;
            }
            const id = f58(e.id);
            let changed = false;
            for (const ev of e.events ?? []) {
              if (ev.name === 'alloc' && e.R !== undefined) {
                this.jobs.set(id, e.R);
                changed = true;
              } else if (ev.name === 'free' || ev.name === 'clean' || ev.name === 'release') {
                changed = this.jobs.delete(id) || changed || ev.name === 'free';
              }
            }
            if (live && changed) this.schedule(true);
          }
        } catch {
          // No job-manager (an instance without jobs): the graph is still worth showing.
        }
        resolve();
      })();
    });
  }

  /** Every answer of a streaming request after its first (the state the graph was read in) means a change. */
  private followStream(open: () => AsyncIterable<unknown>): void {
    void (async () => {
      let first = true;
      try {
        for await (const _ of open()) {
          if (!first) this.schedule(true);
          first = false;
        }
      } catch {
        // Not served here (an older resource module, no kvs-watch): drains made here still refresh through changed().
      }
    })();
  }

  private schedule(graph: boolean): void {
    if (graph) this.wantGraph = true;
    else this.wantPreview = true;
    this.kick();
  }

  private kick(): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.refresh();
    }, REFRESH_MS);
  }

  private async refresh(): Promise<void> {
    const h = this.h;
    if (!h || this.stopped || this.fetching) return; // a read in progress looks at the flags again when done
    this.fetching = true;
    try {
      const graph = this.wantGraph || !this.last;
      this.wantGraph = false;
      this.wantPreview = false;
      if (graph) {
        this.last = await this.read(h);
        if (this.stopped) return;
        this.ev.snapshot(this.last);
      }
      const req = this.previewReq;
      if (req && this.last) {
        const p = await previewPlacement(h, this.last, req.jobspec, req.source);
        // A newer jobspec (or none) since: that one is computed next, this one is stale.
        if (!this.stopped && this.previewReq === req) this.ev.preview?.(p);
      }
    } catch (e) {
      if (!this.stopped) this.ev.gone(`Cannot read the resources: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      this.fetching = false;
      if (this.wantGraph || this.wantPreview) this.kick();
    }
  }

  private async read(h: Flux): Promise<ResourceSnapshot> {
    const ranks = await readRankStatus(h);
    let s: ResourceSnapshot | undefined;
    try {
      s = snapshotFromJgf(await h.rpc('sched-fluxion-resource.graph', {}, { nodeid: 0 }).get(), this.uri);
    } catch (e) {
      if (!(e instanceof FluxError) || e.errnum !== 38) throw e; // ENOSYS: Fluxion is not loaded
    }
    if (!s) {
      const all = (await lookup(h, 'resource.R')).json();
      const status = await h.rpc('sched.resource-status', {}, { nodeid: 0 }).get<{ down?: unknown }>().catch(() => ({ down: undefined }));
      s = snapshotFromR(all, status.down, this.jobs, this.uri);
    }
    if (ranks) s.ranks = ranks;
    return s;
  }
}
