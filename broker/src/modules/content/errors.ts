/**
 * How the content module reads a failed request (cache.ts, writeback.ts): the errno and text
 * it passes on. Not runtime.ts's errnumOf: a failure here without an errno is an I/O error of
 * the content store (EIO, as flux-core's cache reports it), not a lost connection.
 */
import { errno } from '../../common/libflux/errno';

export function errnumOf(e: unknown): number {
  const n = (e as { errnum?: unknown } | null)?.errnum;
  return typeof n === 'number' && n > 0 ? n : errno.EIO;
}

/** The error's text if it has its own (a FluxError built from an errno alone has none). */
export function textOf(e: unknown): string | undefined {
  if (!(e instanceof Error)) return undefined;
  const fe = e as Error & { hasText?: boolean };
  return fe.hasText === false ? undefined : e.message;
}
