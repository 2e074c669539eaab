/**
 * Signed jobspec J with the "none" mechanism (RFC 38/39 without flux-security):
 * `base64(header) "." base64(payload) ".none"`, the header being a kv
 * (`key\0<type char>value\0` repeated): version i1, userid i<uid>, mechanism snone.
 */
import { errno, FluxError } from '../libflux/errno';

function kvEncode(entries: [string, string][]): Buffer {
  return Buffer.from(entries.map(([k, v]) => `${k}\0${v}\0`).join(''), 'utf8');
}

function kvDecode(buf: Buffer): Map<string, string> {
  const parts = buf.toString('utf8').split('\0');
  if (parts.at(-1) === '') parts.pop();
  if (parts.length % 2 !== 0) throw new FluxError(errno.EINVAL, 'header: bad kv encoding');
  const m = new Map<string, string>();
  for (let i = 0; i < parts.length; i += 2) m.set(parts[i], parts[i + 1]);
  return m;
}

/** Wrap a payload (the jobspec's JSON text) for `userid`. */
export function signNone(payload: string | Buffer, userid: number): string {
  const header = kvEncode([['version', 'i1'], ['userid', `i${userid}`], ['mechanism', 'snone']]);
  const body = Buffer.isBuffer(payload) ? payload : Buffer.from(payload, 'utf8');
  return `${header.toString('base64')}.${body.toString('base64')}.none`;
}

export interface Unwrapped {
  userid: number;
  mechanism: string;
  payload: Buffer;
}

/** Take J apart; EINVAL with a reason when it is not a valid "none" signature. */
export function unwrapSigned(J: string): Unwrapped {
  const fields = J.split('.');
  if (fields.length !== 3) throw new FluxError(errno.EINVAL, 'invalid signed data: expected 3 fields');
  const b64 = /^[A-Za-z0-9+/]*={0,2}$/;
  if (!b64.test(fields[0]) || !b64.test(fields[1])) throw new FluxError(errno.EINVAL, 'invalid signed data: bad base64');
  const header = kvDecode(Buffer.from(fields[0], 'base64'));
  const version = header.get('version');
  const userid = header.get('userid');
  const mech = header.get('mechanism');
  if (version !== 'i1') throw new FluxError(errno.EINVAL, 'header: unsupported version');
  if (userid === undefined || !/^i[0-9]+$/.test(userid)) throw new FluxError(errno.EINVAL, 'header: bad userid');
  if (mech === undefined || !mech.startsWith('s')) throw new FluxError(errno.EINVAL, 'header: bad mechanism');
  const mechanism = mech.slice(1);
  if (mechanism !== fields[2]) throw new FluxError(errno.EINVAL, 'signature mechanism does not match header');
  return { userid: Number(userid.slice(1)), mechanism, payload: Buffer.from(fields[1], 'base64') };
}
