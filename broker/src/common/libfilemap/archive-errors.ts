/** How the archive library reports failures: in flux's words, for the command or the extension. */
import { FluxError } from '../libflux/errno';

/**
 * Why an archive could not be made, in flux's words (`PATH: No such file or directory`,
 * `archive.NAME: key exists`, `--mmap only works on the rank 0 broker`); the command prefixes
 * its name, the extension shows it as it is.
 */
export class ArchiveError extends Error {}

export function errText(e: unknown): string {
  if (e instanceof FluxError) return e.strerror;
  if (e instanceof Error) return e.message;
  return String(e);
}

/** future_strerror(): the server's (or our) error text when there is one, else strerror. */
export function errMessage(e: unknown): string {
  if (e instanceof FluxError && e.hasText) return e.message;
  return errText(e);
}

