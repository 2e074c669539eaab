/**
 * `flux start [OPTIONS] [CMD ARGS...]`: spawn a test instance of N broker
 * processes (one per rank) over ZeroMQ in a fresh rundir, run CMD (or a shell)
 * on rank 0 with FLUX_URI set, and exit with its status once every broker is
 * gone. Each broker holds an IPC lifeline to this process: if `flux start` is
 * killed, even with SIGKILL, the brokers and the initial program go with it.
 *
 * When this process itself has an IPC channel (the VS Code extension forks it),
 * it reports `{type:'run', uri, pids}` once rank 0 is up and stops the instance
 * when that channel closes.
 */
import { fork, spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { Optparse, has, last } from '../common/liboptparse/optparse';
import { parseFsd } from '../common/libutil/fsd';
import { decodeHostlist } from '../common/libhostlist/hostlist';
import { loadConfPath, mergeConf, parseConfArg, type ConfObject } from '../common/libutil/conf';
import { parseTopology } from '../broker/topology';
import { PmiServer } from '../broker/overlay-boot';
import { Exit, die, errText, parseOrExit } from './cli';

const PROG = 'flux-start';

const OPTIONS = new Optparse(PROG, [
  { name: 'setattr', key: 'S', hasArg: 1, arginfo: 'ATTR=VAL', usage: 'Set broker attribute' },
  { name: 'config-path', key: 'c', hasArg: 1, arginfo: 'PATH', usage: 'Set broker config from PATH (default: none)' },
  { name: 'conf', hasArg: 1, arginfo: 'VALUE', usage: 'Update broker config from VALUE' },
  { name: 'verbose', key: 'v', hasArg: 2, arginfo: 'LEVEL', usage: 'Be annoyingly informative by degrees' },
  { name: 'noexec', key: 'X', usage: "Don't execute (useful with -v, --verbose)" },
  { name: 'broker-opts', key: 'o', hasArg: 1, arginfo: 'OPTS', usage: 'Add comma-separated broker options, e.g. "-o,-v"' },
  { name: 'wrap', hasArg: 1, arginfo: 'ARGS,...', usage: 'Wrap broker execution in comma-separated arguments' },
  { name: 'test-size', key: 's', hasArg: 1, arginfo: 'N', usage: 'Start a test instance by launching N brokers locally', group: 'Options useful for testing:' },
  { name: 'test-hosts', hasArg: 1, arginfo: 'HOSTLIST', usage: 'Set fake hostnames for brokers', group: 'Options useful for testing:' },
  { name: 'test-exit-timeout', hasArg: 1, arginfo: 'FSD', usage: 'After a broker exits, kill other brokers after timeout', group: 'Options useful for testing:' },
  { name: 'test-exit-mode', hasArg: 1, arginfo: 'any|leader', usage: 'Trigger exit timer on leader/any broker exit (default=any)', group: 'Options useful for testing:' },
  { name: 'test-start-mode', hasArg: 1, arginfo: 'all|leader', usage: 'Start all brokers immediately or just leader (default=all)', group: 'Options useful for testing:' },
  { name: 'test-rundir', hasArg: 1, arginfo: 'DIR', usage: 'Use DIR as broker run directory', group: 'Options useful for testing:' },
  { name: 'test-rundir-cleanup', usage: 'Clean up --test-rundir DIR upon flux-start completion', group: 'Options useful for testing:' },
], '[OPTIONS] command ...', 32);

type BrokerMessage = { type: 'run'; uri: string };

function signalNumber(sig: NodeJS.Signals | null): number {
  return sig ? os.constants.signals[sig] ?? 1 : 1;
}

export async function start(argv: string[]): Promise<void> {
  const o = parseOrExit(OPTIONS, argv);
  const sizeText = last(o, 'test-size') ?? '1';
  const size = Number(sizeText);
  if (!/^\d+$/.test(sizeText) || size < 1) die(PROG, `--test-size argument must be > 0`);
  const verbose = has(o, 'verbose');

  const attrs: Record<string, string> = {};
  // -o: options for every broker; ours take -S ATTR=VAL (also -SATTR=VAL, --setattr=ATTR=VAL).
  for (const kv of brokerOptions(o.values.get('broker-opts') ?? [])) {
    const eq = kv.indexOf('=');
    if (eq <= 0) die(PROG, `broker option -S ${kv}: expected ATTR=VAL`);
    attrs[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  for (const kv of o.values.get('setattr') ?? []) {
    const eq = kv.indexOf('=');
    if (eq <= 0) die(PROG, `--setattr ${kv}: expected ATTR=VAL`);
    attrs[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  // tbon.fanout=K is the old spelling of tbon.topo=kary:K.
  if (attrs['tbon.fanout'] !== undefined) {
    attrs['tbon.topo'] ??= `kary:${attrs['tbon.fanout']}`;
    delete attrs['tbon.fanout'];
  }
  const topo = attrs['tbon.topo'] ?? 'kary:32';
  delete attrs['tbon.topo'];
  try {
    parseTopology(topo, size);
  } catch (e) {
    // flux-core finds this in each broker; we check once, before any broker starts, and say it as a broker would.
    die('flux-broker', `error creating '${topo}' topology: ${e instanceof Error ? e.message : String(e)}`);
  }

  let exitTimeout = 20;
  const et = last(o, 'test-exit-timeout');
  if (et !== undefined) {
    try {
      exitTimeout = parseFsd(et);
    } catch {
      die(PROG, `invalid --test-exit-timeout: ${et}`);
    }
  }
  const exitMode = last(o, 'test-exit-mode') ?? 'any';
  if (exitMode !== 'any' && exitMode !== 'leader') die(PROG, `--test-exit-mode must be any|leader`);

  let rundir = last(o, 'test-rundir');
  let cleanup = true;
  if (rundir !== undefined) {
    rundir = path.resolve(rundir);
    cleanup = has(o, 'test-rundir-cleanup');
    try {
      if (!(await fs.stat(rundir)).isDirectory()) die(PROG, `${rundir}: Not a directory`);
    } catch (e) {
      if (e instanceof Exit) throw e;
      die(PROG, `${rundir}: ${errText(e)}`);
    }
  } else {
    rundir = await fs.mkdtemp(path.join(os.tmpdir(), 'flux-'));
  }
  await fs.chmod(rundir, 0o700);

  let configPath = last(o, 'config-path');
  const confs = o.values.get('conf') ?? [];
  if (configPath !== undefined || confs.length > 0) {
    // Read it here too, so a bad file or value fails once, before any broker starts.
    let conf: ConfObject = {};
    try {
      if (configPath !== undefined) conf = await loadConfPath((configPath = path.resolve(configPath)));
      for (const c of confs) mergeConf(conf, await parseConfArg(c), '--conf', true);
    } catch (e) {
      if (cleanup && last(o, 'test-rundir') === undefined) await fs.rm(rundir, { recursive: true, force: true });
      die(PROG, `Config file error: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (confs.length > 0) {
      configPath = path.join(rundir, 'conf.json');
      await fs.writeFile(configPath, JSON.stringify(conf));
    }
  }
  const testHosts = last(o, 'test-hosts');
  if (testHosts !== undefined) {
    let n: number;
    try {
      n = decodeHostlist(testHosts).length;
    } catch {
      die(PROG, `--test-hosts: invalid hostlist: ${testHosts}`);
    }
    if (n < size) die(PROG, `--test-hosts: hostlist has ${n} hosts, fewer than --test-size=${size}`);
  }
  const startMode = last(o, 'test-start-mode') ?? 'all';
  if (startMode !== 'all' && startMode !== 'leader') die(PROG, `--test-start-mode must be all|leader`);
  const wrap = (o.values.get('wrap') ?? []).flatMap((w) => w.split(',')).filter((w) => w !== '');
  const spec: InstanceSpec = { size, topo, attrs, rundir, command: o.args, exitTimeout, exitMode, verbose, wrap, leaderOnly: startMode === 'leader', configPath, rundirCleanup: cleanup, testHosts };
  if (has(o, 'noexec')) {
    // -X: show what would run (with -v) and stop there.
    if (verbose) for (let rank = 0; rank < size; rank++) process.stderr.write(`${PROG}: ${brokerCommand(spec, rank).join(' ')}\n`);
    if (cleanup) await fs.rm(rundir, { recursive: true, force: true });
    throw new Exit(0);
  }
  const status = await runInstance(spec);
  if (cleanup) await fs.rm(rundir, { recursive: true, force: true });
  throw new Exit(status);
}

/** Split `-o` values into -S ATTR=VAL settings; anything else is not a broker option we have. */
function brokerOptions(values: string[]): string[] {
  const words = values.flatMap((v) => v.split(',')).filter((w) => w !== '');
  const out: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    if (w === '-S' || w === '--setattr') {
      const v = words[++i];
      if (v === undefined) die(PROG, `broker option ${w} requires an argument`);
      out.push(v);
    } else if (w.startsWith('--setattr=')) {
      out.push(w.slice('--setattr='.length));
    } else if (w.startsWith('-S')) {
      out.push(w.slice(2));
    } else if (w === '-v' || w === '--verbose') {
      // flux-broker -v: log to stderr at debug; our equivalent attribute.
      out.push('log-stderr-level=7');
    } else {
      die(PROG, `broker option '${w}' is not recognized (broker options: -S ATTR=VAL, -v)`);
    }
  }
  return out;
}

/** The command line of one broker, as `--wrap` and `-X -v` show it. */
function brokerCommand(spec: InstanceSpec, rank: number): string[] {
  const args = [`--rank=${rank}`, `--size=${spec.size}`, `--rundir=${spec.rundir}`, `--topo=${spec.topo}`];
  if (spec.configPath !== undefined) args.push(`--config-path=${spec.configPath}`);
  if (spec.testHosts !== undefined) args.push(`--test-hosts=${spec.testHosts}`);
  if (rank === 0 && spec.rundirCleanup) args.push('--rundir-cleanup');
  for (const [k, v] of Object.entries(spec.attrs)) args.push('-S', `${k}=${v}`);
  if (rank === 0 && spec.command.length > 0) args.push('--', ...spec.command);
  return [...spec.wrap, process.execPath, path.join(__dirname, 'broker.js'), ...args];
}

interface InstanceSpec {
  wrap: string[];
  testHosts?: string;
  /** This launcher removes the rundir at the end (rank 0 does it if the launcher is killed). */
  rundirCleanup: boolean;
  configPath?: string;
  /** --test-start-mode=leader: only rank 0 is started here. */
  leaderOnly: boolean;
  size: number;
  topo: string;
  attrs: Record<string, string>;
  rundir: string;
  command: string[];
  exitTimeout: number;
  exitMode: string;
  verbose: boolean;
}

/** After rank 0 failed to boot, how long the other brokers get to report their own failure. */
const BOOT_FAILURE_GRACE_MS = 2000;

function runInstance(spec: InstanceSpec): Promise<number> {
  const brokerJs = path.join(__dirname, 'broker.js');
  const interactive = spec.command.length === 0 && process.stdin.isTTY === true;
  const brokers: ChildProcess[] = [];
  // Brokers publish tcp:// endpoints here for their children (flux-core's PMI exchange).
  const pmi = new PmiServer();
  const alive = new Set<number>();
  let leaderStatus: number | undefined;
  let exitTimer: NodeJS.Timeout | undefined;
  let bootGrace: NodeJS.Timeout | undefined;
  let stopping = false;
  /** Rank 0 reached RUN (its initial program was started). */
  let running = false;

  return new Promise((resolve) => {
    const finish = (): void => {
      if (alive.size > 0) return;
      if (exitTimer) clearTimeout(exitTimer);
      if (bootGrace) clearTimeout(bootGrace);
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      process.off('SIGHUP', onTerm);
      resolve(leaderStatus ?? 1);
    };
    const killAll = (sig: NodeJS.Signals): void => {
      for (const r of alive) brokers[r].kill(sig);
    };
    const armExitTimer = (): void => {
      if (exitTimer || alive.size === 0) return;
      const ms = Number.isFinite(spec.exitTimeout) ? spec.exitTimeout * 1000 : 2 ** 31 - 1;
      exitTimer = setTimeout(() => {
        if (spec.verbose) process.stderr.write(`${PROG}: exit timeout: killing ranks ${[...alive].join(',')}\n`);
        killAll('SIGKILL');
      }, ms);
    };
    /** Ask rank 0 to stop the instance; a second request kills everything. */
    const stop = (): void => {
      if (stopping) {
        killAll('SIGKILL');
        return;
      }
      stopping = true;
      if (alive.has(0)) brokers[0].send({ type: 'shutdown' }, () => {});
      else killAll('SIGTERM');
      setTimeout(() => killAll('SIGKILL'), 10_000).unref();
    };
    // With an interactive shell, Ctrl-C belongs to the shell, not to the instance.
    const onInt = (): void => {
      if (!interactive) stop();
    };
    const onTerm = (): void => stop();
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    process.on('SIGHUP', onTerm);
    // Forked by the extension: its going away stops the instance, unless it asked us to outlive it
    // ({type:'detach'}: the window closes and flux.instance.stopWithWindow is off).
    if (process.send) {
      process.on('disconnect', stop);
      process.on('message', (m: { type?: unknown }) => {
        if (m?.type !== 'detach') return;
        process.off('disconnect', stop);
        process.send?.({ type: 'detached' }, () => {});
      });
    }

    const launch = (rank: number): void => {
      const cmd = brokerCommand(spec, rank);
      const stdio: StdioOptions = [rank === 0 ? 'inherit' : 'ignore', 'inherit', 'inherit', 'ipc'];
      // With --wrap the IPC lifeline still reaches the broker: Node passes it down by file descriptor.
      const child = spec.wrap.length > 0
        ? spawn(cmd[0], cmd.slice(1), { stdio })
        : fork(brokerJs, cmd.slice(2), { stdio, execArgv: [] });
      brokers[rank] = child;
      alive.add(rank);
      if (spec.verbose) process.stderr.write(`${PROG}: rank ${rank}: pid ${child.pid}\n`);
      child.on('message', (m: BrokerMessage) => {
        if (m?.type === 'run') running = true;
        if (m?.type === 'run' && process.send) {
          process.send({ type: 'run', uri: m.uri, rundir: spec.rundir, pids: brokers.map((b) => b.pid) }, () => {});
        }
      });
      child.on('message', (m: unknown) => pmi.handle(child, m));
      child.on('exit', (code, signal) => {
        alive.delete(rank);
        const st = code ?? 128 + signalNumber(signal);
        if (rank === 0) leaderStatus = st;
        if (spec.verbose) process.stderr.write(`${PROG}: rank ${rank} exited with status ${st}\n`);
        // Rank 0 leaves last in an orderly shutdown; if others remain (one still joining when rc1
        // failed, a subtree cut off), nothing can shut them down cleanly any more: end them now
        // rather than at the exit timeout, which stays as the SIGKILL backstop.
        // But if rank 0 failed while booting, the others are failing too (an empty business card,
        // a parent that never comes): let them say why first, for a moment, before SIGTERM.
        if (rank === 0 && alive.size > 0) {
          if (running) killAll('SIGTERM');
          else bootGrace = setTimeout(() => killAll('SIGTERM'), BOOT_FAILURE_GRACE_MS);
        }
        if (rank === 0 || spec.exitMode === 'any') armExitTimer();
        finish();
      });
    };
    for (let rank = 0; rank < (spec.leaderOnly ? 1 : spec.size); rank++) launch(rank);

    // Forked by the extension, which may start a broker again after it was killed or lost (a
    // rehearsal of failure): the new broker joins its parent as a restarted flux-core broker does.
    if (process.send) {
      process.on('message', (m: { type?: unknown; ranks?: unknown }) => {
        if (m?.type !== 'restart-ranks' || !Array.isArray(m.ranks)) return;
        const asked = m.ranks.filter((r): r is number => Number.isInteger(r) && r > 0 && r < spec.size);
        const ranks = asked.filter((r) => !alive.has(r));
        const error = stopping || !alive.has(0) ? 'the instance is shutting down' : undefined;
        if (!error) for (const r of ranks) launch(r);
        process.send?.({ type: 'restart-ranks', ranks: error ? [] : ranks, error, pids: brokers.map((b) => b.pid) }, () => {});
      });
    }
  });
}
