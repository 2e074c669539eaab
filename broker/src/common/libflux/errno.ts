/**
 * Linux errno values and their strerror() texts: what flux-core puts on the wire
 * in error responses and what its commands print.
 */
export const errno = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EINTR: 4,
  EIO: 5,
  E2BIG: 7,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  EFBIG: 27,
  ENOSPC: 28,
  ERANGE: 34,
  ENOSYS: 38,
  ELOOP: 40,
  ENODATA: 61,
  ETIME: 62,
  EPROTO: 71,
  EOVERFLOW: 75,
  EMSGSIZE: 90,
  EOPNOTSUPP: 95,
  ENOTSUP: 95,
  ECONNRESET: 104,
  ENOTCONN: 107,
  ETIMEDOUT: 110,
  ECONNREFUSED: 111,
  EHOSTUNREACH: 113,
  EALREADY: 114,
  ECANCELED: 125,
  ENOTRECOVERABLE: 131,
} as const;

export type ErrnoName = keyof typeof errno;

const messages: Record<number, string> = {
  1: 'Operation not permitted',
  2: 'No such file or directory',
  3: 'No such process',
  4: 'Interrupted system call',
  5: 'Input/output error',
  7: 'Argument list too long',
  9: 'Bad file descriptor',
  11: 'Resource temporarily unavailable',
  12: 'Cannot allocate memory',
  13: 'Permission denied',
  16: 'Device or resource busy',
  17: 'File exists',
  19: 'No such device',
  20: 'Not a directory',
  21: 'Is a directory',
  22: 'Invalid argument',
  27: 'File too large',
  28: 'No space left on device',
  40: 'Too many levels of symbolic links',
  131: 'State not recoverable',
  34: 'Numerical result out of range',
  38: 'Function not implemented',
  61: 'No data available',
  62: 'Timer expired',
  71: 'Protocol error',
  75: 'Value too large for defined data type',
  90: 'Message too long',
  95: 'Operation not supported',
  104: 'Connection reset by peer',
  107: 'Transport endpoint is not connected',
  110: 'Connection timed out',
  111: 'Connection refused',
  113: 'No route to host',
  114: 'Operation already in progress',
  125: 'Operation canceled',
};

export function strerror(n: number): string {
  return messages[n] ?? `Unknown error ${n}`;
}

const codeToNumber = new Map<string, number>(Object.entries(errno));

/**
 * An error carrying an errno, as a Flux error response does. `message` is the
 * short text a service attached, or strerror(errnum) when it attached none.
 */
export class FluxError extends Error {
  readonly errnum: number;
  /** True when the server supplied its own text (not just the errno). */
  readonly hasText: boolean;

  constructor(errnum: number, text?: string) {
    super(text && text.length > 0 ? text : strerror(errnum));
    this.name = 'FluxError';
    this.errnum = errnum;
    this.hasText = !!text && text.length > 0;
  }

  get strerror(): string {
    return strerror(this.errnum);
  }

  /** Map a Node.js system error (err.code like 'ENOENT') to a FluxError. */
  static fromNode(err: unknown): FluxError {
    if (err instanceof FluxError) return err;
    const code = (err as { code?: unknown })?.code;
    const n = typeof code === 'string' ? codeToNumber.get(code) : undefined;
    if (n !== undefined) return new FluxError(n);
    const msg = err instanceof Error ? err.message : String(err);
    return new FluxError(errno.EIO, msg);
  }
}
