/**
 * `flux kvs get` and `flux kvs put`, as flux-kvs.c's cmd_get/cmd_put: keys looked up one after
 * another so output follows the command line (all at once with --watch), and every key=value of
 * a put in one commit.
 */
import { readFileSync } from 'node:fs';
import { FluxError, errno } from '../common/libflux/errno';
import type { Flux } from '../common/libflux/handle';
import {
  FLUX_KVS_APPEND, FLUX_KVS_NO_MERGE, FLUX_KVS_STREAM, FLUX_KVS_SYNC, FLUX_KVS_TREEOBJ, FLUX_KVS_WAITCREATE,
  FLUX_KVS_WATCH, FLUX_KVS_WATCH_APPEND, FLUX_KVS_WATCH_FULL, FLUX_KVS_WATCH_UNIQ,
  KvsTxn, commit, lookup, watch, type KvsLookupResult, type KvsWatch,
} from '../common/libkvs/client';
import type { ParsedOptions } from '../common/liboptparse/optparse';
import {
  NS_OPT, commitFinish, dieErr, dieMsg, hasOpt, intOpt, openHandle, opt, optparser, parseSub, rootOutputOptions, usageExit, writeBytes,
  type Sub,
} from './kvs-common';

export const GET: Sub = {
  name: 'get',
  usage: '[-N ns] [-r|-t] [-a treeobj] [-l] [-W] [-w] [-u] [-A] [-f] [-S] [-c COUNT] key [key...]',
  doc: 'Get value stored under key',
  options: [
    NS_OPT,
    { name: 'raw', key: 'r', usage: 'Interpret value(s) as raw data' },
    { name: 'treeobj', key: 't', usage: 'Show RFC 11 object' },
    { name: 'at', key: 'a', hasArg: 1, arginfo: '', usage: 'Lookup relative to RFC 11 snapshot reference' },
    { name: 'label', key: 'l', usage: 'Print key= before value' },
    { name: 'waitcreate', key: 'W', usage: 'Wait for creation to occur on watch' },
    { name: 'watch', key: 'w', usage: 'Monitor key writes' },
    { name: 'uniq', key: 'u', usage: 'Only monitor key writes if values have changed' },
    { name: 'append', key: 'A', usage: 'Only monitor key appends' },
    { name: 'full', key: 'f', usage: 'Monitor key changes with more complete accuracy' },
    { name: 'count', key: 'c', hasArg: 1, arginfo: 'COUNT', usage: 'Display at most COUNT changes' },
    { name: 'stream', key: 'S', usage: 'Return potentially large values in multiple responses.' },
  ],
};

export const PUT: Sub = {
  name: 'put',
  usage: '[-N ns] [-O|-b|-s] [-r|-t] [-n] [-A] [-S] key=value [key=value...]',
  doc: 'Store value under key',
  options: [
    NS_OPT,
    ...rootOutputOptions('puts'),
    { name: 'raw', key: 'r', usage: 'Store value(s) as-is without adding NULL termination' },
    { name: 'treeobj', key: 't', usage: 'Store RFC 11 object' },
    { name: 'no-merge', key: 'n', usage: 'Set the NO_MERGE flag to ensure commit is standalone' },
    { name: 'append', key: 'A', usage: 'Append value(s) to key instead of overwriting' },
    { name: 'sync', key: 'S', usage: 'Flushes content and checkpoints after completing put' },
  ],
};

/** The lookup flags `get` sends for its options (cmd_get_one()). */
export function getFlags(o: ParsedOptions): number {
  let flags = 0;
  if (hasOpt(o, 'treeobj')) flags |= FLUX_KVS_TREEOBJ;
  if (hasOpt(o, 'watch')) {
    flags |= FLUX_KVS_WATCH;
    if (hasOpt(o, 'full')) flags |= FLUX_KVS_WATCH_FULL;
    if (hasOpt(o, 'uniq')) flags |= FLUX_KVS_WATCH_UNIQ;
    if (hasOpt(o, 'append')) flags |= FLUX_KVS_WATCH_APPEND;
  }
  if (hasOpt(o, 'waitcreate')) flags |= FLUX_KVS_WAITCREATE;
  if (hasOpt(o, 'stream')) flags |= FLUX_KVS_STREAM;
  return flags;
}

/** lookup_continuation(): the bytes one answer prints as, in the form the options ask for. */
export function valueOutput(o: ParsedOptions, key: string, r: KvsLookupResult, chunk = false): Buffer {
  const label = Buffer.from(hasOpt(o, 'label') ? `${key}=` : '', 'utf8');
  try {
    if (hasOpt(o, 'treeobj')) return Buffer.concat([label, Buffer.from(`${r.treeobjText()}\n`, 'utf8')]);
    const data = r.raw();
    if (hasOpt(o, 'raw') || chunk) return Buffer.concat([label, data]);
    // printf("%s\n") of the C string: nothing for an empty value, up to the first NUL otherwise
    if (data.length === 0) return label;
    const nul = data.indexOf(0);
    return Buffer.concat([label, nul >= 0 ? data.subarray(0, nul) : data, Buffer.from('\n')]);
  } catch (e) {
    dieErr(key, e);
  }
}

async function watchKey(h: Flux, o: ParsedOptions, key: string, flags: number, maxcount: number): Promise<void> {
  const ns = opt(o, 'namespace');
  let w: KvsWatch;
  try {
    w = watch(h, key, { namespace: ns, flags });
  } catch (e) {
    dieErr(key, e);
  }
  let count = 0;
  const stream = (flags & FLUX_KVS_STREAM) !== 0 && !(flags & FLUX_KVS_WATCH);
  let streamed = 0;
  try {
    for await (const r of w) {
      const b = valueOutput(o, key, r, stream);
      streamed += b.length;
      await writeBytes(b);
      if (maxcount > 0 && ++count === maxcount) w.cancel();
    }
  } catch (e) {
    dieErr(key, e);
  }
  // A streamed value arrives in pieces: the newline comes once, after the last one.
  if (stream && !hasOpt(o, 'raw') && !hasOpt(o, 'treeobj') && streamed > 0) await writeBytes(Buffer.from('\n'));
}

export async function cmdGet(argv: string[]): Promise<void> {
  const p = optparser(GET);
  const o = parseSub(p, argv);
  if (o.args.length === 0) usageExit(p);
  const maxcount = intOpt(p, o, 'count', 0);
  const flags = getFlags(o);
  const h = await openHandle();
  const at = opt(o, 'at');
  // flux_kvs_lookupat() takes no watch flags: a snapshot never changes
  if (at !== undefined && flags & (FLUX_KVS_WATCH | FLUX_KVS_STREAM | FLUX_KVS_WAITCREATE)) {
    dieErr(o.args[0], new FluxError(errno.EINVAL));
  }
  if (flags & (FLUX_KVS_WATCH | FLUX_KVS_STREAM)) {
    // Every watch runs at once; output interleaves as the changes come, as in flux-kvs.
    await Promise.all(o.args.map((key) => watchKey(h, o, key, flags, maxcount)));
  } else {
    // flux-core looks keys up one at a time; we keep up to WINDOW lookups in flight and print
    // them in order, so the output (and the first error, after the values before it) is the same.
    const WINDOW = 512;
    const ask = (key: string): Promise<KvsLookupResult> =>
      lookup(h, key, at !== undefined ? { flags, atRoot: at } : { flags, namespace: opt(o, 'namespace') });
    const inflight: Promise<KvsLookupResult>[] = [];
    let next = 0;
    const fill = (): void => {
      while (next < o.args.length && inflight.length < WINDOW) {
        const p = ask(o.args[next++]);
        p.catch(() => {}); // awaited in order below; an error is reported there
        inflight.push(p);
      }
    };
    fill();
    for (const key of o.args) {
      let r: KvsLookupResult;
      try {
        r = await inflight.shift()!;
      } catch (e) {
        dieErr(key, e);
      }
      fill();
      await writeBytes(valueOutput(o, key, r));
    }
  }
  h.close();
}

function readStdin(): Buffer {
  try {
    return readFileSync(0);
  } catch (e) {
    dieErr('stdin', e);
  }
}

/** Build put's transaction (pure but for stdin): fails as flux-kvs does for a missing '='. */
export function putTxn(o: ParsedOptions, args: string[], stdin: () => Buffer = readStdin): KvsTxn {
  const txn = new KvsTxn();
  const putFlags = hasOpt(o, 'append') ? FLUX_KVS_APPEND : 0;
  for (const arg of args) {
    const eq = arg.indexOf('=');
    if (eq < 0) dieMsg('put: you must specify a value as key=value');
    const key = arg.slice(0, eq);
    const val = arg.slice(eq + 1);
    try {
      if (hasOpt(o, 'treeobj')) {
        txn.putTreeobj(key, val === '-' ? stdin().toString('utf8') : val);
      } else if (hasOpt(o, 'raw')) {
        txn.putRaw(key, val === '-' ? stdin() : Buffer.from(val, 'utf8'), putFlags);
      } else {
        txn.put(key, val, putFlags);
      }
    } catch (e) {
      dieErr(key, e);
    }
  }
  return txn;
}

export async function cmdPut(argv: string[]): Promise<void> {
  const p = optparser(PUT);
  const o = parseSub(p, argv);
  if (o.args.length === 0) usageExit(p);
  let flags = 0;
  if (hasOpt(o, 'no-merge')) flags |= FLUX_KVS_NO_MERGE;
  if (hasOpt(o, 'sync')) flags |= FLUX_KVS_SYNC;
  const h = await openHandle();
  const txn = putTxn(o, o.args);
  try {
    commitFinish(o, await commit(h, txn, { namespace: opt(o, 'namespace'), flags }));
  } catch (e) {
    dieErr('flux_kvs_commit', e);
  }
  h.close();
}
