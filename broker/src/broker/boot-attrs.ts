/**
 * The attributes a broker sets at boot (flux-broker-attributes(7)): identity,
 * instance shape, TBON position and endpoints. `-S` values come first and are
 * only overridden for attributes the broker owns.
 */
import * as os from 'node:os';
import { FLUX_VERSION } from '../common/libflux/version';
import { encodeIdset } from '../common/libidset/idset';
import { encodeHostlist } from '../common/libhostlist/hostlist';
import { ATTR_IMMUTABLE, type Attributes } from './attr';
import { ipcEndpoint } from './overlay-boot';
import { criticalRanks, descendants, level, maxLevel, type Topology } from './topology';

/** The ipc:// endpoint rank `rank` binds by default (overlay-boot.ts decides the real one). */
export const tbonEndpoint = ipcEndpoint;

/** TBON tunables flux-core reports even when nobody set them (lsattr of a flux-core 0.88 instance). */
const TBON_DEFAULTS: [string, string][] = [
  ['tbon.interface-hint', 'default-route'],
  ['tbon.prefertcp', '0'],
  ['tbon.child_rcvhwm', '0'],
  ['tbon.connect_timeout', '30s'],
  ['tbon.tcp_user_timeout', '20s'],
  ['tbon.torpid_max', '30s'],
  ['tbon.torpid_min', '5s'],
  ['tbon.zmq_io_threads', '1'],
  ['tbon.zmqdebug', '0'],
];

export function localUri(rundir: string, rank: number): string {
  return `local://${rundir}/local-${rank}`;
}

export interface BootIdentity {
  rank: number;
  size: number;
  rundir: string;
  topo: Topology;
  uuid: string;
  owner: number;
  /** From `-S NAME=VALUE`. */
  extra: Record<string, string>;
  /** `flux start --test-hosts`: a made-up host name per rank (default: this host for all). */
  hostnames?: string[];
  /** `--config-path`, shown as `config.path`. */
  configPath?: string;
}

export function setBootAttributes(attrs: Attributes, id: BootIdentity): void {
  const { rank, size, rundir, topo } = id;
  for (const [k, v] of Object.entries(id.extra)) attrs.set(k, v);
  const imm = ATTR_IMMUTABLE;
  const hosts = id.hostnames && id.hostnames.length >= size ? id.hostnames.slice(0, size) : Array<string>(size).fill(os.hostname());
  const host = hosts[rank];
  attrs.set('rank', String(rank), imm);
  attrs.set('size', String(size), imm);
  attrs.set('version', FLUX_VERSION, imm);
  attrs.set('rundir', rundir, imm);
  attrs.set('local-uri', localUri(rundir, rank), imm);
  attrs.set('hostname', host, imm);
  attrs.set('hostlist', encodeHostlist(hosts), imm);
  attrs.set('broker.pid', String(process.pid), imm);
  attrs.set('broker.uuid', id.uuid, imm);
  attrs.set('broker.starttime', (Date.now() / 1000).toFixed(2), imm);
  attrs.set('security.owner', String(id.owner), imm);
  attrs.setDefault('instance-level', '0', imm);
  attrs.setDefault('jobid-path', '/', imm);
  attrs.set('tbon.topo', topo.spec, imm);
  attrs.set('tbon.level', String(level(topo, rank)), imm);
  attrs.set('tbon.maxlevel', String(maxLevel(topo)), imm);
  attrs.set('tbon.descendants', String(descendants(topo, rank)), imm);
  for (const [k, v] of TBON_DEFAULTS) attrs.setDefault(k, v, imm);
  attrs.setDefault('broker.critical-ranks', encodeIdset(criticalRanks(topo)), imm);
  // What a test instance started by `flux start` reports (flux-core: PMI "simple" boot,
  // all brokers on one node; the launcher, not the broker, removes the rundir).
  attrs.setDefault('broker.boot-method', 'simple', imm);
  attrs.setDefault('broker.mapping', JSON.stringify([[0, 1, size, 1]]), imm);
  attrs.setDefault('rundir-cleanup', '0', imm);
  // A top-level instance has no parent: the attribute exists without a value.
  attrs.declare('parent-uri', imm);
  if (id.configPath !== undefined) attrs.set('config.path', id.configPath, imm);
  // tbon.endpoint and tbon.parent-endpoint are set once the sockets are up (overlay-boot.ts).
}
