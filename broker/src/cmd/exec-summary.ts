/**
 * The pure rules of `flux exec` (unit tested): which ranks to target, how a
 * wait status becomes an exit code and a summary line (`[1-3]: Exit 2`), and
 * the order flux-core prints those lines in (its zhashx hash table order).
 */
import { errno, FluxError, strerror } from '../common/libflux/errno';
import { decodeIdset, encodeIdset } from '../common/libidset/idset';

/** An idset as flux-core's idset_encode(RANGE|BRACKETS) writes it: brackets only around more than one id. */
export function encodeIdsetBrackets(ids: Iterable<number>): string {
  const set = [...new Set(ids)];
  const s = encodeIdset(set);
  return set.length > 1 ? `[${s}]` : s;
}

/** glibc's strsignal() texts. */
const SIGNAL_TEXT: Record<number, string> = {
  1: 'Hangup', 2: 'Interrupt', 3: 'Quit', 4: 'Illegal instruction', 5: 'Trace/breakpoint trap',
  6: 'Aborted', 7: 'Bus error', 8: 'Floating point exception', 9: 'Killed', 10: 'User defined signal 1',
  11: 'Segmentation fault', 12: 'User defined signal 2', 13: 'Broken pipe', 14: 'Alarm clock',
  15: 'Terminated', 16: 'Stack fault', 17: 'Child exited', 18: 'Continued', 19: 'Stopped (signal)',
  20: 'Stopped', 21: 'Stopped (tty input)', 22: 'Stopped (tty output)', 23: 'Urgent I/O condition',
  24: 'CPU time limit exceeded', 25: 'File size limit exceeded', 26: 'Virtual timer expired',
  27: 'Profiling timer expired', 28: 'Window changed', 29: 'I/O possible', 30: 'Power failure',
  31: 'Bad system call',
};

export function strsignal(signum: number): string {
  if (SIGNAL_TEXT[signum]) return SIGNAL_TEXT[signum];
  if (signum >= 32 && signum <= 64) return `Real-time signal ${signum - 32}`;
  return `Unknown signal ${signum}`;
}

/**
 * What a wait status means for flux exec: the exit code it counts (128+signal
 * for a signal) and the summary key for a failure (`Exit N` or the signal's
 * name), undefined for success.
 */
export function exitOf(status: number): { code: number; key: string | undefined } {
  const sig = status & 0x7f;
  if (sig === 0) {
    const code = (status >> 8) & 0xff;
    return { code, key: code > 0 ? `Exit ${code}` : undefined };
  }
  if (sig === 0x7f) return { code: 0, key: undefined }; // stopped: not an ending
  return { code: 128 + sig, key: strsignal(sig) };
}

/** Exit code for a process that could not be launched (bash's convention, as flux-core uses it). */
export function launchFailureCode(errnum: number): number {
  if (errnum === errno.EPERM || errnum === errno.EACCES) return 126;
  if (errnum === errno.ENOENT) return 127;
  if (errnum === errno.EHOSTUNREACH) return 68; // EX_NOHOST
  return 1;
}

/**
 * flux-core's filter_ranks(): `include` ("all" or an idset of indices into
 * `ranks`) and `exclude` (ranks, or indices when `relative`). Throws the
 * message flux-exec exits with.
 */
export function filterRanks(ranks: number[], include: string, exclude: string | undefined, relative: boolean): number[] {
  let inc: number[] | undefined;
  if (include !== 'all') {
    try {
      inc = decodeIdset(include);
    } catch {
      throw new FluxError(errno.EINVAL, `failed to decode idset '${include}': ${strerror(errno.EINVAL)}`);
    }
    if (inc.length > 0 && inc[inc.length - 1] >= ranks.length) {
      throw new FluxError(errno.EINVAL, `One or more invalid --ranks specified: ${include}`);
    }
  }
  let exc = new Set<number>();
  if (exclude !== undefined) {
    try {
      exc = new Set(decodeIdset(exclude));
    } catch {
      throw new FluxError(errno.EINVAL, `error decoding --exclude idset: ${strerror(errno.EINVAL)}`);
    }
  }
  const incSet = inc ? new Set(inc) : undefined;
  return ranks.filter((r, n) => !exc.has(relative ? n : r) && (!incSet || incSet.has(n)));
}

const MASK64 = (1n << 64n) - 1n;
/** The first zhashx table sizes (czmq's primes table) that a handful of keys can reach. */
const PRIMES = [3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 43, 47, 53, 59, 61, 103, 107, 109, 113, 127, 229, 233, 239, 241, 251, 487, 491, 499, 503, 509, 997, 1009, 1013, 1019, 1021];

/**
 * flux-exec keeps its failure sets in a czmq zhashx and prints them in that
 * table's iteration order, which is neither insertion nor sorted order. This
 * models the table (Bernstein hash, prime sizes, growth on load and on long
 * chains, new items at the head of their bucket) so the summary lines come out
 * in the order flux-core prints them.
 */
export class ZhashxOrder<V> {
  private primeIndex = 0;
  private chainLimit = 1;
  private size = 0;
  private buckets: { key: string; value: V }[][] = Array.from({ length: PRIMES[0] }, () => []);
  private cached = 0;

  private static hash(key: string): bigint {
    let h = 0n;
    for (const b of Buffer.from(key, 'utf8')) {
      const c = BigInt.asUintN(64, BigInt(b >= 128 ? b - 256 : b));
      h = ((33n * h) & MASK64) ^ c;
    }
    return h;
  }

  private limit(): number {
    return PRIMES[this.primeIndex];
  }

  private rehash(newIndex: number): void {
    const limit = PRIMES[newIndex];
    const nb: { key: string; value: V }[][] = Array.from({ length: limit }, () => []);
    for (const bucket of this.buckets) {
      for (const item of bucket) nb[Number(ZhashxOrder.hash(item.key) % BigInt(limit))].unshift(item);
    }
    this.buckets = nb;
    this.primeIndex = newIndex;
  }

  /** s_item_lookup(): also grows the table when the chain walked was too long. */
  private find(key: string): { key: string; value: V } | undefined {
    this.cached = Number(ZhashxOrder.hash(key) % BigInt(this.limit()));
    const bucket = this.buckets[this.cached];
    let len = 0;
    let found: { key: string; value: V } | undefined;
    for (const item of bucket) {
      if (item.key === key) {
        found = item;
        break;
      }
      len++;
    }
    if (len > this.chainLimit) {
      this.rehash(this.primeIndex + 5);
      this.cached = Number(ZhashxOrder.hash(key) % BigInt(this.limit()));
    }
    return found;
  }

  /** zhashx_lookup(). */
  get(key: string): V | undefined {
    return this.find(key)?.value;
  }

  /** zhashx_insert() followed by zhashx_freefn(), as flux-exec does. */
  insert(key: string, value: V): void {
    if (this.size >= Math.floor((this.limit() * 75) / 100)) {
      this.rehash(this.primeIndex + 5);
      this.chainLimit += 1;
    }
    if (this.find(key)) return;
    this.buckets[this.cached].unshift({ key, value });
    this.size++;
    this.find(key); // zhashx_freefn's lookup
  }

  /** zhashx_first()/zhashx_next() order. */
  entries(): [string, V][] {
    const out: [string, V][] = [];
    for (const bucket of this.buckets) for (const item of bucket) out.push([item.key, item.value]);
    return out;
  }
}

/** The stderr summary of failed ranks, one line per exit code or signal. */
export class ExitSummary {
  private readonly sets = new ZhashxOrder<Set<number>>();
  code = 0;

  /** A process completed with this wait status. */
  completed(rank: number, status: number): void {
    const { code, key } = exitOf(status);
    if (code > this.code) this.code = code;
    if (key === undefined) return;
    let set = this.sets.get(key);
    if (!set) {
      set = new Set();
      this.sets.insert(key, set);
    }
    set.add(rank);
  }

  /** A process could not be launched (or its rank was lost). */
  failed(errnum: number): void {
    const code = launchFailureCode(errnum);
    if (code > this.code) this.code = code;
  }

  lines(): string[] {
    return this.sets.entries().map(([key, set]) => `${encodeIdsetBrackets(set)}: ${key}`);
  }
}


/** flux-core's jobid forms: decimal, hex, dotted hex, F58 (ƒ or f prefix). */
export function parseJobid(s: string): number | undefined {
  const F58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
  let v: bigint | undefined;
  if (/^\d+$/.test(s)) v = BigInt(s);
  else if (/^0x[0-9a-fA-F]+$/.test(s)) v = BigInt(s);
  else if (/^[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}$/.test(s)) v = BigInt(`0x${s.replace(/\./g, '')}`);
  else if (/^(ƒ|f)[1-9A-HJ-NP-Za-km-z]+$/.test(s)) {
    v = 0n;
    for (const c of s.replace(/^(ƒ|f)/, '')) v = v * 58n + BigInt(F58.indexOf(c));
  }
  if (v === undefined || v > MASK64) return undefined;
  return Number(v);
}
