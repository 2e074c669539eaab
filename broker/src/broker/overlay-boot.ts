/**
 * Wiring a broker into the TBON: which endpoint it binds for its children, and
 * how its children learn that endpoint.
 *
 * - By default (all brokers on this host) each router binds `ipc://RUNDIR/tbon-R`,
 *   a name its children can compute, as flux-core does when PMI says every
 *   broker shares one node.
 * - `-S tbon.prefertcp=1` binds `tcp://ADDR:*` instead, ADDR chosen by
 *   `tbon.interface-hint` (`default-route`, `hostname`, an interface name or a
 *   CIDR network), as flux-core's PMI bootstrap does.
 * - `-S tbon.endpoint=URI` (an extension: flux-core 0.88 computes this
 *   attribute itself) binds URI, e.g. `tcp://127.0.0.1:*` or `tcp://eth0:9000`.
 *
 * A wildcard port is only known once bound, so a tcp:// router publishes the
 * endpoint it got (its "business card", in flux-core's words) through `flux
 * start`, which plays flux-core's PMI server: a child asks it for its parent's
 * card and connects there. The bound endpoint becomes `tbon.endpoint`, the one
 * a child connects to becomes its `tbon.parent-endpoint`.
 */
import type { ChildProcess } from 'node:child_process';
import * as dns from 'node:dns';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { errno, FluxError } from '../common/libflux/errno';
import { ATTR_IMMUTABLE, type Attributes } from './attr';
import type { Topology } from './topology';

/** What a router binds when nothing asks for tcp://. */
export function ipcEndpoint(rundir: string, rank: number): string {
  return `ipc://${rundir}/tbon-${rank}`;
}

function truthy(v: string | undefined): boolean {
  return v !== undefined && v !== '0';
}

/** The interface holding the default route (/proc/net/route), if any. */
export function defaultRouteInterface(routeTable?: string): string | undefined {
  let text = routeTable;
  if (text === undefined) {
    try {
      text = fs.readFileSync('/proc/net/route', 'utf8');
    } catch {
      return undefined;
    }
  }
  for (const line of text.split('\n').slice(1)) {
    const [iface, dest, , flags] = line.trim().split(/\s+/);
    // Destination 0.0.0.0 with the route "up" flag set.
    if (iface && dest === '00000000' && (parseInt(flags ?? '0', 16) & 1) === 1) return iface;
  }
  return undefined;
}

type Interfaces = NodeJS.Dict<os.NetworkInterfaceInfo[]>;

function addressOf(infos: os.NetworkInterfaceInfo[] | undefined, v6: boolean): string | undefined {
  return infos?.find((i) => i.family === (v6 ? 'IPv6' : 'IPv4'))?.address;
}

function ipv4ToInt(a: string): number {
  return a.split('.').reduce((n, o) => (n << 8) + Number(o), 0) >>> 0;
}

/** The first IPv4 address of any interface inside `cidr` (e.g. 10.0.2.0/24). */
function addressInNetwork(cidr: string, ifs: Interfaces): string | undefined {
  const [net, bitsText] = cidr.split('/');
  const bits = Number(bitsText);
  if (!/^\d+\.\d+\.\d+\.\d+$/.test(net) || !Number.isInteger(bits) || bits < 0 || bits > 32) return undefined;
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  for (const infos of Object.values(ifs)) {
    for (const i of infos ?? []) {
      if (i.family === 'IPv4' && ((ipv4ToInt(i.address) & mask) >>> 0) === ((ipv4ToInt(net) & mask) >>> 0)) return i.address;
    }
  }
  return undefined;
}

/**
 * The address a tcp:// router should bind and advertise, chosen the way
 * `tbon.interface-hint` says (flux-core's ipaddr_getprimary). IPv6 when
 * FLUX_IPADDR_V6 is set, as there.
 */
export async function primaryAddress(hint: string, ifs: Interfaces = os.networkInterfaces(), routeTable?: string): Promise<string> {
  const v6 = process.env.FLUX_IPADDR_V6 !== undefined;
  let addr: string | undefined;
  let what: string;
  if (hint === 'hostname') {
    what = `hostname ${os.hostname()}`;
    try {
      addr = (await dns.promises.lookup(os.hostname(), { family: v6 ? 6 : 4 })).address;
    } catch {
      addr = undefined;
    }
  } else if (hint === 'default-route') {
    const iface = defaultRouteInterface(routeTable);
    what = iface ? `default route interface ${iface}` : 'default route';
    addr = iface ? addressOf(ifs[iface], v6) : undefined;
  } else if (hint.includes('/')) {
    what = `network ${hint}`;
    addr = addressInNetwork(hint, ifs);
  } else {
    what = `interface ${hint}`;
    addr = addressOf(ifs[hint], v6);
  }
  if (addr === undefined) throw new FluxError(errno.ENOENT, `could not find an ${v6 ? 'IPv6' : 'IPv4'} address for ${what}`);
  return addr;
}

/** What this broker binds for its children: see the file comment. */
export async function bindEndpoint(attrs: Attributes, rundir: string, rank: number): Promise<string> {
  const asked = attrs.get('tbon.endpoint');
  if (asked !== undefined && asked !== '') return asked;
  if (truthy(attrs.get('tbon.prefertcp'))) {
    const addr = await primaryAddress(attrs.get('tbon.interface-hint') ?? 'default-route');
    return `tcp://${addr.includes(':') ? `[${addr}]` : addr}:*`;
  }
  return ipcEndpoint(rundir, rank);
}

/** Children can only compute their parent's endpoint for the default ipc:// layout. */
export function needsExchange(attrs: Attributes): boolean {
  const asked = attrs.get('tbon.endpoint');
  return (asked !== undefined && asked !== '') || truthy(attrs.get('tbon.prefertcp'));
}

/**
 * ZeroMQ reports a wildcard-address bind as 0.0.0.0 (or [::]); nobody else can
 * connect there, so advertise this host's primary address instead.
 */
export async function advertised(bound: string, hint: string): Promise<string> {
  const m = /^tcp:\/\/(0\.0\.0\.0|\[::\]):(\d+)$/.exec(bound);
  if (!m) return bound;
  const addr = await primaryAddress(hint);
  return `tcp://${addr.includes(':') ? `[${addr}]` : addr}:${m[2]}`;
}

// --- the business-card exchange through `flux start` --------------------------

/** Broker -> launcher. */
export type PmiRequest = { type: 'pmi-put'; key: string; value: string } | { type: 'pmi-get'; key: string };
/** Launcher -> broker. */
export interface PmiReply {
  type: 'pmi-value';
  key: string;
  value: string;
}

function isPmiRequest(m: unknown): m is PmiRequest {
  if (typeof m !== 'object' || m === null) return false;
  const o = m as Record<string, unknown>;
  if (typeof o.key !== 'string') return false;
  return (o.type === 'pmi-put' && typeof o.value === 'string') || o.type === 'pmi-get';
}

/**
 * The launcher's side: a key-value store every broker of the instance can put
 * into and read from; a get for a key nobody has put yet waits for the put.
 */
export class PmiServer {
  private readonly kvs = new Map<string, string>();
  private readonly waiting = new Map<string, ChildProcess[]>();

  /** Feed every message a broker sends; others are ignored. */
  handle(from: ChildProcess, m: unknown): void {
    if (!isPmiRequest(m)) return;
    if (m.type === 'pmi-put') {
      this.kvs.set(m.key, m.value);
      for (const c of this.waiting.get(m.key) ?? []) this.reply(c, m.key, m.value);
      this.waiting.delete(m.key);
      return;
    }
    const v = this.kvs.get(m.key);
    if (v !== undefined) {
      this.reply(from, m.key, v);
      return;
    }
    const list = this.waiting.get(m.key) ?? [];
    list.push(from);
    this.waiting.set(m.key, list);
  }

  private reply(c: ChildProcess, key: string, value: string): void {
    const r: PmiReply = { type: 'pmi-value', key, value };
    // A broker that already died cannot be answered; its exit is handled elsewhere.
    if (c.connected) c.send(r, () => {});
  }
}

/** The broker's side: talk to the launcher over this process's IPC channel. */
export class PmiClient {
  private readonly pending = new Map<string, ((v: string) => void)[]>();
  private listening = false;

  static available(): boolean {
    return typeof process.send === 'function';
  }

  put(key: string, value: string): void {
    const m: PmiRequest = { type: 'pmi-put', key, value };
    process.send?.(m);
  }

  get(key: string): Promise<string> {
    if (!PmiClient.available()) return Promise.reject(new FluxError(errno.ENOTCONN, 'no launcher to exchange endpoints with'));
    if (!this.listening) {
      this.listening = true;
      process.on('message', (m: unknown) => this.onMessage(m));
    }
    return new Promise((resolve) => {
      const list = this.pending.get(key) ?? [];
      list.push(resolve);
      this.pending.set(key, list);
      const m: PmiRequest = { type: 'pmi-get', key };
      process.send?.(m);
    });
  }

  private onMessage(m: unknown): void {
    if (typeof m !== 'object' || m === null) return;
    const r = m as Partial<PmiReply>;
    if (r.type !== 'pmi-value' || typeof r.key !== 'string' || typeof r.value !== 'string') return;
    const list = this.pending.get(r.key);
    this.pending.delete(r.key);
    for (const resolve of list ?? []) resolve(r.value);
  }
}

const cardKey = (rank: number): string => `tbon.endpoint.${rank}`;

/** The part of the overlay this needs (overlay.ts's Overlay). */
export interface OverlaySockets {
  bindChildren(endpoint: string): Promise<string>;
  connectParent(endpoint: string, uuid: string): void;
}

export interface OverlayBootInfo {
  rank: number;
  rundir: string;
  uuid: string;
  topo: Topology;
  attrs: Attributes;
}

/**
 * Bind for the children (if any) and connect to the parent (if any), setting
 * `tbon.endpoint` and `tbon.parent-endpoint` to the endpoints actually used.
 * Failures carry flux-core's "error binding to URI: ..." wording.
 */
export async function bootOverlay(ov: OverlaySockets, info: OverlayBootInfo, pmi = new PmiClient()): Promise<void> {
  const { rank, rundir, uuid, topo, attrs } = info;
  const parent = topo.parent(rank);
  const exchange = needsExchange(attrs);
  if (!exchange && parent !== undefined) {
    // Parent link first: a computable endpoint needs no waiting, and ZeroMQ connects once it appears.
    const uri = ipcEndpoint(rundir, parent);
    attrs.set('tbon.parent-endpoint', uri, ATTR_IMMUTABLE);
    ov.connectParent(uri, uuid);
  }
  if (topo.children(rank).length > 0) {
    let spec = '';
    let bound: string;
    try {
      spec = await bindEndpoint(attrs, rundir, rank);
      bound = await advertised(await ov.bindChildren(spec), attrs.get('tbon.interface-hint') ?? 'default-route');
    } catch (e) {
      // An empty card tells the children waiting for this one to give up rather than hang.
      if (exchange) pmi.put(cardKey(rank), '');
      const text = e instanceof Error ? e.message : String(e);
      const errnum = e instanceof FluxError ? e.errnum : errno.EINVAL;
      throw new FluxError(errnum, spec ? `error binding to ${spec}: ${text}` : text);
    }
    attrs.set('tbon.endpoint', bound, ATTR_IMMUTABLE);
    if (exchange) pmi.put(cardKey(rank), bound);
  } else {
    // A leaf has no endpoint (flux-core leaves the attribute unset), even if one was asked for.
    attrs.delete('tbon.endpoint');
  }
  if (exchange && parent !== undefined) {
    const uri = await pmi.get(cardKey(parent));
    if (uri === '') throw new FluxError(errno.EPROTO, `error decoding rank ${parent} business card`);
    attrs.set('tbon.parent-endpoint', uri, ATTR_IMMUTABLE);
    ov.connectParent(uri, uuid);
  }
}
