/**
 * The archive commands' shared checks and clean-up: owner only, whether an archive exists,
 * unlinking archive.NAME (and its _blobs), unmapping its --mmap files.
 */
import { FluxError, errno } from '../libflux/errno';
import type { Flux } from '../libflux/handle';
import * as kvs from '../libkvs/client';
import { ArchiveError, errMessage, errText } from './archive-errors';

function fail(msg: string): never {
  throw new ArchiveError(msg);
}

/**
 * Only the instance owner may create or remove archives. The KVS refuses a guest's commit to the
 * primary namespace anyway; checking first means a guest stores no blobs and gets a clear answer.
 */
export async function requireOwner(h: Flux, what: string): Promise<void> {
  const uid = process.getuid?.();
  if (uid === undefined) return;
  let owner: number;
  try {
    owner = Number(await h.getattr('security.owner'));
  } catch (e) {
    fail(`failed to fetch security.owner attribute: ${errText(e)}`);
  }
  if (uid !== owner) fail(`${what}: only the instance owner may do this: ${new FluxError(errno.EPERM).strerror}`);
}

/** Whether archive.NAME exists (key_exists()). */
export function archiveExists(h: Flux, ns: string, name: string): Promise<boolean> {
  return kvs.lookup(h, `archive.${name}`, { namespace: ns }).then(() => true, () => false);
}

/**
 * unlink_archive(): remove archive.NAME and archive.NAME_blobs in one commit. Unless `force`,
 * a missing archive is an error; a failed commit is a warning, as in flux-core.
 */
export async function unlinkArchive(h: Flux, ns: string, name: string, force: boolean, warn: (m: string) => void): Promise<void> {
  const key = `archive.${name}`;
  if (!force && !(await archiveExists(h, ns, name))) fail(`${key} does not exist`);
  try {
    await kvs.commit(h, new kvs.KvsTxn().unlink(key).unlink(`${key}_blobs`), { namespace: ns });
  } catch (e) {
    warn(`unlink ${key},${key}_blobs: ${errMessage(e)}`);
  }
}

/**
 * unmap_archive(): ask rank 0's content module to drop files mapped under this tag. A content
 * module without mmap support (ENOSYS) cannot have mapped anything.
 */
export async function unmapArchive(h: Flux, name: string, warn: (m: string) => void): Promise<void> {
  try {
    await h.rpc('content.mmap-remove', { tag: name }, { nodeid: 0 }).response();
  } catch (e) {
    if (e instanceof FluxError && e.errnum === errno.ENOSYS) return;
    warn(`unmap ${name}: ${errMessage(e)}`);
  }
}

