/**
 * The attributes a broker sets at boot (flux-broker-attributes(7)): identity,
 * instance shape, TBON position and endpoints. `-S` values come first and are
 * only overridden for attributes the broker owns.
 */
import * as os from 'node:os';
import { FLUX_VERSION } from '../common/libflux/version';
import { ATTR_IMMUTABLE, type Attributes } from './attr';
import { descendants, level, maxLevel, type Topology } from './topology';

export function tbonEndpoint(rundir: string, rank: number): string {
  return `ipc://${rundir}/tbon-${rank}`;
}

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
}

export function setBootAttributes(attrs: Attributes, id: BootIdentity): void {
  const { rank, size, rundir, topo } = id;
  for (const [k, v] of Object.entries(id.extra)) attrs.set(k, v);
  const imm = ATTR_IMMUTABLE;
  const host = os.hostname();
  attrs.set('rank', String(rank), imm);
  attrs.set('size', String(size), imm);
  attrs.set('version', FLUX_VERSION, imm);
  attrs.set('rundir', rundir, imm);
  attrs.set('local-uri', localUri(rundir, rank), imm);
  attrs.set('hostname', host, imm);
  attrs.set('hostlist', Array(size).fill(host).join(','), imm);
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
  if (topo.children(rank).length > 0) attrs.set('tbon.endpoint', tbonEndpoint(rundir, rank), imm);
  const parent = topo.parent(rank);
  if (parent !== undefined) attrs.set('tbon.parent-endpoint', tbonEndpoint(rundir, parent), imm);
}
