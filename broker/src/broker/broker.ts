/**
 * One Flux broker (one rank): joins the TBON, serves the local socket, routes
 * requests and responses, hosts the built-in services, and, on rank 0, runs
 * the initial program and leads shutdown.
 */
import { randomUUID } from 'node:crypto';
import * as os from 'node:os';
import * as path from 'node:path';
import { errno, FluxError } from '../common/libflux/errno';
import {
  FLAG_NORESPONSE,
  FLAG_ROUTE,
  MSGTYPE_EVENT,
  MSGTYPE_REQUEST,
  MSGTYPE_RESPONSE,
  ROLE_LOCAL,
  ROLE_OWNER,
  deriveErrorResponse,
  getJson,
  type Message,
} from '../common/libflux/message';
import { Attributes } from './attr';
import { setBootAttributes } from './boot-attrs';
import { registerBrokerMethods, respondPing } from './ping';
import { BrokerRpc } from './broker-rpc';
import { MsgCounters } from '../common/libflux/msg-counters';
import { ConnectorLocal, type ClientConn } from './connector-local';
import { EventDistributor } from './event';
import { RunControl } from './run-control';
import { decodeHostlist } from '../common/libhostlist/hostlist';
import { stateIndex, type StateMachine, type StateName } from './state-machine';
import { ConfigService } from './config-service';
import { ModuleHost } from './module-host';
import { BrokerLog, LOG_CRIT, LOG_VALIDATORS } from './log';
import { LogService, upstreamAppend } from './log-service';
import { Overlay } from './overlay';
import { bootOverlay } from './overlay-boot';
import { OverlayMonitor, monitorOptions } from './overlay-monitor';
import { routeRequest, serviceOf } from './route';
import { ServiceTable, type Responder } from './service';
import { parseTopology, type Topology } from './topology';

import { FLUX_VERSION } from '../common/libflux/version';

export interface BrokerConfig {
  rank: number;
  size: number;
  rundir: string;
  /** `tbon.topo` value, e.g. `kary:32` or `binomial`. */
  topo: string;
  /** Attributes from `-S NAME=VALUE`, applied before defaults. */
  attrs: Record<string, string>;
  /** `--config-path`: a TOML file or directory, or a JSON file. */
  configPath?: string;
  /** `flux start --test-hosts`: host names by rank. */
  hostnames?: string[];
}

export { localUri } from './boot-attrs';

export class Broker {
  readonly uuid = randomUUID();
  readonly rank: number;
  readonly size: number;
  readonly topo: Topology;
  readonly attrs = new Attributes();
  readonly log: BrokerLog;
  readonly logService: LogService;
  readonly services: ServiceTable;
  /** Messages the broker's own services received and sent (`broker.stats-get`). */
  readonly counters = new MsgCounters();
  readonly events: EventDistributor;
  readonly modules: ModuleHost;
  private readonly overlay: Overlay;
  /** Child link health, keepalives and failure handling (overlay-monitor.ts). */
  readonly monitor: OverlayMonitor;
  private readonly connector: ConnectorLocal;
  private readonly owner = os.userInfo().uid;
  private parentUuid: string | undefined;
  private readonly childUuid = new Map<number, string>();
  private readonly childRank = new Map<string, number>();
  private readonly selfRpc = new BrokerRpc(this.owner, (m) => this.routeRequest(m));
  /** Run control: join, rc1, quorum, run, shutdown, rc3, exit (run-control.ts, state-machine.ts). */
  readonly run: RunControl;
  readonly sm: StateMachine;
  readonly config: ConfigService;
  /** Rank 0: signal the running initial program to end (true if one was running). */
  abortProgram: () => boolean = () => false;
  /** Rank 0: runs the initial program when the instance is up; undefined = none. */
  initialProgram: (() => Promise<number> | undefined) | undefined;
  /** Environment for the programs this broker runs (rc scripts). */
  programEnv: () => NodeJS.ProcessEnv = () => process.env;
  /** Called once on entering `run` (rank 0: the instance is up). */
  onRun: () => void = () => {};
  /** Called when the state machine reached `exit`, with the broker's exit status. */
  onExit: (status: number) => void = () => {};
  /** Called when the parent broker went away while this one was running: it must exit. */
  onLostParent: () => void = () => {};

  get state(): StateName {
    return this.sm.state;
  }

  constructor(private readonly cfg: BrokerConfig) {
    this.rank = cfg.rank;
    this.config = new ConfigService(cfg.configPath);
    this.size = cfg.size;
    this.topo = parseTopology(cfg.topo, cfg.size);
    this.log = new BrokerLog(cfg.rank, this.attrs);
    this.log.forward = (line) => this.routeRequest(upstreamAppend(this.rank, this.owner, line));
    this.logService = new LogService(this.log);
    this.services = new ServiceTable((m) => {
      this.counters.sent(m.type);
      this.sendResponse(m);
    }, (s) => this.log.err(s));
    this.overlay = new Overlay({
      fromParent: (m) => this.fromParent(m),
      fromChild: (uuid, m) => this.fromChild(uuid, m),
      protocolError: (where, e) => this.log.err(`overlay: ${where}: ${e instanceof Error ? e.message : String(e)}`),
      childDisconnected: () => this.monitor.childDisconnected(),
      parentDisconnected: () => this.monitor.parentDisconnected(),
    });
    this.monitor = new OverlayMonitor({
      rank: this.rank,
      parent: this.topo.parent(this.rank),
      children: this.topo.children(this.rank),
      uuid: this.uuid,
      owner: this.owner,
      shuttingDown: () => stateIndex(this.sm.state) >= stateIndex('cleanup'),
      routeRequest: (m) => this.routeRequest(m),
      sendChild: (uuid, m) => this.overlay.sendChild(uuid, m),
      failRequest: (m, errnum) => this.failRequest(m, errnum),
      forgetChild: (rank, uuid) => {
        if (this.childUuid.get(rank) === uuid) this.childUuid.delete(rank);
        this.childRank.delete(uuid);
        this.run.childGone(rank, uuid);
      },
      lostParent: () => this.onLostParent(),
      isParent: (uuid) => uuid === this.parentUuid,
      requesterGone: (m) => {
        const hop = m.routes[0];
        return hop !== undefined && !this.connector.get(hop) && hop !== this.parentUuid && !this.childRank.has(hop);
      },
      logErr: (s) => this.log.err(s),
      logDebug: (s) => this.log.debug(s),
    }, monitorOptions(cfg.attrs));
    this.monitor.wire(this.overlay.trace, this.topo, () => decodeHostlist(this.attrs.get('hostlist') ?? ''));
    this.connector = new ConnectorLocal(this.owner, {
      request: (m) => this.routeRequest(m),
      other: (m, c) => this.fromClientOther(m, c),
      disconnected: (c) => {
        this.logService.disconnect(c.uuid);
        this.run.clientGone(c.uuid);
      },
      log: (s) => this.log.err(s),
    });
    for (const [name, fn] of Object.entries(LOG_VALIDATORS)) this.attrs.addValidator(name, fn);
    setBootAttributes(this.attrs, { rank: this.rank, size: this.size, rundir: cfg.rundir, topo: this.topo, uuid: this.uuid, owner: this.owner, extra: cfg.attrs, hostnames: cfg.hostnames, configPath: cfg.configPath });
    // Bad -S values (e.g. log-level=9) stop the broker here, with flux-broker's message.
    this.attrs.checkAll();
    this.events = new EventDistributor({
      rank: this.rank,
      owner: this.owner,
      toParent: (m) => void this.overlay.sendParent(m).catch(() => this.log.err(`event ${m.topic}: parent unreachable`)),
      toChildren: (m) => {
        for (const uuid of this.childRank.keys()) void this.overlay.sendChild(uuid, m).catch(() => {});
      },
      deliverLocal: (m) => {
        this.connector.deliverEvent(m, this.uuid);
        this.modules.deliverEvent(m);
      },
    });
    this.events.registerService(this.services);
    this.modules = new ModuleHost(
      path.join(__dirname, 'modules'),
      { rank: this.rank, size: this.size, attrs: {} },
      {
        request: (m) => this.routeRequest(m),
        response: (m) => this.sendResponse(m),
        event: (m) => this.events.publish(m),
        log: (s) => this.log.err(s),
        // flux-core's broker panic: a module failed while running and broker.module-nopanic is unset.
        panic: (reason) => {
          this.log.log(LOG_CRIT, 'broker', reason);
          this.sm.setStatus(1);
          this.sm.abort('panic');
        },
      },
      // flux-core's built-in modules, in its load order.
      [
        { name: 'config', services: ['config'] },
        { name: 'connector-local', services: ['connector-local'] },
        { name: 'groups', services: ['groups'] },
        { name: 'rexec', services: ['rexec'] },
        { name: 'overlay', services: ['overlay'] },
      ],
    );
    this.modules.registerService(this.services);
    this.attrs.registerService(this.services);
    this.logService.register(this.services);
    registerBrokerMethods(this.services, this);
    this.services.register('overlay.hello', (r) => this.hello(r));
    this.monitor.register(this.services);
    this.config.register(this.services);
    this.run = new RunControl({
      rank: this.rank,
      size: this.size,
      parent: this.topo.parent(this.rank),
      children: this.topo.children(this.rank),
      attrs: this.attrs,
      log: this.log,
      services: this.services,
      rpc: (topic, payload, nodeid) => this.rpc(topic, payload, nodeid),
      send: (topic, payload, nodeid) => this.selfRpc.send(topic, payload, nodeid),
      watchParent: () => this.watchParent(),
      childrenConnected: () => this.childUuid.size > 0,
      initialProgram: () => this.initialProgram?.(),
      abortProgram: () => this.abortProgram(),
      programEnv: () => this.programEnv(),
      onRun: () => this.onRun(),
      onExit: (status) => this.onExit(status),
    });
    this.sm = this.run.sm;
  }

  /** Bind, listen, connect, then start the state machine. */
  async start(): Promise<void> {
    await this.config.load();
    // Parent link first: the hello can be queued while this broker binds its own sockets.
    const parent = this.topo.parent(this.rank);
    // Binds for the children and connects to the parent; sets tbon.endpoint/tbon.parent-endpoint (overlay-boot.ts).
    await bootOverlay(this.overlay, { rank: this.rank, rundir: this.cfg.rundir, uuid: this.uuid, topo: this.topo, attrs: this.attrs });
    await this.connector.listen(this.cfg.rundir + `/local-${this.rank}`);
    // Followers start keepalives once their parent knows them (watchParent).
    if (parent === undefined) this.monitor.start();
    this.sm.kickoff();
  }

  // --- joining --------------------------------------------------------------

  /** Follower: say hello to the parent, then follow its state (state-machine.ts). */
  private watchParent(): void {
    const parent = this.topo.parent(this.rank)!;
    this.rpc('overlay.hello', { rank: this.rank, uuid: this.uuid, version: FLUX_VERSION, status: this.monitor.health.status, hostname: this.attrs.get('hostname') ?? os.hostname() }, parent)
      .then((m) => {
        this.parentUuid = getJson<{ uuid: string }>(m).uuid;
        this.monitor.start();
        this.selfRpc.stream('state-machine.monitor', {}, parent,
          (resp) => this.sm.parentState(getJson<{ state: number }>(resp).state),
          (errnum) => {
            if (errnum !== errno.ENODATA) this.log.debug(`state-machine.monitor of parent: ${new FluxError(errnum).message}`);
          });
      })
      .catch((e: unknown) => {
        this.log.err(`overlay.hello: ${e instanceof Error ? e.message : String(e)}`);
        this.sm.parentLost();
      });
  }

  private hello(r: Responder): void {
    const p = r.json<{ rank?: unknown; uuid?: unknown; status?: unknown }>();
    const from = r.msg.routes[0];
    if (typeof p.rank !== 'number' || typeof p.uuid !== 'string' || p.uuid !== from) throw new FluxError(errno.EPROTO);
    if (this.topo.parent(p.rank) !== this.rank) throw new FluxError(errno.EINVAL, `rank ${p.rank} is not a child of rank ${this.rank}`);
    const old = this.childUuid.get(p.rank);
    if (old) this.childRank.delete(old);
    this.childUuid.set(p.rank, p.uuid);
    this.childRank.set(p.uuid, p.rank);
    this.monitor.childJoined(p.rank, p.uuid, p.status);
    this.log.debug(`accepting connection from ${typeof (p as { hostname?: unknown }).hostname === 'string' ? (p as { hostname: string }).hostname : '?'} (rank ${p.rank}) status ${typeof p.status === 'string' ? p.status : '?'}`);
    r.respond({ uuid: this.uuid });
  }

  private ping(r: Responder): void {
    respondPing(r, this.uuid, this.rank);
  }

  // --- routing --------------------------------------------------------------

  private fromParent(m: Message): void {
    if (m.type === MSGTYPE_REQUEST) this.routeRequest(m, true);
    else if (m.type === MSGTYPE_RESPONSE) this.sendResponse(m, true);
    else if (m.type === MSGTYPE_EVENT) this.events.fromParent(m);
  }

  private fromChild(uuid: string, m: Message): void {
    const crank = this.childRank.get(uuid);
    if (crank !== undefined) this.monitor.fromChild(crank, m, m.type === MSGTYPE_RESPONSE);
    else this.monitor.fromStranger(uuid);
    if (m.type === MSGTYPE_REQUEST) {
      this.routeRequest(m, true);
    } else if (m.type === MSGTYPE_RESPONSE) {
      if (!this.childRank.has(uuid)) return;
      this.sendResponse(m, true);
    } else if (m.type === MSGTYPE_EVENT) {
      m.rolemask &= ~ROLE_LOCAL;
      this.events.publish(m);
    }
  }

  private fromClientOther(m: Message, _c: ClientConn): void {
    if (m.type === MSGTYPE_RESPONSE) this.sendResponse(m);
    else if (m.type === MSGTYPE_EVENT) this.events.publish(m);
  }

  /** Send a request one hop on its way. `remote` = it arrived over the TBON. */
  routeRequest(m: Message, remote = false): void {
    // The LOCAL role means "entered the instance on this broker": it does not survive a TBON hop.
    if (remote) m.rolemask &= ~ROLE_LOCAL;
    const topic = m.topic ?? '';
    const moduleUuid = this.modules.owner(serviceOf(topic));
    const d = routeRequest(this.rank, this.topo, m.aux1, m.flags, topic, moduleUuid !== undefined || this.services.has(topic));
    switch (d.to) {
      case 'local':
        if (moduleUuid) {
          this.modules.deliver(moduleUuid, m);
        } else {
          this.modules.touchBuiltin(serviceOf(topic));
          this.counters.received(m.type);
          this.services.dispatch(m, (r) => this.ping(r));
        }
        return;
      case 'parent':
        this.overlay.sendParent(m).catch(() => this.failRequest(m, errno.EHOSTUNREACH));
        return;
      case 'child': {
        const uuid = this.childUuid.get(d.rank);
        if (!uuid) {
          this.failRequest(m, errno.EHOSTUNREACH);
          return;
        }
        this.monitor.forwarding(d.rank, m);
        m.flags |= FLAG_ROUTE;
        m.routes.unshift(this.uuid);
        this.overlay.sendChild(uuid, m).catch((e: unknown) => {
          m.routes.shift();
          this.monitor.sendFailed(d.rank, m, e);
        });
        return;
      }
      case 'error':
        this.failRequest(m, d.errnum, d.text);
        return;
    }
  }

  private failRequest(m: Message, errnum: number, text?: string): void {
    if (m.flags & FLAG_NORESPONSE) return;
    this.sendResponse(deriveErrorResponse(m, errnum, text));
  }

  /** Send a response toward the hop on top of its route stack. */
  private sendResponse(m: Message, remote = false): void {
    if (remote) {
      m.rolemask &= ~ROLE_LOCAL;
    } else if (m.rolemask === 0) {
      // Generated here: this broker's credentials.
      m.userid = this.owner;
      m.rolemask = ROLE_OWNER | ROLE_LOCAL;
    }
    const hop = m.routes[0];
    if (hop === undefined) {
      this.selfRpc.deliver(m);
      return;
    }
    m.routes.shift();
    const client = this.connector.get(hop);
    if (client) {
      client.send(m);
    } else if (this.modules.hasModule(hop)) {
      this.modules.deliver(hop, m);
    } else if (hop === this.parentUuid) {
      this.overlay.sendParent(m).catch(() => this.log.err(`lost a response to the parent: ${m.topic}`));
    } else if (this.childRank.has(hop)) {
      this.overlay.sendChild(hop, m).catch(() => this.log.debug(`dropped a response for a gone child: ${m.topic}`));
    } else {
      this.log.debug(`response ${m.topic} for unknown hop ${hop.slice(0, 8)}: dropped`);
    }
  }

  /** An RPC from the broker itself (responses come back with an empty route stack). */
  rpc(topic: string, payload: Record<string, unknown>, nodeid: number): Promise<Message> {
    return this.selfRpc.call(topic, payload, nodeid);
  }

  // --- shutdown -------------------------------------------------------------

  /** Begin an orderly shutdown (signal, launcher, `broker.shutdown`). */
  shutdown(): void {
    this.sm.abort('shutdown');
  }

  async close(): Promise<void> {
    await this.modules.removeAll();
    this.monitor.goodbye();
    this.monitor.stop();
    this.connector.close();
    await this.overlay.close();
  }
}
