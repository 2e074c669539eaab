/**
 * The `<service>.ping` answer every service gives (flux-core's default method):
 * the request echoed with the hops it took (8-character uuid prefixes, oldest
 * first, the answering party last), its credentials and the answering rank.
 * `flux ping` accepts exactly these keys.
 */
import { errno, FluxError } from '../common/libflux/errno';
import { rusage } from '../common/libflux/msg-counters';
import type { MsgCounters } from '../common/libflux/msg-counters';
import type { Responder, ServiceTable } from './service';
import { subtree, type Topology } from './topology';

export function respondPing(r: Responder, ownUuid: string, rank: number): void {
  const hops = [...r.msg.routes].reverse().map((h) => h.slice(0, 8));
  hops.push(ownUuid.slice(0, 8));
  r.respond({ ...r.json(), route: hops.join('!'), userid: r.msg.userid, rolemask: r.msg.rolemask, rank });
}

/**
 * `<service>.rusage {"who"?}`: resource usage of the process the service lives in.
 * Modules are threads of their broker, so `self` and `thread` both report the broker
 * process (Node.js has no per-thread getrusage); `children` is not available.
 */
export function respondRusage(r: Responder): void {
  const { who } = r.json<{ who?: unknown }>();
  if (who !== undefined && who !== 'self' && who !== 'thread') {
    throw new FluxError(errno.EINVAL, `rusage of '${String(who)}' is not available`);
  }
  r.respond(rusage());
}

/** The broker's own methods: `broker.ping`, `broker.stats-get/-clear`, `broker.rusage`, `overlay.topology`. */
export function registerBrokerMethods(services: ServiceTable, b: { uuid: string; rank: number; size: number; topo: Topology; counters: MsgCounters }): void {
  services.register('broker.ping', (r) => respondPing(r, b.uuid, b.rank));
  services.register('broker.stats-get', (r) => r.respond({ ...b.counters.toJSON() }));
  services.register('broker.stats-clear', (r) => {
    b.counters.clear();
    r.respond({});
  });
  services.register('broker.rusage', (r) => respondRusage(r));
  services.register('overlay.topology', (r) => {
    const { rank } = r.json<{ rank?: unknown }>();
    if (typeof rank !== 'number' || !Number.isInteger(rank) || rank < 0 || rank >= b.size) {
      throw new FluxError(errno.EINVAL, 'invalid rank');
    }
    r.respond({ ...subtree(b.topo, rank) });
  });
}
