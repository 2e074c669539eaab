/**
 * Who may do what in the KVS, as flux-core decides it: the instance owner everything; another
 * user only in a namespace it owns, and there only values, unlinks and empty directories
 * (guest_commit_authorize: a guest must not plant dirrefs or valrefs pointing at blobs it did
 * not write).
 */
import { errno, FluxError } from '../../common/libflux/errno';
import { ROLE_OWNER, ROLE_USER, type Message } from '../../common/libflux/message';
import * as treeobj from '../../common/libkvs/treeobj';

function isObj(o: unknown): o is Record<string, unknown> {
  return typeof o === 'object' && o !== null && !Array.isArray(o);
}

/** EPERM unless the sender owns the instance or the namespace. */
export function checkUser(namespaceOwner: number, m: Message): void {
  if (m.rolemask & ROLE_OWNER) return;
  if ((m.rolemask & ROLE_USER) && m.userid === namespaceOwner) return;
  throw new FluxError(errno.EPERM);
}

/** Guests may commit only values, unlinks and empty directories. */
export function guestAuthorize(ops: unknown[]): void {
  for (const op of ops) {
    if (!isObj(op) || !('dirent' in op)) throw new FluxError(errno.EPROTO, 'could not decode commit operation');
    const d = op.dirent;
    if (d === null) continue;
    const type = treeobj.typeOf(d);
    if (type === 'val') continue;
    if (type === 'dir' && treeobj.getCount(d as treeobj.TreeObj) === 0) continue;
    const nonEmpty = type === 'dir' ? 'non-empty ' : '';
    throw new FluxError(errno.EPERM, `guests may not commit ${nonEmpty}${type ?? '???'} objects`);
  }
}
