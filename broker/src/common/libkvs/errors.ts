/**
 * Errors the KVS raises, by Linux errno as flux-core's kvs module returns them.
 *
 * Why a helper: the shared errno table (libflux/errno.ts) lacks ELOOP and ENOTRECOVERABLE, which
 * the KVS uses (symlink cycles; corrupt tree objects). Until that table gains them, an error with
 * one of those numbers carries its strerror() text explicitly so it never prints as
 * "Unknown error 40". Every other errno carries no text, exactly like flux-core's
 * flux_respond_error(h, msg, errno, NULL), so clients print strerror().
 */
import { FluxError, errno, strerror } from '../libflux/errno';

export const ELOOP = 40;
export const ENOTRECOVERABLE = 131;

const EXTRA_TEXT: Record<number, string> = {
  [ELOOP]: 'Too many levels of symbolic links',
  [ENOTRECOVERABLE]: 'State not recoverable',
};

export function kvsError(errnum: number): FluxError {
  const known = strerror(errnum) !== `Unknown error ${errnum}`;
  return new FluxError(errnum, known ? undefined : EXTRA_TEXT[errnum]);
}

export { errno };
