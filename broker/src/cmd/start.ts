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
import { fork, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { Optparse, has, last } from '../common/liboptparse/optparse';
import { parseFsd } from '../common/libutil/fsd';
import { parseTopology } from '../broker/topology';
import { Exit, die, errText, parseOrExit } from './cli';

const PROG = 'flux-start';

const OPTIONS = new Optparse(PROG, [
  { name: 'setattr', key: 'S', hasArg: 1, arginfo: 'ATTR=VAL', usage: 'Set broker attribute' },
  { name: 'verbose', key: 'v', hasArg: 2, arginfo: 'LEVEL', usage: 'Be annoyingly informative by degrees' },
  { name: 'test-size', key: 's', hasArg: 1, arginfo: 'N', usage: 'Start a test instance by launching N brokers locally', group: 'Options useful for testing:' },
  { name: 'test-exit-timeout', hasArg: 1, arginfo: 'FSD', usage: 'After a broker exits, kill other brokers after timeout', group: 'Options useful for testing:' },
  { name: 'test-exit-mode', hasArg: 1, arginfo: 'any|leader', usage: 'Trigger exit timer on leader/any broker exit (default=any)', group: 'Options useful for testing:' },
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
    die(PROG, `tbon.topo=${topo}: ${e instanceof Error ? e.message : String(e)}`);
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

  const status = await runInstance({ size, topo, attrs, rundir, command: o.args, exitTimeout, exitMode, verbose });
  if (cleanup) await fs.rm(rundir, { recursive: true, force: true });
  throw new Exit(status);
}

interface InstanceSpec {
  size: number;
  topo: string;
  attrs: Record<string, string>;
  rundir: string;
  command: string[];
  exitTimeout: number;
  exitMode: string;
  verbose: boolean;
}

function runInstance(spec: InstanceSpec): Promise<number> {
  const brokerJs = path.join(__dirname, 'broker.js');
  const interactive = spec.command.length === 0 && process.stdin.isTTY === true;
  const brokers: ChildProcess[] = [];
  const alive = new Set<number>();
  let leaderStatus: number | undefined;
  let exitTimer: NodeJS.Timeout | undefined;
  let stopping = false;

  return new Promise((resolve) => {
    const finish = (): void => {
      if (alive.size > 0) return;
      if (exitTimer) clearTimeout(exitTimer);
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
    // Forked by the extension: its going away stops the instance.
    if (process.send) process.on('disconnect', stop);

    for (let rank = 0; rank < spec.size; rank++) {
      const args = [`--rank=${rank}`, `--size=${spec.size}`, `--rundir=${spec.rundir}`, `--topo=${spec.topo}`];
      for (const [k, v] of Object.entries(spec.attrs)) args.push('-S', `${k}=${v}`);
      if (rank === 0 && spec.command.length > 0) args.push('--', ...spec.command);
      const child = fork(brokerJs, args, {
        stdio: [rank === 0 ? 'inherit' : 'ignore', 'inherit', 'inherit', 'ipc'],
        execArgv: [],
      });
      brokers[rank] = child;
      alive.add(rank);
      if (spec.verbose) process.stderr.write(`${PROG}: rank ${rank}: pid ${child.pid}\n`);
      child.on('message', (m: BrokerMessage) => {
        if (m?.type === 'run' && process.send) {
          process.send({ type: 'run', uri: m.uri, rundir: spec.rundir, pids: brokers.map((b) => b.pid) }, () => {});
        }
      });
      child.on('exit', (code, signal) => {
        alive.delete(rank);
        const st = code ?? 128 + signalNumber(signal);
        if (rank === 0) leaderStatus = st;
        if (spec.verbose) process.stderr.write(`${PROG}: rank ${rank} exited with status ${st}\n`);
        if (rank === 0 || spec.exitMode === 'any') armExitTimer();
        finish();
      });
    }
  });
}
