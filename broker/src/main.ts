/**
 * Broker process entry: one per rank, forked by `flux start` (broker/src/cmd/start.ts)
 * with an IPC channel. Arguments:
 *   --rank=R --size=N --rundir=DIR --topo=SPEC [-S NAME=VALUE]... [-- CMD ARGS...]
 * The IPC channel is the lifeline: when `flux start` dies, so does every broker.
 */
import { rmSync } from 'node:fs';
import { decodeHostlist } from './common/libhostlist/hostlist';
import * as path from 'node:path';
import { Broker, localUri } from './broker/broker';
import { InitialProgram } from './broker/initial-program';

interface Args {
  rank: number;
  size: number;
  rundir: string;
  topo: string;
  attrs: Record<string, string>;
  configPath?: string;
  hostnames?: string[];
  /** The launcher made the rundir and removes it; rank 0 does it instead if the launcher dies. */
  rundirCleanup: boolean;
  command: string[];
}

function parseArgs(argv: string[]): Args {
  const a: Args = { rank: -1, size: -1, rundir: '', topo: 'kary:32', attrs: {}, rundirCleanup: false, command: [] };
  for (let i = 0; i < argv.length; i++) {
    const s = argv[i];
    if (s === '--') {
      a.command = argv.slice(i + 1);
      break;
    }
    const m = /^--(rank|size|rundir|topo|config-path|test-hosts)=(.*)$/.exec(s);
    if (s === '--rundir-cleanup') {
      a.rundirCleanup = true;
    } else if (m?.[1] === 'test-hosts') {
      a.hostnames = decodeHostlist(m[2]);
    } else if (m?.[1] === 'config-path') {
      a.configPath = m[2];
    } else if (m) {
      if (m[1] === 'rank') a.rank = Number(m[2]);
      else if (m[1] === 'size') a.size = Number(m[2]);
      else if (m[1] === 'rundir') a.rundir = m[2];
      else a.topo = m[2];
    } else if (s === '-S') {
      const kv = argv[++i] ?? '';
      const eq = kv.indexOf('=');
      if (eq > 0) a.attrs[kv.slice(0, eq)] = kv.slice(eq + 1);
    } else {
      throw new Error(`unknown argument '${s}'`);
    }
  }
  if (!(a.rank >= 0 && a.size > a.rank && a.rundir)) throw new Error('usage: broker --rank=R --size=N --rundir=DIR [--topo=SPEC] [-S K=V]... [-- CMD]');
  return a;
}

/** Put this build's `flux` first on PATH, as flux-core does for the programs it runs. */
function withFluxOnPath(p: string | undefined): string {
  const bin = path.join(__dirname, 'bin');
  return p ? `${bin}:${p}` : bin;
}

type LauncherMessage = { type: 'shutdown' };

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  // Shows as flux-broker-R in ps and /proc/PID/status, as flux-core's brokers do
  // (flux uri pid:PID relies on it).
  process.title = `flux-broker-${args.rank}`;
  const broker = new Broker({ rank: args.rank, size: args.size, rundir: args.rundir, topo: args.topo, attrs: args.attrs, configPath: args.configPath, hostnames: args.hostnames });
  const program = new InitialProgram();
  let exiting = false;

  const exit = (status: number): void => {
    if (exiting) return;
    exiting = true;
    // Let ZeroMQ hand off the last messages (linger) before the process goes.
    void broker.close().finally(() => setTimeout(() => process.exit(status), 5));
  };

  // Lifeline: `flux start` (or the extension) went away without a clean stop.
  process.on('disconnect', () => {
    program.kill('SIGKILL');
    // `flux start` cannot remove the rundir it made any more: rank 0 does (sync: the process ends here).
    if (args.rank === 0 && args.rundirCleanup) rmSync(args.rundir, { recursive: true, force: true });
    process.exit(1);
  });
  // Ctrl-C reaches the whole foreground group; `flux start` coordinates the stop.
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => {
    program.kill('SIGTERM');
    exit(143);
  });

  const programEnv = (rank: number): NodeJS.ProcessEnv => ({ ...process.env, FLUX_URI: localUri(args.rundir, rank), PATH: withFluxOnPath(process.env.PATH) });
  broker.programEnv = () => programEnv(args.rank);
  // The state machine reached exit: leave with its status (rank 0: the initial program's).
  broker.onExit = (status) => exit(status);
  // flux-core: a broker that lost its parent cannot rejoin; it exits (and so does its subtree).
  broker.onLostParent = () => exit(1);

  if (args.rank === 0) {
    process.on('message', (msg: LauncherMessage) => {
      if (msg?.type !== 'shutdown') return;
      if (!broker.abortProgram()) broker.shutdown();
    });
    broker.onRun = () => process.send?.({ type: 'run', uri: localUri(args.rundir, 0) });
    broker.abortProgram = () => {
      if (!program.running) return false;
      // flux-core: the initial program gets SIGHUP; its status (129) becomes the instance's.
      program.kill('SIGHUP');
      setTimeout(() => program.kill('SIGKILL'), 2000).unref();
      return true;
    };
    const noProgram = args.attrs['broker.rc2_none'] !== undefined && args.command.length === 0;
    broker.initialProgram = noProgram ? undefined : () =>
      program.run(args.command, programEnv(0)).then((res) => {
        if (res.error) process.stderr.write(`flux-start: ${res.error}\n`);
        return res.status;
      });
  } else {
    process.on('message', (msg: LauncherMessage) => {
      if (msg?.type === 'shutdown') broker.shutdown();
    });
  }

  await broker.start();
}

main().catch((e: unknown) => {
  process.stderr.write(`flux-broker: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
