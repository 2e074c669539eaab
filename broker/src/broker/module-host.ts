/**
 * Broker modules (RFC 5): services that run in their own worker threads,
 * loaded and removed at run time. The module's name is its service; it talks
 * to the broker over a MessagePort with the same message encoding as the local
 * socket. `module.load {"path","args","name"?}` answers when the module reports
 * RUNNING (or its load error); `module.remove {"name"}` asks it to shut down
 * and answers when its thread has ended; `module.list` reports every module,
 * the broker's built-in ones included, as flux-core does.
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { errno, FluxError } from '../common/libflux/errno';
import {
  FLAG_NORESPONSE,
  FLAG_ROUTE,
  MSGTYPE_EVENT,
  MSGTYPE_REQUEST,
  MSGTYPE_RESPONSE,
  getJson,
  newMessage,
  type Message,
} from '../common/libflux/message';
import { UsockDecoder, encodeUsock } from '../common/libflux/usock';
import type { ModuleInit } from '../module/runtime';
import type { ServiceTable } from './service';

const RUNNING = 1;
const FINALIZING = 2;
const EXITED = 3;

/** What the broker does with messages a module sends. */
export interface ModuleRouting {
  request(m: Message): void;
  response(m: Message): void;
  event(m: Message): void;
  log(msg: string): void;
}

interface Loaded {
  name: string;
  path: string;
  uuid: string;
  worker: Worker;
  decoder: UsockDecoder;
  status: number;
  services: string[];
  lastActivity: number;
  started?: { resolve: () => void; reject: (e: Error) => void };
  exited: Promise<void>;
}

/** A service the broker itself provides, listed like flux-core's built-in modules. */
export interface Builtin {
  name: string;
  services: string[];
}

export class ModuleHost {
  private readonly mods = new Map<string, Loaded>();
  private readonly byUuid = new Map<string, Loaded>();
  private readonly byService = new Map<string, Loaded>();
  private readonly builtinActivity = new Map<string, number>();

  constructor(
    private readonly moduleDir: string,
    private readonly init: Omit<ModuleInit, 'name' | 'uuid' | 'args'>,
    private readonly routing: ModuleRouting,
    private readonly builtins: Builtin[],
  ) {
    const now = Date.now();
    for (const b of builtins) this.builtinActivity.set(b.name, now);
  }

  /** Does a module provide the service of this topic? */
  owner(service: string): string | undefined {
    return this.byService.get(service)?.uuid;
  }

  hasModule(uuid: string): boolean {
    return this.byUuid.has(uuid);
  }

  /** Deliver a message to the module with this uuid (its routes already say where it came from). */
  deliver(uuid: string, m: Message): void {
    const mod = this.byUuid.get(uuid);
    if (!mod) return;
    mod.lastActivity = Date.now();
    mod.worker.postMessage(encodeUsock(m));
  }

  /** Note that a built-in service handled something (for `flux module list`'s Idle column). */
  touchBuiltin(service: string): void {
    for (const b of this.builtins) if (b.services.includes(service)) this.builtinActivity.set(b.name, Date.now());
  }

  /** Resolve `flux module load` arguments: a bundled module by name, or a path to a module bundle. */
  resolve(nameOrPath: string): string {
    if (nameOrPath.includes('/') || nameOrPath.endsWith('.js')) return path.resolve(nameOrPath);
    return path.join(this.moduleDir, `${nameOrPath}.js`);
  }

  async load(modPath: string, args: string[], name?: string): Promise<void> {
    const modName = name ?? path.basename(modPath).replace(/\.js$/, '');
    if (this.mods.has(modName) || this.builtins.some((b) => b.name === modName)) throw new FluxError(errno.EEXIST);
    if (!fs.existsSync(modPath)) throw new FluxError(errno.ENOENT);
    const uuid = randomUUID();
    const init: ModuleInit = { ...this.init, name: modName, uuid, args };
    const worker = new Worker(modPath, { workerData: init, stdout: false, stderr: false });
    let onExit: () => void = () => {};
    const mod: Loaded = {
      name: modName,
      path: modPath,
      uuid,
      worker,
      decoder: new UsockDecoder(),
      status: 0,
      services: [modName],
      lastActivity: Date.now(),
      exited: new Promise<void>((r) => (onExit = r)),
    };
    this.mods.set(modName, mod);
    this.byUuid.set(uuid, mod);
    this.byService.set(modName, mod);
    const started = new Promise<void>((resolve, reject) => (mod.started = { resolve, reject }));
    worker.on('message', (v: unknown) => {
      if (v instanceof Uint8Array) this.fromModule(mod, Buffer.from(v.buffer, v.byteOffset, v.byteLength));
    });
    worker.on('error', (e) => this.routing.log(`module ${modName}: ${e.message}`));
    worker.on('exit', (code) => {
      this.forget(mod);
      mod.started?.reject(new FluxError(mod.status === EXITED ? errno.EINVAL : errno.EIO, `module ${modName} exited during load (status ${code})`));
      mod.started = undefined;
      onExit();
    });
    await started;
  }

  private forget(mod: Loaded): void {
    mod.status = EXITED;
    if (this.mods.get(mod.name) === mod) this.mods.delete(mod.name);
    this.byUuid.delete(mod.uuid);
    for (const s of mod.services) if (this.byService.get(s) === mod) this.byService.delete(s);
  }

  private fromModule(mod: Loaded, buf: Buffer): void {
    let msgs: Message[];
    try {
      msgs = mod.decoder.push(buf);
    } catch (e) {
      this.routing.log(`module ${mod.name}: ${e instanceof Error ? e.message : String(e)}: stopping it`);
      void mod.worker.terminate();
      return;
    }
    mod.lastActivity = Date.now();
    for (const m of msgs) {
      if (m.type === MSGTYPE_REQUEST && m.topic === 'module.status') {
        this.status(mod, m);
      } else if (m.type === MSGTYPE_REQUEST) {
        m.flags |= FLAG_ROUTE;
        m.routes.unshift(mod.uuid);
        this.routing.request(m);
      } else if (m.type === MSGTYPE_RESPONSE) {
        this.routing.response(m);
      } else if (m.type === MSGTYPE_EVENT) {
        this.routing.event(m);
      }
    }
  }

  private status(mod: Loaded, m: Message): void {
    let st: { status?: unknown; errnum?: unknown };
    try {
      st = getJson(m);
    } catch {
      return;
    }
    if (typeof st.status !== 'number') return;
    mod.status = st.status;
    if (st.status === RUNNING) {
      mod.started?.resolve();
      mod.started = undefined;
    } else if (st.status === EXITED && typeof st.errnum === 'number' && st.errnum !== 0) {
      mod.started?.reject(new FluxError(st.errnum));
      mod.started = undefined;
    }
  }

  /** Ask a module to finish (`<name>.shutdown`) and wait for its thread; terminate it if it will not. */
  async remove(name: string, timeoutMs = 5000): Promise<void> {
    const mod = this.mods.get(name);
    if (!mod) throw new FluxError(errno.ENOENT);
    mod.status = FINALIZING;
    const req = newMessage(MSGTYPE_REQUEST, `${name}.shutdown`);
    req.flags |= FLAG_NORESPONSE | FLAG_ROUTE;
    this.deliver(mod.uuid, req);
    const t = setTimeout(() => void mod.worker.terminate(), timeoutMs);
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
      name: b.name, path: 'builtin', idle: idle(this.builtinActivity.get(b.name) ?? now), status: RUNNING,
      services: b.services, sendqueue: 0, recvqueue: 0,
    }));
    for (const m of this.mods.values()) {
      out.push({ name: m.name, path: m.path, idle: idle(m.lastActivity), status: m.status, services: m.services, sendqueue: 0, recvqueue: 0 });
    }
    return out;
  }

  registerService(services: ServiceTable): void {
    services.register('module.load', async (r) => {
      const p = r.json<{ path?: unknown; args?: unknown; name?: unknown }>();
      if (typeof p.path !== 'string' || (p.args !== undefined && !Array.isArray(p.args)) || (p.name !== undefined && typeof p.name !== 'string')) {
        throw new FluxError(errno.EPROTO);
      }
      const args = ((p.args as unknown[] | undefined) ?? []).map(String);
      await this.load(this.resolve(p.path), args, p.name as string | undefined);
      r.respond({});
    });
    services.register('module.remove', async (r) => {
      const { name } = r.json<{ name?: unknown }>();
      if (typeof name !== 'string') throw new FluxError(errno.EPROTO);
      await this.remove(name);
      r.respond({});
    });
    services.register('module.list', (r) => r.respond({ mods: this.list() }));
  }
}
