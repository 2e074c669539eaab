/**
 * The `<service>.ping` answer every service gives (flux-core's default method):
 * the request echoed with the hops it took (8-character uuid prefixes, oldest
 * first, the answering party last), its credentials and the answering rank.
 * `flux ping` accepts exactly these keys.
 */
import type { Responder } from './service';

export function respondPing(r: Responder, ownUuid: string, rank: number): void {
  const hops = [...r.msg.routes].reverse().map((h) => h.slice(0, 8));
  hops.push(ownUuid.slice(0, 8));
  r.respond({ ...r.json(), route: hops.join('!'), userid: r.msg.userid, rolemask: r.msg.rolemask, rank });
}
