/**
 * Where a request goes next (RFC 3 routing as flux-core's broker does it).
 * Pure: the broker supplies its rank, the topology and whether a local
 * service would take the topic.
 */
import { errno } from '../common/libflux/errno';
import { FLAG_UPSTREAM, NODEID_ANY } from '../common/libflux/message';
import { childToward, type Topology } from './topology';

export type RouteDecision =
  | { to: 'local' }
  | { to: 'parent' }
  | { to: 'child'; rank: number }
  | { to: 'error'; errnum: number; text?: string };

export function noService(topic: string): RouteDecision {
  return { to: 'error', errnum: errno.ENOSYS, text: `No service matching ${topic} is registered` };
}

export function routeRequest(
  rank: number,
  topo: Topology,
  nodeid: number,
  flags: number,
  topic: string,
  hasLocalService: boolean,
): RouteDecision {
  if (flags & FLAG_UPSTREAM) {
    // Sent from rank `nodeid` to the nearest service above it: skip that rank's own
    // services, then behave as ANY on the way up.
    if (nodeid === rank) {
      return topo.parent(rank) !== undefined ? { to: 'parent' } : { to: 'error', errnum: errno.EHOSTUNREACH };
    }
    return routeRequest(rank, topo, NODEID_ANY, 0, topic, hasLocalService);
  }
  if (nodeid === NODEID_ANY) {
    if (hasLocalService) return { to: 'local' };
    return topo.parent(rank) !== undefined ? { to: 'parent' } : noService(topic);
  }
  if (nodeid === rank) return hasLocalService ? { to: 'local' } : noService(topic);
  return routeToward(rank, topo, nodeid);
}

function routeToward(rank: number, topo: Topology, target: number): RouteDecision {
  if (target >= topo.size) return { to: 'error', errnum: errno.EHOSTUNREACH };
  if (target === rank) return { to: 'local' };
  const c = childToward(topo, rank, target);
  if (c !== undefined) return { to: 'child', rank: c };
  if (topo.parent(rank) !== undefined) return { to: 'parent' };
  return { to: 'error', errnum: errno.EHOSTUNREACH };
}

/** The service name a topic belongs to: the text before its first dot. */
export function serviceOf(topic: string): string {
  const dot = topic.indexOf('.');
  return dot < 0 ? topic : topic.slice(0, dot);
}
