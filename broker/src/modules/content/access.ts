/**
 * Who may use the content module: the instance owner only. flux-core registers every content.*
 * handler with the default rolemask (FLUX_ROLE_OWNER), so its dispatcher answers anyone else's
 * request with EPERM and no text; guests reach blobs only through the KVS, which checks what
 * they may read. Our requests carry the sender's userid and rolemask (the connector fills in
 * OWNER|LOCAL for the owner's connections; a request may carry less, e.g. USER for a guest).
 */
import { FluxError, errno } from '../../common/libflux/errno';
import { ROLE_OWNER } from '../../common/libflux/message';

/** True if a request with this rolemask may use the content module's services. */
export function ownerMay(rolemask: number): boolean {
  return (rolemask & ROLE_OWNER) !== 0;
}

/** Throws EPERM (flux-core's answer, without text) unless the request carries the owner role. */
export function requireOwnerRole(rolemask: number): void {
  if (!ownerMay(rolemask)) throw new FluxError(errno.EPERM);
}
