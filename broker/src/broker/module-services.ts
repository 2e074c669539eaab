/**
 * Extra service names registered at run time with `service.add {"service"}`
 * (flux_service_register) by a module or a local client, and dropped with
 * `service.remove`, when the client disconnects (`service.disconnect`) or when
 * the module exits. Requests for such a service are routed to its owner.
 * Rules as flux-core's broker and router:
 *   - only a local peer (a module of this broker or a client of its socket) may register;
 *   - a guest (no owner role) only names starting with `<its userid>-`;
 *   - a name already routable here is EEXIST;
 *   - only the registrant may remove it (ENOENT when unknown, EINVAL when not its own).
 */
import { errno, FluxError } from '../common/libflux/errno';
import { ROLE_LOCAL, ROLE_OWNER } from '../common/libflux/message';

export interface ExtraService {
  name: string;
  /** The uuid of the module or client that registered it. */
  owner: string;
  kind: 'module' | 'client';
}

/** Pure check of who may register what (kept apart so it is testable without a broker). */
export function checkServiceAdd(name: unknown, userid: number, rolemask: number): string {
  if (typeof name !== 'string') throw new FluxError(errno.EPROTO);
  if (name.length === 0 || name.includes('.')) throw new FluxError(errno.EINVAL);
  if (!(rolemask & ROLE_LOCAL)) throw new FluxError(errno.ENOENT, 'requestor is not local');
  if (!(rolemask & ROLE_OWNER) && !name.startsWith(`${userid}-`)) {
    throw new FluxError(errno.EPERM, `guests may only register services prefixed with ${userid}-`);
  }
  return name;
}

export class ExtraServices {
  private readonly byName = new Map<string, ExtraService>();

  get(name: string): ExtraService | undefined {
    return this.byName.get(name);
  }

  add(s: ExtraService): void {
    if (this.byName.has(s.name)) throw new FluxError(errno.EEXIST);
    this.byName.set(s.name, s);
  }

  remove(name: string, requester: string): void {
    const s = this.byName.get(name);
    if (!s) throw new FluxError(errno.ENOENT, `${name} is not registered`);
    if (s.owner !== requester) throw new FluxError(errno.EINVAL, `requestor did not register ${name}`);
    this.byName.delete(name);
  }

  /** Every name `owner` registered (a module's extra Service column). */
  ownedBy(owner: string): string[] {
    return [...this.byName.values()].filter((s) => s.owner === owner).map((s) => s.name);
  }

  isOwner(uuid: string): boolean {
    for (const s of this.byName.values()) if (s.owner === uuid) return true;
    return false;
  }

  /** Drop all of `owner`'s names (it disconnected or exited). */
  dropOwner(owner: string): void {
    for (const [n, s] of this.byName) if (s.owner === owner) this.byName.delete(n);
  }
}
