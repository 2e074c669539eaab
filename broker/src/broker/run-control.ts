/**
 * Run control, wired together: the state machine (state-machine.ts), the
 * `groups` built-in whose `broker.online` group makes the quorum, rc1/rc3
 * (runat.ts), `shutdown.start` (shutdown.ts) and the rexec subprocess server
 * whose processes must go when the broker does. The broker hands it the
 * few things it needs; everything about *when* things happen lives here and
 * in state-machine.ts.
 */
import * as os from 'node:os';
import { getJson, type Message } from '../common/libflux/message';
import { encodeIdset } from '../common/libidset/idset';
import { decodeHostlist, encodeHostlist } from '../common/libhostlist/hostlist';
import type { Attributes } from './attr';
import { Groups } from './groups';
import type { BrokerLog } from './log';
import { registerRexec } from './rexec';
import { DEFAULT_RC1, DEFAULT_RC3, runRc } from './runat';
import type { ServiceTable } from './service';
import { ShutdownService } from './shutdown';
import { StateMachine } from './state-machine';

export interface RunControlHost {
  rank: number;
  size: number;
  parent: number | undefined;
  children: readonly number[];
  attrs: Attributes;
  log: BrokerLog;
  services: ServiceTable;
  /** An RPC from the broker itself to `nodeid`. */
  rpc(topic: string, payload: Record<string, unknown>, nodeid: number): Promise<Message>;
  /** A request to `nodeid` that wants no answer. */
  send(topic: string, payload: Record<string, unknown>, nodeid: number): void;
  /** Follower: say hello and follow the parent's state. */
  watchParent(): void;
  childrenConnected(): boolean;
  /** Rank 0: the initial program, if any, and how to end it early. */
  initialProgram(): Promise<number> | undefined;
  abortProgram(): boolean;
  programEnv(): NodeJS.ProcessEnv;
  onRun(): void;
  onExit(status: number): void;
}

export class RunControl {
  readonly sm: StateMachine;
  readonly groups: Groups;
  readonly shutdown: ShutdownService;

  constructor(private readonly host: RunControlHost) {
    const { attrs, log, services, rank } = host;
    attrs.setDefault('broker.quorum', String(host.size));
    attrs.setDefault('broker.rc1_path', DEFAULT_RC1);
    attrs.setDefault('broker.rc3_path', DEFAULT_RC3);
    this.groups = new Groups({
      rank,
      children: host.children,
      reportParent: (payload) => {
        if (host.parent !== undefined) host.send('groups.update', payload, host.parent);
      },
    });
    this.groups.register(services);
    this.sm = new StateMachine({
      rank,
      hasParent: host.parent !== undefined,
      rc1: () => this.rc('rc1'),
      rc3: () => this.rc('rc3'),
      rc2: () => host.initialProgram(),
      watchParent: () => host.watchParent(),
      online: () => this.groups.join('broker.online'),
      childrenConnected: () => host.childrenConnected(),
      goodbye: () => this.shutdown.goodbye(),
      info: (s) => log.info(s),
      err: (s) => log.err(s),
      exit: (status) => host.onExit(status),
    });
    this.sm.register(services);
    this.sm.onState((st) => {
      if (st === 'run') host.onRun();
    });
    this.shutdown = new ShutdownService(rank, this.sm, log, () => {
      if (!host.abortProgram()) this.sm.abort('shutdown');
    });
    this.shutdown.register(services);
    // RFC 42 subprocess server for `flux exec`; its processes get SIGTERM when the broker exits.
    registerRexec(services, {
      rank,
      localUri: () => attrs.get('local-uri') ?? '',
      log: { info: (s) => log.info(s), err: (s) => log.err(s) },
    }, this.sm);
    if (rank === 0) this.watchQuorum();
  }

  /** A child and its subtree left: out of every group; maybe shutdown can go on. */
  childGone(rank: number, uuid: string): void {
    this.groups.childGone(rank);
    this.sm.disconnect(uuid);
    this.sm.childGone();
  }

  /** A local client went away: forget its streams. */
  clientGone(uuid: string): void {
    this.groups.disconnect(uuid);
    this.sm.disconnect(uuid);
    this.shutdown.disconnect(uuid);
  }

  /** Rank 0 runs once `broker.online` holds `broker.quorum` ranks; joins are logged as flux-core does. */
  private watchQuorum(): void {
    let logged = 0;
    this.groups.onChange((name, members) => {
      if (name !== 'broker.online') return;
      const names = decodeHostlist(this.host.attrs.get('hostlist') ?? '');
      const hosts = encodeHostlist([...members].sort((a, b) => a - b).map((r) => names[r] ?? os.hostname()));
      // Logged while the instance gathers, not while it winds down.
      if (members.size > logged) this.host.log.info(`online: ${hosts} (ranks ${encodeIdset(members)})`);
      logged = members.size;
      if (members.size >= this.quorum()) this.sm.quorumFull();
    });
  }

  private quorum(): number {
    const q = Number(this.host.attrs.get('broker.quorum'));
    return Number.isInteger(q) && q > 0 && q <= this.host.size ? q : this.host.size;
  }

  private rc(which: 'rc1' | 'rc3'): Promise<number | undefined> {
    const { host } = this;
    return runRc(which, {
      rank: host.rank,
      attr: (n) => host.attrs.get(n),
      call: async (topic, payload) => getJson<Record<string, unknown>>(await host.rpc(topic, payload, host.rank)),
      env: () => host.programEnv(),
      info: (s) => host.log.info(s),
      err: (s) => host.log.err(s),
    });
  }
}
