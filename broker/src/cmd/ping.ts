/**
 * `flux ping [OPTIONS] TARGET`: round trips to a service's `.ping` method, as
 * flux-core prints them: `RANK!SERVICE.ping pad=N seq=S time=T ms (ROUTE)`.
 * TARGET is `service`, `rank!service`, a rank (its broker), `any` or `upstream`.
 */
import { NODEID_ANY, NODEID_UPSTREAM } from '../common/libflux/message';
import type { Rpc } from '../common/libflux/handle';
import { Optparse, last, has } from '../common/liboptparse/optparse';
import { isIdset } from '../common/libidset/idset';
import { Exit, die, errText, open, out, parseOrExit, usageExit } from './cli';

const PROG = 'flux-ping';

interface PingReply {
  seq: number;
  'time.tv_sec': number;
  'time.tv_nsec': number;
  pad: string;
  route: string;
  userid: number;
  rolemask: number;
  rank: number;
}

const KEYS = ['seq', 'time.tv_sec', 'time.tv_nsec', 'pad', 'route', 'userid', 'rolemask', 'rank'];

function intOpt(o: ReturnType<Optparse['parse']>, name: string, dflt: number): number {
  const v = last(o, name);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!/^-?\d+$/.test(v.trim()) || !Number.isSafeInteger(n)) die(PROG, `option '--${name}' requires an integer argument`);
  return n;
}

export const PING_OPTIONS = new Optparse(PROG, [
  { name: 'rank', key: 'r', hasArg: 1, arginfo: 'RANK', usage: 'Find target on a specific broker rank' },
  { name: 'pad', key: 'p', hasArg: 1, arginfo: 'N', usage: 'Include in the payload a string of length N bytes' },
  { name: 'interval', key: 'i', hasArg: 1, arginfo: 'N', usage: 'Specify the delay, in seconds, between successive requests' },
  { name: 'count', key: 'c', hasArg: 1, arginfo: 'N', usage: 'Specify the number of requests to send' },
  { name: 'batch', key: 'b', usage: 'Begin processing responses after all requests are sent' },
  { name: 'userid', key: 'u', usage: 'Include userid and rolemask in ping output' },
], '[OPTIONS] TARGET');

export async function ping(argv: string[]): Promise<void> {
  const p = PING_OPTIONS;
  const o = parseOrExit(p, argv);
  const padBytes = intOpt(o, 'pad', 0);
  if (padBytes < 0) die(PROG, 'pad must be >= 0');
  const intervalText = last(o, 'interval');
  const interval = intervalText === undefined ? 1.0 : Number(intervalText);
  if (!Number.isFinite(interval)) die(PROG, `option '--interval' requires a floating point argument`);
  if (interval < 0) die(PROG, 'interval must be >= 0');
  const count = intOpt(o, 'count', 0);
  if (count < 0) die(PROG, 'count must be >= 0');
  const batch = has(o, 'batch');
  if (batch && count === 0) die(PROG, '--batch should only be used with --count');
  if (o.args.length !== 1) usageExit(p);

  let target = o.args[0];
  let rank = last(o, 'rank');
  if (rank === undefined) {
    const bang = target.indexOf('!');
    if (bang >= 0) {
      rank = target.slice(0, bang);
      target = target.slice(bang + 1);
    } else if (isIdset(target) || target === 'all' || target === 'any' || target === 'upstream') {
      rank = target;
      target = 'broker';
    } else {
      rank = 'any';
    }
  }
  let nodeid: number;
  if (rank === 'any') nodeid = NODEID_ANY;
  else if (rank === 'upstream') nodeid = NODEID_UPSTREAM;
  else if (/^\d+$/.test(rank)) nodeid = Number(rank);
  else die(PROG, `${rank}: ping of more than one rank is not supported (use flux exec -r IDSET flux ping)`);
  const topic = `${target}.ping`;
  const pad = 'p'.repeat(padBytes);
  const label = rank === 'any' ? topic : `${rank}!${topic}`;

  const h = await open(PROG);
  out.write(`${PROG} ${rank}!${target}\n`);

  // The first failure ends the command (log_err_exit in flux-core).
  let fail: (e: unknown) => void = () => {};
  const failed = new Promise<never>((_res, rej) => (fail = rej));
  failed.catch(() => {});
  const inflight = new Set<Promise<void>>();

  const send = (seq: number): void => {
    const t0 = process.hrtime.bigint();
    const [sec, nsec] = process.hrtime();
    const rpc = h.rpc(topic, { seq, 'time.tv_sec': sec, 'time.tv_nsec': nsec, pad }, { nodeid });
    const done = report(rpc, t0).catch(fail);
    inflight.add(done);
    void done.finally(() => inflight.delete(done));
  };
  const report = async (rpc: Rpc, t0: bigint): Promise<void> => {
    let r: PingReply;
    try {
      r = await rpc.get<PingReply>();
    } catch (e) {
      die(PROG, `${label}: ${errText(e)}`);
    }
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    const keys = Object.keys(r);
    if (keys.length !== KEYS.length || !KEYS.every((k) => keys.includes(k))) die(PROG, `${label}: Protocol error`);
    if (r.pad !== pad) die(PROG, 'error in ping pad');
    const u = has(o, 'userid') ? ` userid=${r.userid} rolemask=0x${r.rolemask.toString(16)}` : '';
    out.write(`${r.rank}!${topic} pad=${pad.length}${u} seq=${r.seq} time=${ms.toFixed(3)} ms (${r.route})\n`);
  };
  const sleep = (s: number): Promise<void> => new Promise((res) => setTimeout(res, s * 1000));

  try {
    for (let seq = 0; count === 0 || seq < count; seq++) {
      send(seq);
      if (count !== 0 && seq === count - 1) break;
      await Promise.race([sleep(interval), failed]);
    }
    await Promise.race([Promise.all(inflight), failed]);
  } catch (e) {
    if (e instanceof Exit) throw e;
    die(PROG, errText(e));
  } finally {
    h.close();
  }
}
