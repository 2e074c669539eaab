/**
 * Errors the KVS raises, by Linux errno as flux-core's kvs module returns them:
 * no text of their own (flux_respond_error(h, msg, errno, NULL)), so clients print strerror().
 */
import { FluxError, errno } from '../libflux/errno';

export const ELOOP = errno.ELOOP;
export const ENOTRECOVERABLE = errno.ENOTRECOVERABLE;

export function kvsError(errnum: number): FluxError {
  return new FluxError(errnum);
}

export { errno };
