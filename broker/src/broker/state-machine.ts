/**
 * The broker state machine, as flux-core 0.77+ runs it on every rank:
 *
 *   load-builtins → join → config-sync → init (rc1) → quorum → run (rank 0:
 *   the initial program) → cleanup → shutdown (wait for children) →
 *   finalize (rc3) → goodbye → unload-builtins → exit
 *
 * A follower leaves `join` once its parent reached `quorum` (so rc1 runs
 * top-down: service leaders load before their followers), and starts its
 * shutdown when its parent enters `shutdown`; a broker leaves `shutdown` once
 * all its children are gone (so rc3 runs bottom-up). Rank 0 enters `run` when
 * the `broker.online` group holds `broker.quorum` ranks.
 *
 * Each transition is logged at info level as flux-core does
 * (`rc1-success: init->quorum 0.24681s`), and `state-machine.monitor`
 * streams the state to whoever asks (a child watching its parent, tools).
 */
import { errno } from '../common/libflux/errno';
import { formatFsd } from '../common/libutil/fsd';
import { FLAG_STREAMING } from '../common/libflux/message';
import type { Responder, ServiceTable } from './service';

export const STATES = [
  'none', 'load-builtins', 'join', 'config-sync', 'init', 'quorum', 'run',
  'cleanup', 'shutdown', 'finalize', 'goodbye', 'unload-builtins', 'exit',
] as const;
export type StateName = (typeof STATES)[number];

export function stateIndex(s: StateName): number {
  return STATES.indexOf(s);
}

export interface StateMachineHost {
  rank: number;
  hasParent: boolean;
  /** Run rc1; resolves with its exit status (0 = success, undefined = no rc1). */
  rc1(): Promise<number | undefined>;
  rc3(): Promise<number | undefined>;
  /** Rank 0: run the initial program; undefined = none (wait for a shutdown request). */
  rc2?: () => Promise<number> | undefined;
  /** Follower: say hello and follow the parent's state (calls parentState on each change). */
  watchParent(): void;
  /** Join the `broker.online` group. */
  online(): void;
  /** Rank 0: entering goodbye; resolves when exit may follow (the `flux shutdown` client is done). */
  goodbye?: () => Promise<void>;
  /** Whether any child is still connected. */
  childrenConnected(): boolean;
  info(s: string): void;
  err(s: string): void;
  /** The machine reached `exit`: the process should go with this status. */
  exit(status: number): void;
}

/** How long a broker in `shutdown` waits for its children before going on. */
const CHILDREN_TIMEOUT_MS = 10_000;

export class StateMachine {
  state: StateName = 'none';
  private enteredAt = performance.now();
  private status = 0;
  private aborting = false;
  private quorumReached = false;
  /** Followers: the parent's last known state. */
  private parent = 0;
  private childTimer: NodeJS.Timeout | undefined;
  private readonly watchers = new Set<{ r: Responder; final: number }>();
  private readonly listeners = new Set<(s: StateName) => void>();

  constructor(private readonly host: StateMachineHost) {}

  register(services: ServiceTable): void {
    services.register('state-machine.monitor', (r) => {
      const { final } = r.json<{ final?: unknown }>();
      const stop = typeof final === 'number' ? final : STATES.length;
      const cur = stateIndex(this.state);
      r.respond({ state: cur });
      if (!(r.msg.flags & FLAG_STREAMING)) return;
      if (cur >= stop) {
        r.respondError(errno.ENODATA);
        return;
      }
      this.watchers.add({ r, final: stop });
    });
    services.register('state-machine.get', (r) => r.respond({ state: this.state }));
  }

  /** A streaming monitor whose requester went away. */
  disconnect(uuid: string): void {
    for (const w of this.watchers) if (w.r.msg.routes[0] === uuid) this.watchers.delete(w);
  }

  onState(fn: (s: StateName) => void): void {
    this.listeners.add(fn);
  }

  /** The broker's sockets are up and its built-ins registered. */
  kickoff(): void {
    this.enter('load-builtins', '');
    this.enter('join', 'builtins-success');
    if (!this.host.hasParent) {
      this.enter('config-sync', 'parent-none');
      this.init();
    } else {
      this.host.watchParent();
    }
  }

  /** The parent's state changed (followers). */
  parentState(s: number): void {
    this.parent = s;
    if (s >= stateIndex('shutdown')) {
      this.abort('shutdown');
    } else if (s >= stateIndex('quorum') && this.state === 'join') {
      this.enter('config-sync', 'parent-ready');
      this.init();
    } else if (s >= stateIndex('run') && this.state === 'quorum') {
      this.run('quorum-full');
    }
  }

  /** The parent went away: no shutdown handshake is possible any more. */
  parentLost(): void {
    this.status = 1;
    if (this.state === 'join') {
      this.aborting = true;
      this.shutdown('parent-fail');
    } else {
      this.abort('parent-fail');
    }
  }

  /** Rank 0: the `broker.online` group now holds the quorum. */
  quorumFull(): void {
    if (this.quorumReached) return;
    this.quorumReached = true;
    if (this.state === 'quorum') this.run('quorum-full');
  }

  /** A shutdown request (signal, `flux shutdown`, the launcher) or the parent's shutdown. */
  abort(event: string): void {
    if (this.aborting) return;
    this.aborting = true;
    // In init the rc1 still runs to completion; it checks `aborting` when done.
    if (this.state === 'join' || this.state === 'config-sync') this.shutdown(event);
    else if (this.state === 'quorum' || this.state === 'run') this.cleanup(event);
  }

  /** Set the status the broker exits with (rank 0: the initial program's). */
  setStatus(status: number): void {
    this.status = status;
  }

  /** A child disconnected: maybe `shutdown` is complete. */
  childGone(): void {
    if (this.state === 'shutdown' && !this.host.childrenConnected()) this.finalize('children-complete');
  }

  private init(): void {
    this.enter('init', 'sync-none');
    void this.host.rc1().then(
      (rc) => this.rc1Done(rc),
      (e: unknown) => {
        this.host.err(`rc1: ${e instanceof Error ? e.message : String(e)}`);
        this.rc1Done(1);
      },
    );
  }

  private rc1Done(rc: number | undefined): void {
    if (rc !== undefined && rc !== 0) {
      this.status = rc;
      this.aborting = true;
      this.shutdown('rc1-fail');
      return;
    }
    const event = rc === undefined ? 'rc1-none' : 'rc1-success';
    if (this.aborting) {
      this.cleanup(event);
      return;
    }
    this.enter('quorum', event);
    this.host.online();
    // Rank 0 leaves quorum when broker.online is full; a follower once its parent runs.
    if (this.host.rank === 0 ? this.quorumReached : this.parent >= stateIndex('run')) this.run('quorum-full');
  }

  private run(event: string): void {
    this.enter('run', event);
    const p = this.host.rc2?.();
    if (!p) return;
    void p.then((status) => {
      this.status = status;
      this.cleanup(status === 0 ? 'rc2-success' : 'rc2-fail');
    });
  }

  private cleanup(event: string): void {
    if (stateIndex(this.state) >= stateIndex('cleanup')) return;
    this.enter('cleanup', event);
    this.shutdown('cleanup-none');
  }

  private shutdown(event: string): void {
    if (stateIndex(this.state) >= stateIndex('shutdown')) return;
    this.enter('shutdown', event);
    if (!this.host.childrenConnected()) {
      this.finalize('children-none');
      return;
    }
    this.childTimer = setTimeout(() => this.finalize('children-timeout'), CHILDREN_TIMEOUT_MS);
    this.childTimer.unref();
  }

  private finalize(event: string): void {
    if (this.state !== 'shutdown') return;
    if (this.childTimer) clearTimeout(this.childTimer);
    this.enter('finalize', event);
    void this.host.rc3().then(
      (rc) => this.goodbye(rc === undefined ? 'rc3-none' : rc === 0 ? 'rc3-success' : 'rc3-fail'),
      (e: unknown) => {
        this.host.err(`rc3: ${e instanceof Error ? e.message : String(e)}`);
        this.goodbye('rc3-fail');
      },
    );
  }

  private goodbye(event: string): void {
    this.enter('goodbye', event);
    void (this.host.goodbye?.() ?? Promise.resolve()).then(() => {
      this.enter('unload-builtins', 'goodbye');
      this.enter('exit', 'builtins-done');
      this.host.exit(this.status);
    });
  }

  private enter(next: StateName, event: string): void {
    const prev = this.state;
    const now = performance.now();
    if (event) this.host.info(`${event}: ${prev}->${next} ${formatElapsed((now - this.enteredAt) / 1000)}`);
    this.state = next;
    this.enteredAt = now;
    const idx = stateIndex(next);
    for (const w of this.watchers) {
      w.r.respond({ state: idx });
      if (idx >= w.final) {
        w.r.respondError(errno.ENODATA);
        this.watchers.delete(w);
      }
    }
    for (const fn of this.listeners) fn(next);
  }
}

/** flux-core's duration style in these log lines: `13.5554ms`, `0.24681s` (fsd_format_duration). */
export function formatElapsed(seconds: number): string {
  return formatFsd(seconds);
}
