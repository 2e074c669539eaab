/**
 * `flux kvs eventlog append|get|wait-event`: RFC 18 eventlogs kept in KVS values, as
 * flux-kvs.c's cmd_eventlog_*. Appends are APPEND commits of one compact JSON line; get and
 * wait-event watch with WATCH_APPEND so each response carries only the new lines.
 */
import { FluxError, errno } from '../common/libflux/errno';
import {
  FLUX_KVS_APPEND, FLUX_KVS_STREAM, FLUX_KVS_WAITCREATE, FLUX_KVS_WATCH, FLUX_KVS_WATCH_APPEND,
  KvsTxn, commit, lookup, watch,
} from '../common/libkvs/client';
import type { JsonValue } from '../common/libkvs/jansson';
import type { ParsedOptions } from '../common/liboptparse/optparse';
import { errln, out } from './cli';
import { NS_OPT, PROG, dieErr, dieMsg, hasOpt, intOpt, openHandle, opt, optparser, parseSub, usageExit, type Sub } from './kvs-common';
import { EventlogFormatter, decodeEventlog, encodeEventlogEntry, type EventlogEntry } from './kvs-format';

const colorOpt = {
  name: 'color', key: 'L', hasArg: 2 as const, arginfo: 'WHEN',
  usage: "Colorize output when supported; WHEN can be 'always' (default if omitted), 'never', or 'auto' (default).",
};

const APPEND: Sub = {
  name: 'append',
  usage: '[-N ns] [-t SECONDS] key name [context ...]',
  doc: 'Append to eventlog',
  options: [NS_OPT, { name: 'timestamp', key: 't', hasArg: 1, arginfo: 'SECONDS', usage: 'Specify timestamp in seconds since epoch' }],
};
const GET: Sub = {
  name: 'get',
  usage: '[-N ns] [-u] [-W] [-w] [-c COUNT] [-H] [-L auto|always|never] [-S] key',
  doc: 'Get eventlog',
  options: [
    NS_OPT,
    { name: 'waitcreate', key: 'W', usage: 'Wait for creation to occur on watch' },
    { name: 'watch', key: 'w', usage: 'Monitor eventlog' },
    { name: 'count', key: 'c', hasArg: 1, arginfo: 'COUNT', usage: 'Display at most COUNT events' },
    { name: 'unformatted', key: 'u', usage: 'Show event in RFC 18 form' },
    { name: 'human', key: 'H', usage: 'Display human-readable output' },
    colorOpt,
    { name: 'stream', key: 'S', usage: 'Return potentially large eventlogs in multiple responses.' },
  ],
};
const WAIT_EVENT: Sub = {
  name: 'wait-event',
  usage: '[-N ns] [-t seconds] [-u] [-W] [-q] [-v] [-L auto|always|never] key event',
  doc: 'Wait for an event',
  options: [
    NS_OPT,
    { name: 'waitcreate', key: 'W', usage: 'Wait for creation to occur on eventlog' },
    { name: 'timeout', key: 't', hasArg: 1, arginfo: 'DURATION', usage: 'timeout after DURATION' },
    { name: 'unformatted', key: 'u', usage: 'Show event in RFC 18 form' },
    { name: 'quiet', key: 'q', usage: 'Do not output matched event' },
    { name: 'verbose', key: 'v', usage: 'Output all events before matched event' },
    { name: 'human', key: 'H', usage: 'Display human-readable output' },
    colorOpt,
  ],
};
const SUBS = [APPEND, GET, WAIT_EVENT];
const PREFIX = `${PROG} eventlog`;

/** formatter_create(): --unformatted excludes --human and --color=always. */
function formatter(o: ParsedOptions): EventlogFormatter {
  const colorArg = opt(o, 'color');
  const when = colorArg === undefined ? 'auto' : colorArg === '' ? 'always' : colorArg;
  const unformatted = hasOpt(o, 'unformatted');
  if (unformatted && (hasOpt(o, 'human') || when === 'always')) {
    errln(`${PROG}: Do not specify --unformatted with --human or --color=always`);
    dieMsg('failed to create eventlog formatter');
  }
  if (when !== 'auto' && when !== 'always' && when !== 'never') {
    errln(`${PROG}: invalid value: --color=${when}`);
    dieMsg('failed to create eventlog formatter');
  }
  // eventlog_formatter_colors_init(): auto colors only a terminal
  const color = when === 'always' || (when === 'auto' && process.stdout.isTTY === true);
  return new EventlogFormatter({ unformatted, human: hasOpt(o, 'human'), color });
}

/** FSD (RFC 23): a number with an optional s/m/h/d suffix, in seconds. */
export function parseFSD(s: string): number | undefined {
  const m = /^(\d+(?:\.\d*)?|\.\d+)(ms|s|m|h|d)?$/.exec(s.trim());
  if (!m) return undefined;
  const mult: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 };
  return Number(m[1]) * mult[m[2] ?? 's'];
}

function decodeOrDie(s: string): EventlogEntry[] {
  const entries = decodeEventlog(s);
  if (!entries) dieErr('eventlog_decode', new FluxError(errno.EINVAL));
  return entries;
}

async function cmdAppend(o: ParsedOptions, p: ReturnType<typeof optparser>): Promise<void> {
  if (o.args.length < 2) usageExit(p);
  const [key, name, ...ctx] = o.args;
  const tsText = opt(o, 'timestamp');
  let timestamp = tsText !== undefined ? Number(tsText) : 0;
  if (!Number.isFinite(timestamp)) dieMsg(`invalid timestamp: ${tsText}`);
  if (timestamp <= 0) timestamp = Date.now() / 1000; // eventlog_entry_create(): 0 = wall clock
  let context: Record<string, JsonValue> | undefined;
  if (ctx.length > 0) {
    let c: unknown;
    try {
      c = JSON.parse(ctx.join(' '));
    } catch {
      c = undefined;
    }
    if (typeof c !== 'object' || c === null || Array.isArray(c)) dieErr('eventlog_entry_create', new FluxError(errno.EINVAL));
    context = c as Record<string, JsonValue>;
  }
  const h = await openHandle();
  try {
    const txn = new KvsTxn().put(key, encodeEventlogEntry(timestamp, name, context), FLUX_KVS_APPEND);
    await commit(h, txn, { namespace: opt(o, 'namespace') });
  } catch (e) {
    dieErr('flux_kvs_commit', e);
  }
  h.close();
}

async function cmdGet(o: ParsedOptions, p: ReturnType<typeof optparser>): Promise<void> {
  if (o.args.length !== 1) usageExit(p);
  const key = o.args[0];
  const evf = formatter(o);
  const maxcount = intOpt(p, o, 'count', 0);
  let flags = 0;
  if (hasOpt(o, 'watch')) flags |= FLUX_KVS_WATCH | FLUX_KVS_WATCH_APPEND;
  if (hasOpt(o, 'waitcreate')) flags |= FLUX_KVS_WAITCREATE;
  if (hasOpt(o, 'stream')) flags |= FLUX_KVS_STREAM;
  const ns = opt(o, 'namespace');
  const h = await openHandle();
  let count = 0;
  const print = (text: string): boolean => {
    let limit = false;
    for (const e of decodeOrDie(text)) {
      if (maxcount === 0 || count < maxcount) out.write(evf.format(e));
      if (maxcount > 0 && ++count === maxcount) limit = true;
    }
    return limit;
  };
  try {
    if (flags & (FLUX_KVS_WATCH | FLUX_KVS_STREAM)) {
      const w = watch(h, key, { namespace: ns, flags });
      // a streamed log may split a line between responses: decode whole lines only
      let pending = '';
      for await (const r of w) {
        const text = pending + r.string();
        const cut = flags & FLUX_KVS_STREAM ? text.lastIndexOf('\n') + 1 : text.length;
        pending = text.slice(cut);
        if (print(text.slice(0, cut))) w.cancel();
        await out.flush();
      }
    } else {
      print((await lookup(h, key, { namespace: ns, flags })).string());
    }
  } catch (e) {
    dieErr('flux_kvs_lookup_get', e);
  }
  h.close();
}

async function cmdWaitEvent(o: ParsedOptions, p: ReturnType<typeof optparser>): Promise<void> {
  if (o.args.length !== 2) usageExit(p);
  const [key, wanted] = o.args;
  const evf = formatter(o);
  let timeout: number | undefined;
  const t = opt(o, 'timeout');
  if (t !== undefined) {
    timeout = parseFSD(t);
    if (timeout === undefined) dieMsg(`invalid duration: ${t}`);
  }
  let flags = FLUX_KVS_WATCH | FLUX_KVS_WATCH_APPEND;
  if (hasOpt(o, 'waitcreate')) flags |= FLUX_KVS_WAITCREATE;
  const h = await openHandle();
  const w = watch(h, key, { namespace: opt(o, 'namespace'), flags });
  let got = false;
  let timedOut = false;
  const timer = timeout !== undefined
    ? setTimeout(() => {
      timedOut = true;
      w.cancel();
    }, timeout * 1000)
    : undefined;
  try {
    for await (const r of w) {
      for (const e of decodeOrDie(r.string())) {
        if (e.name === wanted) {
          if (!hasOpt(o, 'quiet')) out.write(evf.format(e));
          got = true;
          break;
        } else if (hasOpt(o, 'verbose') && !got) {
          out.write(evf.format(e));
        }
      }
      await out.flush();
      if (got) w.cancel();
    }
  } catch (e) {
    if (e instanceof FluxError && e.errnum === errno.ENOENT) dieMsg(`eventlog path ${key} not found`);
    dieErr('flux_kvs_lookup_get', e);
  } finally {
    if (timer) clearTimeout(timer);
  }
  if (!got) dieMsg(timedOut ? `wait-event timeout on event '${wanted}'` : `event '${wanted}' never received`);
  h.close();
}

export async function cmdEventlog(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  const sub = SUBS.find((s) => s.name === cmd);
  if (!sub) {
    const lines = [`Usage: ${PREFIX} [OPTIONS] COMMAND ARGS`, '  -h, --help             Display this message.', ''];
    for (const s of SUBS) lines.push(`   ${s.name.padEnd(15)} ${s.doc}`);
    process.stderr.write(lines.join('\n') + '\n');
    dieMsg('eventlog: optparse_run_subcommand failed');
  }
  const p = optparser(sub, PREFIX);
  const o = parseSub(p, rest);
  if (sub === APPEND) return cmdAppend(o, p);
  if (sub === GET) return cmdGet(o, p);
  return cmdWaitEvent(o, p);
}
