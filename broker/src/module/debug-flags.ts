/**
 * The `<service>.debug` default method (flux-core libflux/method.c): a service's
 * private debug flags, changed by `{"op","flags"}` and answered with the new value.
 *   setbit  flags |= N        clrbit  flags &= ~N
 *   set     flags = N         clr     flags = 0
 * Both keys are required (a missing or unknown op is EPROTO); `flux module debug
 * NAME` with no option reads the flags by sending `setbit 0`. Flags are a C int:
 * 32 bits, signed on the wire.
 */
import { errno, FluxError } from '../common/libflux/errno';

export function applyDebugOp(current: number, req: { op?: unknown; flags?: unknown }): number {
  const { op, flags } = req;
  if (typeof op !== 'string' || typeof flags !== 'number' || !Number.isInteger(flags)) throw new FluxError(errno.EPROTO);
  const n = flags | 0;
  switch (op) {
    case 'setbit':
      return (current | n) | 0;
    case 'clrbit':
      return (current & ~n) | 0;
    case 'set':
      return n;
    case 'clr':
      return 0;
    default:
      throw new FluxError(errno.EPROTO);
  }
}

/**
 * C's strtoul(s, NULL, 0) as `flux module debug` parses MASK/BIT: optional sign,
 * `0x` hex, leading-0 octal, else decimal; parsing stops at the first bad
 * character and nothing parsed is 0. The result is truncated to 32 bits the way
 * the C code's assignment to an int does.
 */
export function strtoul(s: string): number {
  const m = /^\s*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)?/.exec(s);
  const digits = m?.[2];
  if (!digits) return 0;
  let v: bigint;
  if (/^0[xX]/.test(digits)) v = BigInt(digits);
  else if (digits.length > 1 && digits.startsWith('0')) v = BigInt(`0o${digits.slice(1)}`);
  else v = BigInt(digits);
  if (m[1] === '-') v = -v;
  return Number(BigInt.asIntN(32, v));
}

/** `printf("0x%x\n", flags)` of a C int. */
export function formatDebugFlags(flags: number): string {
  return `0x${(flags >>> 0).toString(16)}`;
}
