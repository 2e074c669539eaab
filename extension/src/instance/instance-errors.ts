/**
 * What the extension says when an instance cannot be started or attached: the broker's own
 * reason (a statedir in use, a bad attribute) rather than "exited with status 1", and for a
 * socket that is missing or stale, what to do. Pure (unit-tested).
 */
import * as path from 'node:path';

/** Why `flux start` ended before rank 0 ran: its first error that names a cause. */
export function startFailure(code: number | null, errors: string[]): string {
  const head = `flux start exited with status ${code ?? 'signal'} before the instance was up`;
  // Dependent failures ("load kvs: skipped: content-sqlite failed") only repeat the cause.
  const cause = errors.find((e) => !/skipped: .* failed$|Exited \(rc=\d+\)/.test(e));
  return cause ? `${head}: ${cause}` : head;
}

/** Why attaching failed, with what to do about a missing or stale socket. */
export function attachFailure(uri: string, e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  const errnum = (e as { errnum?: unknown } | null)?.errnum;
  if (!uri.startsWith('local://')) return msg;
  const sock = uri.slice('local://'.length);
  if (errnum === 2) {
    return `${sock}: ${msg}: no broker socket there. Is the instance running? In its shell, echo $FLUX_URI gives the URI to attach to.`;
  }
  if (errnum === 111) {
    return `${sock}: ${msg}: nothing listens on this socket any more; the instance has exited and left it behind. ` +
      `Start the instance again (and remove ${path.dirname(sock)} if it is a leftover rundir).`;
  }
  return msg;
}
