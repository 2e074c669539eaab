/**
 * Broker modules (RFC 5): services that run in their own worker threads (or,
 * with `--exec`, their own processes: module-endpoint.ts), loaded and removed
 * at run time. A module's name is its service; more can be added with
 * `service.add` (module-services.ts). Lifecycle as flux-core's modhash:
 *   INIT -> RUNNING       `module.load` is answered (an exit before this is the load error)
 *   RUNNING -> FINALIZING the module began its shutdown: new requests for its
 *                         services are answered ENOSYS here
 *   -> EXITED             removed (`module.remove`, bounded: a module that does not
 *                         finish is terminated and that is logged), or a runtime
 *                         failure: logged at err, listed as `X` until removed, its
 *                         unanswered requests answered ENOSYS, and the broker panics
 *                         unless `broker.module-nopanic` is set (host callback).
 * `module.list` reports every module, the broker's built-in ones included.
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { errno, FluxError } from '../common/libflux/errno';
import {
  FLAG_NORESPONSE,
  FLAG_ROUTE,
  FLAG_STREAMING,
  FLAG_UPSTREAM,
  MSGTYPE_EVENT,
  MSGTYPE_REQUEST,
  MSGTYPE_RESPONSE,
  ROLE_LOCAL,
  ROLE_OWNER,
  USERID_UNKNOWN,
  deriveErrorResponse,
  deriveResponse,
  getJson,
  newMessage,
  type Message,
} from '../common/libflux/message';
import { UsockDecoder, encodeUsock } from '../common/libflux/usock';
import { applyDebugOp } from '../module/debug-flags';
import { MODULE_EXITED, MODULE_FINALIZING, MODULE_INIT, MODULE_RUNNING, type ModuleInit } from '../module/runtime';
import { execEndpoint, inlineEndpoint, threadEndpoint, type Endpoint, type EndpointExit } from './module-endpoint';

/** The instance owner: every module runs as the broker's user (read once; it is on the per-message path). */
const OWNER = process.getuid?.() ?? 0;

import { INLINE_MODULES } from './inline-modules';
import { ExtraServices, checkServiceAdd } from './module-services';
import { applySubscription, isSubscribed } from './subscriptions';
import { HostPeer } from './module-peer';
import type { ServiceTable } from './service';

// Each module started in this thread hooks the process's uncaughtException/unhandledRejection:
// with the job modules that passes Node's default of 10 listeners (a warning on stderr).
process.setMaxListeners(Math.max(process.getMaxListeners(), 64));

const LOG_CRIT = 2;
const LOG_DEBUG = 7;
/** How long `module.remove` waits for a module to finish before terminating it. */
export const REMOVE_TIMEOUT_MS = 5000;

/** What the broker does with messages a module sends, and what it offers the host. */
export interface ModuleRouting {
  request(m: Message): void;
  /** Send a message toward the hop on top of its route stack (a response, or a request for a client). */
  response(m: Message): void;
  event(m: Message): void;
  log(msg: string): void;
  /**
   * flux-core's broker_panic(): a module failed after it was running and
   * `broker.module-nopanic` is not set. Optional: without it the failure is only logged.
   */
  panic?(reason: string): void;
}

export interface LoadRequest {
  path: string;
  args: string[];
  name?: string;
  exec?: boolean;
  loader?: string;
}

interface Loaded {
  name: string;
  path: string;
  uuid: string;
  ep: Endpoint;
  decoder: UsockDecoder;
  status: number;
  errnum: number;
  errstr?: string;
  lastActivity: number;
  insmod?: { resolve: () => void; reject: (e: Error) => void };
  unloading: boolean;
  /** Requests delivered and not yet answered (answered ENOSYS if the module ends). */
  pending: Map<string, Message>;
  /** Services the module itself sent requests to: each gets `<service>.disconnect` when it ends. */
  used: Map<string, { service: string; nodeid: number; upstream: boolean }>;
  /** Event topic prefixes it subscribed to (a multiset, as a client's). */
  subscriptions: string[];
  exited: Promise<void>;
}

/** A service the broker itself provides, listed like flux-core's built-in modules. */
export interface Builtin {
  name: string;
  services: string[];
}

const pendingKey = (m: Message): string => `${m.routes.join('!')}#${m.aux2}`;

export class ModuleHost {
  private readonly mods = new Map<string, Loaded>();
  private readonly byUuid = new Map<string, Loaded>();
  private readonly builtinActivity = new Map<string, number>();
  private readonly extra = new ExtraServices();
  private serviceTable: ServiceTable | undefined;
  /** The host's own hop, for the few requests it makes to the broker. */
  private readonly peer: HostPeer;
  /** `broker.debug` flags (the broker's own default method). */
  brokerDebugFlags = 0;

  constructor(
    private readonly moduleDir: string,
    private readonly init: Omit<ModuleInit, 'name' | 'uuid' | 'args'>,
    private readonly routing: ModuleRouting,
    private readonly builtins: Builtin[],
  ) {
    const now = Date.now();
    for (const b of builtins) this.builtinActivity.set(b.name, now);
    this.peer = new HostPeer(init.rank, (m) => routing.request(m));
  }

  private get loaderPath(): string {
    return path.join(this.moduleDir, '..', 'module-loader.js');
  }

  /** The uuid of the module (or client) providing `service`, if one does. */
  owner(service: string): string | undefined {
    const m = this.mods.get(service);
    if (m && m.status !== MODULE_EXITED) return m.uuid;
    return this.extra.get(service)?.owner;
  }

  /** Is this a hop the host delivers to (a module, a client's registered service, or itself)? */
  hasModule(uuid: string): boolean {
    return this.byUuid.has(uuid) || uuid === this.peer.uuid;
  }

  /** Deliver a message to the module (or service-owning client) with this uuid. */
  deliver(uuid: string, m: Message): void {
    if (uuid === this.peer.uuid) {
      this.peer.deliver(m);
      return;
    }
    const mod = this.byUuid.get(uuid);
    if (!mod) {
      if (m.type === MSGTYPE_REQUEST && this.extra.isOwner(uuid)) {
        // A client's service: the broker's hop forwarding sends it down that client's connection.
        m.flags |= FLAG_ROUTE;
        m.routes.unshift(uuid);
        this.routing.response(m);
      }
      return;
    }
    mod.lastActivity = Date.now();
    if (m.type === MSGTYPE_REQUEST) {
      // FINALIZING (or ended): the module will not answer; flux-core's broker says ENOSYS.
      if (mod.status >= MODULE_FINALIZING) {
        this.failRequest(m, errno.ENOSYS);
        return;
      }
      if (!(m.flags & FLAG_NORESPONSE)) mod.pending.set(pendingKey(m), m);
    }
    mod.ep.post(encodeUsock(m));
  }

  private failRequest(m: Message, errnum: number): void {
    if (!(m.flags & FLAG_NORESPONSE)) this.routing.response(deriveErrorResponse(m, errnum));
  }

  /** Note that a built-in service handled something (for `flux module list`'s Idle column). */
  touchBuiltin(service: string): void {
    for (const b of this.builtins) if (b.services.includes(service)) this.builtinActivity.set(b.name, Date.now());
  }

  /** A module file: a path as given (made absolute), or a bundled module by name. */
  resolve(nameOrPath: string): string {
    if (nameOrPath.includes('/')) return path.resolve(nameOrPath);
    const file = path.join(this.moduleDir, `${nameOrPath}.js`);
    if (!fs.existsSync(file)) throw new FluxError(errno.ENOENT, 'module not found in search path');
    return file;
  }

  private lookup(nameOrPath: string): Loaded | undefined {
    return this.mods.get(nameOrPath) ?? [...this.mods.values()].find((m) => m.path === nameOrPath);
  }

  /** Load a module and wait until it runs; rejects with its errno (and message) if it exits first. */
  async load(modPath: string, args: string[], name?: string, opts: { exec?: boolean; loader?: string } = {}): Promise<void> {
    const modName = name ?? path.basename(modPath).replace(/\.(c|m)?js$/, '');
    if (this.mods.has(modName) || this.builtins.some((b) => b.name === modName) || this.extra.get(modName) || this.serviceTable?.has(`${modName}.x`)) {
      throw new FluxError(errno.EEXIST);
    }
    if (!fs.existsSync(modPath)) throw new FluxError(errno.ENOENT);
    const uuid = randomUUID();
    const init: ModuleInit = { ...this.init, name: modName, uuid, args, path: modPath };
    const loader = opts.loader ?? this.loaderPath;
    const base = path.basename(modPath).replace(/\.js$/, '');
    const inline = !opts.exec && opts.loader === undefined && Object.hasOwn(INLINE_MODULES, base) && path.dirname(modPath) === this.moduleDir;
    const ep = opts.exec ? execEndpoint(loader, init) : inline ? inlineEndpoint(init, INLINE_MODULES[base]) : threadEndpoint(loader, init);
    let onExit: () => void = () => {};
    const mod: Loaded = {
      name: modName, path: modPath, uuid, ep, decoder: new UsockDecoder(), status: MODULE_INIT, errnum: 0,
      lastActivity: Date.now(), unloading: false, pending: new Map(), used: new Map(), subscriptions: [],
      exited: new Promise<void>((r) => (onExit = r)),
    };
    this.mods.set(modName, mod);
    this.byUuid.set(uuid, mod);
    const started = new Promise<void>((resolve, reject) => (mod.insmod = { resolve, reject }));
    ep.onMessage((buf) => this.fromModule(mod, buf));
    ep.onError((e) => this.routing.log(`${modName}: ${e.message}`));
    ep.onExit((how) => {
      this.ended(mod, how);
      onExit();
    });
    this.peer.log(LOG_DEBUG, 'broker', `insmod ${modName}`);
    await started;
  }

  private fromModule(mod: Loaded, buf: Buffer): void {
    let msgs: Message[];
    try {
      msgs = mod.decoder.push(buf);
    } catch (e) {
      this.routing.log(`${mod.name}: ${e instanceof Error ? e.message : String(e)}: stopping it`);
      mod.ep.kill();
      return;
    }
    mod.lastActivity = Date.now();
    for (const m of msgs) {
      // A module connection is the instance owner's, as flux-core's are.
      if (m.userid === USERID_UNKNOWN) m.userid = OWNER;
      if (m.rolemask === 0) m.rolemask = ROLE_OWNER | ROLE_LOCAL;
      if (m.type === MSGTYPE_REQUEST && m.topic === 'module.status' && m.routes.length === 0) {
        this.status(mod, m);
      } else if (m.type === MSGTYPE_REQUEST && m.routes.length === 0 && (m.topic === 'event.subscribe' || m.topic === 'event.unsubscribe')) {
        this.subscription(mod, m);
      } else if (m.type === MSGTYPE_REQUEST) {
        if (m.routes.length === 0) this.trackUse(mod, m);
        m.flags |= FLAG_ROUTE;
        m.routes.unshift(mod.uuid);
        this.routing.request(m);
      } else if (m.type === MSGTYPE_RESPONSE) {
        const key = pendingKey(m);
        const req = mod.pending.get(key);
        // A stream ends with its error response; anything else is answered by its first.
        if (req && (!(req.flags & FLAG_STREAMING) || m.aux1 !== 0)) mod.pending.delete(key);
        this.routing.response(m);
      } else if (m.type === MSGTYPE_EVENT) {
        this.routing.event(m);
      }
    }
  }

  /**
   * event.subscribe / event.unsubscribe {"topic"} from a module: kept here, as the
   * local connector keeps a client's (flux-core's modules subscribe through the broker).
   */
  private subscription(mod: Loaded, req: Message): void {
    const resp = applySubscription(mod.subscriptions, req);
    if (!(req.flags & FLAG_NORESPONSE)) mod.ep.post(encodeUsock(resp));
  }

  /** Give an event to every running module subscribed to a prefix of its topic. */
  deliverEvent(m: Message): void {
    const topic = m.topic ?? '';
    for (const mod of this.mods.values()) {
      if (mod.status >= MODULE_FINALIZING || !isSubscribed(mod.subscriptions, topic)) continue;
      mod.ep.post(encodeUsock(m));
    }
  }

  private trackUse(mod: Loaded, m: Message): void {
    const topic = m.topic ?? '';
    const dot = topic.indexOf('.');
    if (dot <= 0 || topic.endsWith('.disconnect')) return;
    const service = topic.slice(0, dot);
    const upstream = (m.flags & FLAG_UPSTREAM) !== 0;
    mod.used.set(`${service}\0${m.aux1}\0${upstream}`, { service, nodeid: m.aux1, upstream });
  }

  private status(mod: Loaded, m: Message): void {
    let st: { status?: unknown; errnum?: unknown; errstr?: unknown };
    try {
      st = getJson(m);
    } catch {
      st = {};
    }
    if (typeof st.status === 'number' && st.status > mod.status && st.status <= MODULE_EXITED) {
      mod.status = st.status;
      if (st.status === MODULE_RUNNING) {
        mod.insmod?.resolve();
        mod.insmod = undefined;
      } else if (st.status === MODULE_EXITED) {
        mod.errnum = typeof st.errnum === 'number' ? st.errnum : 0;
        if (typeof st.errstr === 'string' && st.errstr) mod.errstr = st.errstr;
      }
    }
    // The module waits for this answer in FINALIZING: after it, nothing more is routed to it.
    if (!(m.flags & FLAG_NORESPONSE)) mod.ep.post(encodeUsock(deriveResponse(m)));
  }

  /** The module's thread/process is gone: settle everything that depended on it. */
  private ended(mod: Loaded, how: EndpointExit): void {
    const reported = mod.status === MODULE_EXITED;
    const failed = !reported || mod.errnum !== 0;
    const wasRunning = !mod.insmod;
    mod.status = MODULE_EXITED;
    this.extra.dropOwner(mod.uuid);
    for (const req of mod.pending.values()) this.failRequest(req, errno.ENOSYS);
    mod.pending.clear();
    for (const u of mod.used.values()) {
      const d = newMessage(MSGTYPE_REQUEST, `${u.service}.disconnect`);
      d.flags |= FLAG_NORESPONSE | FLAG_ROUTE | (u.upstream ? FLAG_UPSTREAM : 0);
      d.aux1 = u.nodeid;
      d.userid = OWNER;
      d.rolemask = ROLE_OWNER | ROLE_LOCAL;
      d.routes = [mod.uuid];
      this.routing.request(d);
    }
    if (!reported) this.routing.log(`${mod.name}: ${how.description}`);
    if (mod.insmod) {
      // Never ran: `flux module load` fails with the module's errno (flux-core: ECONNRESET if none).
      mod.insmod.reject(new FluxError(mod.errnum || errno.ECONNRESET, mod.errstr ?? (reported ? undefined : how.description)));
      mod.insmod = undefined;
      this.forget(mod);
    } else if (mod.unloading || !failed) {
      this.forget(mod);
    } else if (wasRunning) {
      // A runtime failure: stays listed as X until `flux module remove`.
      this.byUuid.delete(mod.uuid);
      void this.runtimeFailure(mod.name);
    }
  }

  private async runtimeFailure(name: string): Promise<void> {
    const reason = `${name} module runtime failure`;
    const nopanic = await this.peer.attrGet('broker.module-nopanic');
    if (!this.routing.panic || (nopanic !== undefined && nopanic !== '0')) this.peer.log(LOG_CRIT, 'broker', reason);
    else this.routing.panic(reason);
  }

  private forget(mod: Loaded): void {
    if (this.mods.get(mod.name) === mod) this.mods.delete(mod.name);
    this.byUuid.delete(mod.uuid);
  }

  /** Ask a module to finish (`<name>.shutdown`) and wait for it, bounded; `cancel` stops it at once. */
  async remove(nameOrPath: string, cancel = false, timeoutMs = REMOVE_TIMEOUT_MS): Promise<void> {
    const mod = this.lookup(nameOrPath);
    if (!mod) throw new FluxError(errno.ENOENT);
    if (mod.status === MODULE_EXITED && !this.byUuid.has(mod.uuid)) {
      this.forget(mod); // already failed and gone: removing just clears the X
      return;
    }
    mod.unloading = true;
    this.peer.log(LOG_DEBUG, 'broker', `rmmod ${mod.name}`);
    if (cancel) {
      this.routing.log(`${mod.name}: --cancel: terminating it`);
      mod.ep.kill();
    } else {
      const req = newMessage(MSGTYPE_REQUEST, `${mod.name}.shutdown`);
      req.flags |= FLAG_NORESPONSE | FLAG_ROUTE;
      mod.ep.post(encodeUsock(req));
    }
    const t = setTimeout(() => {
      this.routing.log(`${mod.name}: did not finish within ${timeoutMs / 1000}s of its shutdown request: terminating it`);
      mod.ep.kill();
    }, timeoutMs);
    await mod.exited;
    clearTimeout(t);
  }

  async removeAll(): Promise<void> {
    await Promise.all([...this.mods.keys()].map((n) => this.remove(n).catch(() => {})));
  }

  list(): Record<string, unknown>[] {
    const now = Date.now();
    const idle = (t: number): number => Math.floor((now - t) / 1000);
    const out: Record<string, unknown>[] = this.builtins.map((b) => ({
      name: b.name, path: 'builtin', idle: idle(this.builtinActivity.get(b.name) ?? now), status: MODULE_RUNNING,
      services: b.services, sendqueue: 0, recvqueue: 0,
    }));
    for (const m of this.mods.values()) {
      const services = m.status === MODULE_EXITED ? [] : [m.name, ...this.extra.ownedBy(m.uuid)];
      out.push({ name: m.name, path: m.path, idle: idle(m.lastActivity), status: m.status, services, sendqueue: 0, recvqueue: 0 });
    }
    return out;
  }

  registerService(services: ServiceTable): void {
    this.serviceTable = services;
    services.register('module.load', async (r) => {
      const p = r.json<{ path?: unknown; args?: unknown; name?: unknown; exec?: unknown; loader?: unknown }>();
      if (typeof p.path !== 'string' || (p.args !== undefined && !Array.isArray(p.args)) || (p.name !== undefined && typeof p.name !== 'string')
        || (p.exec !== undefined && typeof p.exec !== 'boolean') || (p.loader !== undefined && typeof p.loader !== 'string')) {
        throw new FluxError(errno.EPROTO);
      }
      const args = ((p.args as unknown[] | undefined) ?? []).map(String);
      await this.load(this.resolve(p.path), args, p.name as string | undefined, { exec: p.exec === true, loader: p.loader as string | undefined });
      r.respond({});
    });
    services.register('module.remove', async (r) => {
      const { name, cancel } = r.json<{ name?: unknown; cancel?: unknown }>();
      if (typeof name !== 'string' || (cancel !== undefined && typeof cancel !== 'boolean')) throw new FluxError(errno.EPROTO);
      await this.remove(name, cancel === true);
      r.respond({});
    });
    services.register('module.list', (r) => r.respond({ mods: this.list() }));
    // The broker's own `broker.debug` default method (flux-core registers one for every service).
    services.register('broker.debug', (r) => {
      this.brokerDebugFlags = applyDebugOp(this.brokerDebugFlags, r.json());
      r.respond({ flags: this.brokerDebugFlags });
    });
    services.register('service.add', (r) => {
      this.serviceAdd(r.msg, r.json<{ service?: unknown }>().service, services);
      r.respond({});
    });
    services.register('service.remove', (r) => {
      const { service } = r.json<{ service?: unknown }>();
      if (typeof service !== 'string') throw new FluxError(errno.EPROTO);
      this.extra.remove(service, r.msg.routes[0] ?? '');
      r.respond({});
    });
    services.register('service.disconnect', (r) => this.extra.dropOwner(r.msg.routes[0] ?? ''));
  }

  private serviceAdd(req: Message, service: unknown, services: ServiceTable): void {
    const name = checkServiceAdd(service, req.userid, req.rolemask);
    const sender = req.routes[0] ?? '';
    const mod = this.byUuid.get(sender);
    if (this.owner(name) !== undefined || services.has(`${name}.x`) || this.builtins.some((b) => b.services.includes(name))) {
      throw new FluxError(errno.EEXIST, mod ? `could not register service ${name} for module ${mod.name}: File exists` : undefined);
    }
    this.extra.add({ name, owner: sender, kind: mod ? 'module' : 'client' });
  }
}
