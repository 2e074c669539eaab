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
import { respondPing, respondRusage } from './ping';
import { BrokerRpc } from './broker-rpc';
import { MsgCounters } from '../common/libflux/msg-counters';
import { ConnectorLocal, type ClientConn } from './connector-local';
import { EventDistributor } from './event';
import { ModuleHost } from './module-host';
import { BrokerLog } from './log';
import { LogService, upstreamAppend } from './log-service';
import { Overlay } from './overlay';
import { OverlayMonitor, monitorOptions } from './overlay-monitor';
import { routeRequest, serviceOf } from './route';
import { ServiceTable, type Responder } from './service';
import { parseTopology, subtree, type Topology } from './topology';

export { FLUX_VERSION } from '../common/libflux/version';
import { FLUX_VERSION } from '../common/libflux/version';

export interface BrokerConfig {
  rank: number;
  size: number;
  rundir: string;
  /** `tbon.topo` value, e.g. `kary:32` or `binomial`. */
  topo: string;
  /** Attributes from `-S NAME=VALUE`, applied before defaults. */
  attrs: Record<string, string>;
  /** Rank 0 only: the initial program runner is attached by main.ts. */
}

export type BrokerState = 'join' | 'quorum' | 'run' | 'shutdown' | 'exit';

export { localUri, tbonEndpoint } from './boot-attrs';

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
  state: BrokerState = 'join';
  private started = false;
  /** Called once the whole instance is up (rank 0) or this subtree joined (others). */
  onRun: () => void = () => {};
  /** Called when a parent asks this subtree to shut down; the reply goes after it resolves. */
  onShutdownRequest: () => Promise<void> = async () => {};
  /** Called after this broker confirmed its shutdown to its parent. */
  onShutdownConfirmed: () => void = () => {};
  /** Called when the parent broker went away while this one was running: it must exit. */
  onLostParent: () => void = () => {};

  constructor(private readonly cfg: BrokerConfig) {
    this.rank = cfg.rank;
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
      shuttingDown: () => this.state === 'shutdown' || this.state === 'exit',
      routeRequest: (m) => this.routeRequest(m),
      sendChild: (uuid, m) => this.overlay.sendChild(uuid, m),
      failRequest: (m, errnum) => this.failRequest(m, errnum),
      forgetChild: (rank, uuid) => {
        if (this.childUuid.get(rank) === uuid) this.childUuid.delete(rank);
        this.childRank.delete(uuid);
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
    this.connector = new ConnectorLocal(this.owner, {
      request: (m) => this.routeRequest(m),
      other: (m, c) => this.fromClientOther(m, c),
      disconnected: (c) => this.logService.disconnect(c.uuid),
      log: (s) => this.log.err(s),
    });
    setBootAttributes(this.attrs, { rank: this.rank, size: this.size, rundir: cfg.rundir, topo: this.topo, uuid: this.uuid, owner: this.owner, extra: cfg.attrs });
    this.events = new EventDistributor({
      rank: this.rank,
      owner: this.owner,
      toParent: (m) => void this.overlay.sendParent(m).catch(() => this.log.err(`event ${m.topic}: parent unreachable`)),
      toChildren: (m) => {
        for (const uuid of this.childRank.keys()) void this.overlay.sendChild(uuid, m).catch(() => {});
      },
      deliverLocal: (m) => this.connector.deliverEvent(m, this.uuid),
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
      },
      [
        { name: 'connector-local', services: ['connector-local'] },
        { name: 'overlay', services: ['overlay'] },
      ],
    );
    this.modules.registerService(this.services);
    this.attrs.registerService(this.services);
    this.logService.register(this.services);
    this.services.register('broker.ping', (r) => this.ping(r));
    this.services.register('broker.stats-get', (r) => r.respond({ ...this.counters.toJSON() }));
    this.services.register('broker.stats-clear', (r) => {
      this.counters.clear();
      r.respond({});
    });
    this.services.register('broker.rusage', (r) => respondRusage(r));
    this.services.register('overlay.hello', (r) => this.hello(r));
    this.services.register('overlay.topology', (r) => this.topology(r));
    this.services.register('overlay.shutdown', (r) => this.shutdownRequest(r));
    this.monitor.register(this.services);
  }

  /** Bind, listen, connect; resolves when this broker's sockets are ready. */
  async start(): Promise<void> {
    // Parent link first: children may report in while we are still binding.
    const parent = this.topo.parent(this.rank);
    if (parent !== undefined) this.overlay.connectParent(this.attrs.get('tbon.parent-endpoint')!, this.uuid);
    // What flux-core's rc1 loads on every rank that exists here so far; the module
    // threads start while the sockets are set up, and the rank joins once they run.
    const rc1 = Promise.all(['heartbeat'].map((name) =>
      this.modules.load(this.modules.resolve(name), []).catch((e: unknown) => this.log.err(`rc1: load ${name}: ${e instanceof Error ? e.message : String(e)}`))));
    if (this.topo.children(this.rank).length > 0) {
      await this.overlay.bindChildren(this.attrs.get('tbon.endpoint')!);
    }
    await this.connector.listen(this.cfg.rundir + `/local-${this.rank}`);
    await rc1;
    this.started = true;
    this.checkJoined();
  }

  // --- joining --------------------------------------------------------------

  /** Once every child reported its subtree, tell the parent (or, on rank 0, run). */
  private checkJoined(): void {
    if (!this.started || this.state !== 'join') return;
    if (this.topo.children(this.rank).some((c) => !this.childUuid.has(c))) return;
    this.state = 'quorum';
    const parent = this.topo.parent(this.rank);
    if (parent === undefined) {
      this.enterRun();
      return;
    }
    this.rpc('overlay.hello', { rank: this.rank, uuid: this.uuid, version: FLUX_VERSION, status: this.monitor.health.status, hostname: os.hostname() }, parent)
      .then((m) => {
        this.parentUuid = getJson<{ uuid: string }>(m).uuid;
        this.enterRun();
      })
      .catch((e: unknown) => this.log.err(`overlay.hello: ${e instanceof Error ? e.message : String(e)}`));
  }

  private enterRun(): void {
    this.state = 'run';
    this.monitor.start();
    this.log.debug(`run: ${this.rank === 0 ? 'instance is up' : 'joined parent'}`);
    this.onRun();
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
    r.respond({ uuid: this.uuid });
    this.checkJoined();
  }

  private topology(r: Responder): void {
    const { rank } = r.json<{ rank?: unknown }>();
    if (typeof rank !== 'number' || !Number.isInteger(rank) || rank < 0 || rank >= this.size) {
      throw new FluxError(errno.EINVAL, 'invalid rank');
    }
    r.respond({ ...subtree(this.topo, rank) });
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

  /** Ask every child subtree to shut down and wait (bounded) for each to confirm. */
  async shutdownChildren(timeoutMs = 10_000): Promise<void> {
    this.state = 'shutdown';
    const waits = this.topo.children(this.rank)
      .filter((c) => this.childUuid.has(c))
      .map((c) =>
        Promise.race([
          this.rpc('overlay.shutdown', {}, c).then(() => this.monitor.childShutdown(c), () => undefined),
          new Promise<void>((res) => setTimeout(res, timeoutMs).unref()),
        ]),
      );
    await Promise.all(waits);
  }

  private async shutdownRequest(r: Responder): Promise<void> {
    if (r.msg.routes[0] !== this.parentUuid) throw new FluxError(errno.EPERM);
    await this.onShutdownRequest();
    r.respond({});
    this.onShutdownConfirmed();
  }

  async close(): Promise<void> {
    this.state = 'exit';
    await this.modules.removeAll();
    this.monitor.goodbye();
    this.monitor.stop();
    this.connector.close();
    await this.overlay.close();
  }
}
