/**
 * RFC 19 FLUIDs (Flux Locally Unique IDs), the job ids of Flux:
 *
 *   64 bits = 40-bit timestamp (ms since the instance's epoch) | 14-bit generator id | 10-bit sequence
 *
 * and every text form flux-core reads and writes: decimal, `0x` hex, dothex
 * (`0017.e9fb.8df1.6c2e`), the KVS directory (`job.0017.e9fb.8df1.6c2e`), F58
 * (`ƒuZZybuNNy`, ASCII `f` prefix as fallback), mnemonicode words and emoji.
 *
 * Ids are BigInt throughout: a FLUID passes 2^53 once the instance has run for
 * about 6.2 days (cumulatively), after which a JS number would silently lose
 * the low bits and name a different job.
 */
import { errno, FluxError } from '../libflux/errno';
import { MN_BASE, MN_WORDS } from './mnemonic-words';

export type JobId = bigint;

const TS_BITS = 40n;
const ID_BITS = 14n;
const SEQ_BITS = 10n;
const U64_MASK = (1n << 64n) - 1n;

export const FLUID_MAX_GENERATOR = (1 << Number(ID_BITS)) - 1;
export const FLUID_MAX_SEQ = (1 << Number(SEQ_BITS)) - 1;
export const FLUID_MAX_TIMESTAMP = (1n << TS_BITS) - 1n;

/** Assemble a FLUID from its three fields. */
export function fluidCompose(timestamp: bigint | number, generator: number, seq: number): JobId {
  const ts = BigInt(timestamp);
  if (ts < 0n || ts > FLUID_MAX_TIMESTAMP) throw new FluxError(errno.EINVAL, 'FLUID timestamp out of range');
  if (!Number.isInteger(generator) || generator < 0 || generator > FLUID_MAX_GENERATOR)
    throw new FluxError(errno.EINVAL, 'FLUID generator id out of range');
  if (!Number.isInteger(seq) || seq < 0 || seq > FLUID_MAX_SEQ) throw new FluxError(errno.EINVAL, 'FLUID sequence out of range');
  return (ts << (ID_BITS + SEQ_BITS)) | (BigInt(generator) << SEQ_BITS) | BigInt(seq);
}

/** The millisecond timestamp of a FLUID (flux-core's fluid_get_timestamp). */
export function fluidTimestamp(id: JobId): bigint {
  return (id & U64_MASK) >> (ID_BITS + SEQ_BITS);
}

export function fluidGenerator(id: JobId): number {
  return Number((id >> SEQ_BITS) & ((1n << ID_BITS) - 1n));
}

export function fluidSeq(id: JobId): number {
  return Number(id & ((1n << SEQ_BITS) - 1n));
}

/** A monotonic millisecond clock; injectable so tests can drive time. */
export type MsClock = () => number;

const monotonicMs: MsClock = () => Number(process.hrtime.bigint() / 1_000_000n);

/**
 * A FLUID generator. As in flux-core, timestamps are milliseconds of a
 * monotonic clock counted from `startTimestamp`: a restarted instance passes
 * the timestamp of the last id it handed out plus one (flux-core's job-ingest
 * takes it from the job-manager's max jobid), so ids keep growing across
 * restarts even if the wall clock went backwards. Within one millisecond up
 * to 1023 ids are made; past that the generator waits for the next
 * millisecond rather than reuse a sequence number.
 */
export class FluidGenerator {
  readonly generatorId: number;
  private readonly clock: MsClock;
  private readonly clockZero: number;
  private readonly clockOffset: bigint;
  private ts: bigint;
  private seq = 0;

  constructor(generatorId: number, startTimestamp: bigint | number = 0n, clock: MsClock = monotonicMs) {
    if (!Number.isInteger(generatorId) || generatorId < 0 || generatorId > FLUID_MAX_GENERATOR)
      throw new FluxError(errno.EINVAL, `FLUID generator id must be 0-${FLUID_MAX_GENERATOR}`);
    const start = BigInt(startTimestamp);
    if (start < 0n || start > FLUID_MAX_TIMESTAMP) throw new FluxError(errno.EINVAL, 'FLUID timestamp out of range');
    this.generatorId = generatorId;
    this.clock = clock;
    this.clockZero = clock();
    this.clockOffset = start;
    this.ts = start;
  }

  private update(): void {
    const now = BigInt(Math.max(0, Math.floor(this.clock() - this.clockZero))) + this.clockOffset;
    // EOVERFLOW: the 40-bit timestamp space (about 34.8 years) is used up.
    if (now > FLUID_MAX_TIMESTAMP) throw new FluxError(errno.EOVERFLOW, 'FLUID timestamp space exhausted');
    if (now > this.ts) {
      this.ts = now;
      this.seq = 0;
    }
  }

  /** Next id. Busy-waits (at most about 1 ms) when 1023 ids were made this ms, as flux-core does. */
  generate(): JobId {
    this.update();
    // flux-core stops at seq 1022 (it tests seq+1 against 1024), keeping 1023 unused; so do we,
    // so that both generators hand out the same ids from the same state.
    while (this.seq + 1 >= 1 << Number(SEQ_BITS)) this.update();
    const id = (this.ts << (ID_BITS + SEQ_BITS)) | (BigInt(this.generatorId) << SEQ_BITS) | BigInt(this.seq);
    this.seq++;
    return id;
  }

  /** The current timestamp, to persist so that a restart continues after it. */
  saveTimestamp(): bigint {
    this.update();
    return this.ts;
  }
}

// ---------------------------------------------------------------- F58

const B58_DIGITS = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
const B58_VALUE = new Map<string, bigint>([...B58_DIGITS].map((c, i) => [c, BigInt(i)]));
export const F58_PREFIX = 'ƒ';
export const F58_ASCII_PREFIX = 'f';
/** flux-core refuses F58 strings longer than this after the prefix. */
const F58_MAX_DIGITS = 12;

/**
 * Whether F58 should use the ASCII `f`: flux-core does when
 * FLUX_F58_FORCE_ASCII is set or the locale is not multibyte. Node has no
 * MB_CUR_MAX, so the locale is judged from LC_ALL / LC_CTYPE / LANG naming UTF-8.
 */
export function f58UseAscii(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.FLUX_F58_FORCE_ASCII !== undefined) return true;
  const locale = env.LC_ALL || env.LC_CTYPE || env.LANG || '';
  // An unset locale is treated as UTF-8 capable: Node itself always writes UTF-8,
  // and the recordings of flux-core (LANG=C.UTF-8) print ƒ.
  if (locale === '') return false;
  return !/utf-?8/i.test(locale);
}

export function encodeF58(id: JobId, opts: { ascii?: boolean } = {}): string {
  let n = id & U64_MASK;
  let digits = '';
  do {
    digits = B58_DIGITS[Number(n % 58n)] + digits;
    n /= 58n;
  } while (n > 0n);
  const ascii = opts.ascii ?? f58UseAscii();
  return (ascii ? F58_ASCII_PREFIX : F58_PREFIX) + digits;
}

function decodeF58(s: string): JobId {
  let body: string;
  if (s.startsWith(F58_PREFIX)) body = s.slice(F58_PREFIX.length);
  else if (s.startsWith(F58_ASCII_PREFIX)) body = s.slice(F58_ASCII_PREFIX.length);
  else throw new FluxError(errno.EINVAL);
  if (body.length === 0 || body.length > F58_MAX_DIGITS) throw new FluxError(errno.EINVAL);
  let n = 0n;
  for (const c of body) {
    const v = B58_VALUE.get(c);
    if (v === undefined) throw new FluxError(errno.EINVAL);
    n = n * 58n + v;
  }
  // flux-core accumulates in 64-bit arithmetic, so 12 digits past 2^64 wrap; match it.
  return n & U64_MASK;
}

// ---------------------------------------------------------------- dothex

export function encodeDothex(id: JobId): string {
  const v = id & U64_MASK;
  const parts: string[] = [];
  for (let shift = 48n; shift >= 0n; shift -= 16n) parts.push(((v >> shift) & 0xffffn).toString(16).padStart(4, '0'));
  return parts.join('.');
}

/** flux-core reads each of the four groups with strtoul(16): leading blanks, a sign and a `0x` are tolerated. */
function decodeDothex(s: string): JobId {
  const groups = s.split('.');
  if (groups.length !== 4) throw new FluxError(errno.EINVAL);
  let v = 0n;
  for (const g of groups) {
    const m = /^\s*([+-]?)(?:0[xX])?([0-9a-fA-F]+)$/.exec(g);
    if (!m) throw new FluxError(errno.EINVAL);
    let n = BigInt('0x' + m[2]);
    if (m[1] === '-') n = -n & U64_MASK;
    v = ((v << 16n) | n) & U64_MASK; // larger groups overlap as flux-core's shifts and ORs do
  }
  return v;
}

// ---------------------------------------------------------------- mnemonic words

const MN_INDEX = new Map<string, number>(MN_WORDS.map((w, i) => [w, i]));

/** mnemonicode of the id's 8 bytes in little-endian order (flux-core encodes the host's uint64): `x-x-x--x-x-x`. */
export function encodeWords(id: JobId): string {
  const v = id & U64_MASK;
  const groups: string[] = [];
  for (const half of [v & 0xffffffffn, v >> 32n]) {
    let x = Number(half);
    const w: string[] = [];
    for (let i = 0; i < 3; i++) {
      w.push(MN_WORDS[x % MN_BASE]);
      x = Math.floor(x / MN_BASE);
    }
    groups.push(w.join('-'));
  }
  return groups.join('--');
}

function decodeWords(s: string): JobId {
  // Words are runs of ASCII letters, separated by anything else, compared
  // case-insensitively; decoding stops at the first word not in the list.
  const indices: number[] = [];
  for (const m of s.matchAll(/[A-Za-z]+/g)) {
    const i = MN_INDEX.get(m[0].toLowerCase());
    if (i === undefined) break;
    indices.push(i);
  }
  // 8 bytes are exactly two groups of three base-1626 words.
  if (indices.length !== 6) throw new FluxError(errno.EINVAL);
  let v = 0n;
  for (let g = 0; g < 2; g++) {
    const [a, b, c] = indices.slice(g * 3, g * 3 + 3);
    if (a >= MN_BASE || b >= MN_BASE || c >= MN_BASE) throw new FluxError(errno.EINVAL);
    const x = a + b * MN_BASE + c * MN_BASE * MN_BASE;
    if (x > 0xffffffff) throw new FluxError(errno.EINVAL); // the ~0.09% of word triples that encode nothing
    v |= BigInt(x) << BigInt(32 * g);
  }
  return v;
}

// ---------------------------------------------------------------- emoji

/** flux-core's basemoji table: 576 emoji, each 4 bytes in UTF-8 (all start F0 9F). */
const EMOJI = [
  ...'😃😄😁😆😅😂😉😊😍😘😚😋😜😝😏😒😌😔😪😷😵😲😳😨😰😥😢😭😱😖😣😞😓😩😫😤😡😠👿💀💩👹👺👻👽👾😺😸' +
    '😹😻😼😽🙀😿😾🙈🙉🙊💌💘💝💖💗💓💞💕💟💔💛💚💙💜💋💯💢💥💫💦💨💬💤👋👌👈👉👆👇👍👎👊👏🙌👐🙏💅💪' +
    '👂👃👀👅👄👶👦👧👱👨👩👴👵🙍🙎🙅🙆💁🙋🙇👮💂👷👸👳👲👰👼🎅💆💇🚶🏃💃👯🏂🏄🏊🛀👫💏💑👪👤👣🐵🐒🐶' +
    '🐩🐺🐱🐯🐴🐎🐮🐷🐗🐽🐑🐫🐘🐭🐹🐰🐻🐨🐼🐾🐔🐣🐤🐥🐦🐧🐸🐢🐍🐲🐳🐬🐟🐠🐡🐙🐚🐌🐛🐜🐝🐞💐🌸💮🌹🌺🌻' +
    '🌼🌷🌱🌴🌵🌾🌿🍀🍁🍂🍃🍄🍇🍈🍉🍊🍌🍍🍎🍏🍑🍒🍓🍅🍆🌽🌰🍞🍖🍗🍔🍟🍕🍳🍲🍱🍘🍙🍚🍛🍜🍝🍠🍢🍣🍤🍥🍡' +
    '🍦🍧🍨🍩🍪🎂🍰🍫🍬🍭🍮🍯🍵🍶🍷🍸🍹🍺🍻🍴🔪🌏🗾🌋🗻🏠🏡🏢🏣🏥🏦🏨🏩🏪🏫🏬🏭🏯🏰💒🗼🗽🌁🌃🌄🌅🌆🌇' +
    '🌉🎠🎡🎢💈🎪🚃🚄🚅🚇🚉🚌🚑🚒🚓🚕🚗🚙🚚🚲🚏🚨🚥🚧🚤🚢💺🚀🕛🕐🕑🕒🕓🕔🕕🕖🕗🕘🕙🕚🌑🌓🌔🌕🌙🌛🌟🌠' +
    '🌌🌀🌈🌂🔥💧🌊🎃🎄🎆🎇🎈🎉🎊🎋🎍🎎🎏🎐🎑🎀🎁🎫🏆🏀🏈🎾🎳🎣🎽🎿🎯🔫🎱🔮🎮🎰🎲🃏🀄🎴🎭🎨👓👔👕👖👗' +
    '👘👙👚👛👜👝🎒👞👟👠👡👢👑👒🎩🎓💄💍💎🔊📢📣🔔🎼🎵🎶🎤🎧📻🎷🎸🎹🎺🎻📱📲📞📟📠🔋🔌💻💽💾💿📀🎥🎬' +
    '📺📷📹📼🔍🔎💡🔦🏮📔📕📖📗📘📙📚📓📒📃📜📄📰📑🔖💰💴💵💸💳💹📧📨📩📤📥📦📫📪📮📝💼📁📂📅📆📇📈📉' +
    '📊📋📌📍📎📏📐🔒🔓🔏🔐🔑🔨💣🔧🔩🔗📡💉💊🚪🚽🚬🗿🏧🚹🚺🚻🚼🚾🚫🚭🔞🔃🔙🔚🔛🔜🔝🔯🔼🔽🎦📶📳📴💱💲' +
    '🔱📛🔰🔟🔠🔡🔢🔣🔤🆎🆑🆒🆓🆔🆕🆖🆗🆘🆙🆚🈁🈶🈯🉐🈹🈚🈲🉑🈸🈴🈳🈺🈵🔴🔵🔶🔷🔸🔹🔺🔻💠🔘🔳🔲🏁🚩🎌',
];
const EMOJI_VALUE = new Map<string, bigint>(EMOJI.map((e, i) => [e, BigInt(i)]));
const EMOJI_BASE = BigInt(EMOJI.length);

export function encodeEmoji(id: JobId): string {
  let n = id & U64_MASK;
  let out = '';
  do {
    out = EMOJI[Number(n % EMOJI_BASE)] + out;
    n /= EMOJI_BASE;
  } while (n > 0n);
  return out;
}

/** flux-core's first test: 1-7 four-byte UTF-8 characters starting with bytes F0 9F. */
function looksLikeEmoji(s: string): boolean {
  const len = Buffer.byteLength(s, 'utf8');
  return len >= 4 && len <= 28 && len % 4 === 0 && s.codePointAt(0)! >= 0x1f000 && s.codePointAt(0)! <= 0x1ffff;
}

function decodeEmoji(s: string): JobId {
  if (!looksLikeEmoji(s)) throw new FluxError(errno.EINVAL);
  let n = 0n;
  for (const ch of s) {
    const v = EMOJI_VALUE.get(ch);
    if (v === undefined) throw new FluxError(errno.EINVAL);
    n = n * EMOJI_BASE + v;
  }
  return n & U64_MASK; // 7 digits can exceed 2^64; flux-core's uint64 arithmetic wraps
}

// ---------------------------------------------------------------- encode / parse

export type JobIdEncoding = 'dec' | 'hex' | 'dothex' | 'kvs' | 'words' | 'f58' | 'f58plain' | 'emoji';
export const JOBID_ENCODINGS: readonly JobIdEncoding[] = ['dec', 'hex', 'dothex', 'kvs', 'words', 'f58', 'f58plain', 'emoji'];

/**
 * flux_job_id_encode(): `dec` (default), `hex` (`0x…`), `dothex`, `kvs`
 * (`job.` + dothex), `words`, `f58` (ƒ or f by locale), `f58plain` (always f),
 * `emoji`. An unknown type is EPROTO, as in flux-core. Type names are case-insensitive.
 */
export function encodeJobId(id: JobId | number, type: string = 'dec', opts: { ascii?: boolean } = {}): string {
  const v = BigInt(id);
  if (v < 0n || v > U64_MASK) throw new FluxError(errno.EINVAL, 'job id out of range');
  switch (type.toLowerCase()) {
    case 'dec':
      return v.toString(10);
    case 'hex':
      return '0x' + v.toString(16);
    case 'dothex':
      return encodeDothex(v);
    case 'kvs':
      return 'job.' + encodeDothex(v);
    case 'words':
      return encodeWords(v);
    case 'f58':
      return encodeF58(v, opts);
    case 'f58plain':
      return encodeF58(v, { ascii: true });
    case 'emoji':
      return encodeEmoji(v);
    default:
      throw new FluxError(errno.EPROTO, `unknown job id encoding '${type}'`);
  }
}

/** The KVS directory of a job: `job.0017.e9fb.8df1.6c2e`, or a key under it. */
export function jobKvsKey(id: JobId, key?: string): string {
  const dir = 'job.' + encodeDothex(id);
  return key ? `${dir}.${key}` : dir;
}

export type JobIdFormat = 'dothex' | 'words' | 'f58' | 'emoji' | 'hex' | 'dec';

/**
 * Which form a string is, in flux-core's order: a `.` means dothex, a `-`
 * words, a leading `ƒ` or `f` F58 (so `f` forms with `.`/`-` are not F58),
 * bytes F0 9F emoji, `0x` hex, otherwise decimal.
 */
export function detectJobIdFormat(s: string): JobIdFormat {
  if (s.includes('.')) return 'dothex';
  if (s.includes('-')) return 'words';
  if (s.startsWith(F58_PREFIX) || s.startsWith(F58_ASCII_PREFIX)) return 'f58';
  if (looksLikeEmoji(s)) return 'emoji';
  if (s.startsWith('0x')) return 'hex';
  return 'dec';
}

/**
 * flux_job_id_parse(): any encoding, leading whitespace skipped, a `job.`
 * prefix (the KVS form) ignored; trailing whitespace is accepted only for
 * decimal and hex, as in flux-core. Throws FluxError(EINVAL) for anything else.
 */
export function parseJobId(input: string): JobId {
  let s = input.replace(/^\s+/, '');
  if (input.length === 0 || s.length === 0) throw new FluxError(errno.EINVAL, `invalid job id '${input}'`);
  if (s.startsWith('job.')) s = s.slice(4);
  try {
    switch (detectJobIdFormat(s)) {
      case 'dothex':
        return decodeDothex(s);
      case 'words':
        return decodeWords(s);
      case 'f58':
        return decodeF58(s);
      case 'emoji':
        return decodeEmoji(s);
      case 'hex':
      case 'dec': {
        // strtoull: digits then optional trailing whitespace. A leading '-' never gets
        // here (it selects the words form), so "-1" fails as in flux-core's tests.
        const m = s.startsWith('0x') ? /^0x([0-9a-fA-F]+)\s*$/.exec(s) : /^\+?([0-9]+)\s*$/.exec(s);
        if (!m) throw new FluxError(errno.EINVAL);
        const v = s.startsWith('0x') ? BigInt('0x' + m[1]) : BigInt(m[1]);
        if (v > U64_MASK) throw new FluxError(errno.ERANGE); // strtoull's ERANGE
        return v;
      }
    }
  } catch (err) {
    if (err instanceof FluxError) throw new FluxError(err.errnum, `invalid job id '${input}'`);
    throw err;
  }
}

/** Like parseJobId but returns undefined instead of throwing. */
export function tryParseJobId(s: string): JobId | undefined {
  try {
    return parseJobId(s);
  } catch {
    return undefined;
  }
}
