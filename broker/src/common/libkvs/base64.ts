/**
 * Base64 (RFC 4648 standard alphabet) as flux-core's KVS uses it for `val` tree objects.
 *
 * Why not just Buffer.from(s, 'base64'): Node silently skips characters outside the alphabet and
 * accepts '=' anywhere, so a corrupt `val` would decode to something instead of failing. flux-core
 * decodes with ccan/base64, which rejects any non-alphabet character, decodes full quartets, and
 * for the last 1-4 characters drops trailing '=' (padding is optional) and refuses a single
 * leftover character. We decode the same strings and refuse the same ones. Encoding always pads,
 * which is what flux-core writes.
 */

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const SIXBIT = new Int8Array(256).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) SIXBIT[ALPHABET.charCodeAt(i)] = i;

export function base64Encode(data: Uint8Array): string {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64');
}

/** Decode like ccan base64_decode(); returns undefined where ccan would fail. */
export function base64DecodeStrict(s: string): Buffer | undefined {
  const n = s.length;
  const out = Buffer.alloc(Math.floor(n / 4) * 3 + 3);
  let o = 0;
  let i = 0;
  const six = (k: number): number => {
    const c = s.charCodeAt(k);
    return c < 256 ? SIXBIT[c] : -1;
  };
  for (; n - i > 4; i += 4) {
    const a = six(i), b = six(i + 1), c = six(i + 2), d = six(i + 3);
    if (a < 0 || b < 0 || c < 0 || d < 0) return undefined;
    out[o++] = (a << 2) | (b >> 4);
    out[o++] = ((b & 0xf) << 4) | (c >> 2);
    out[o++] = ((c & 0x3) << 6) | d;
  }
  let tail = n - i;
  while (tail > 0 && s.charCodeAt(i + tail - 1) === 0x3d /* '=' */) tail--;
  if (tail === 1) return undefined;
  if (tail > 1) {
    const q = [0, 0, 0, 0];
    for (let k = 0; k < 4; k++) {
      const v = k < tail ? six(i + k) : 0; // ccan pads the quartet with 'A' (= 0)
      if (v < 0) return undefined;
      q[k] = v;
    }
    const bytes = [(q[0] << 2) | (q[1] >> 4), ((q[1] & 0xf) << 4) | (q[2] >> 2), ((q[2] & 0x3) << 6) | q[3]];
    for (let k = 0; k < tail - 1; k++) out[o++] = bytes[k] & 0xff;
  }
  return out.subarray(0, o);
}
