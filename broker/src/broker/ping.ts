/**
 * The `<service>.ping` answer every service gives (flux-core's default method):
 * the request echoed with the hops it took (8-character uuid prefixes, oldest
 * first, the answering party last), its credentials and the answering rank.
 * `flux ping` accepts exactly these keys.
 */
import { errno, FluxError } from '../common/libflux/errno';
import { rusage } from '../common/libflux/msg-counters';
import type { Responder } from './service';

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
