/**
 * rc1 and rc3, as the attributes `broker.rc1_path` / `broker.rc3_path` say:
 * empty means none; the default (`flux modprobe rc1`) runs flux-modprobe's
 * code inside the broker, which is what the command would do without the
 * cost of a process per rank; anything else is a shell command line run
 * with FLUX_URI set to this broker. Each run is logged as flux-core does:
 * `rc1.0: flux modprobe rc1 Exited (rc=0) 0.2s`.
 */
import { spawn } from 'node:child_process';
import * as os from 'node:os';
import { Modprobe } from '../common/libmodprobe/modprobe';
import type { BrokerCall } from '../common/libmodprobe/modprobe';

export const DEFAULT_RC1 = 'flux modprobe rc1';
export const DEFAULT_RC3 = 'flux modprobe rc3';

export interface RunatHost {
  rank: number;
  /** The value of `broker.rcN_path` (undefined = unset = default). */
  attr(name: string): string | undefined;
  /** An RPC to this broker. */
  call: BrokerCall;
  /** Environment for commands (FLUX_URI of this rank, flux on PATH). */
  env(): NodeJS.ProcessEnv;
  info(s: string): void;
  err(s: string): void;
}

export async function runRc(which: 'rc1' | 'rc3', host: RunatHost): Promise<number | undefined> {
  const cmd = host.attr(`broker.${which}_path`) ?? (which === 'rc1' ? DEFAULT_RC1 : DEFAULT_RC3);
  if (cmd.trim() === '') return undefined;
  const t0 = performance.now();
  let rc: number;
  let how: string;
  if (cmd === DEFAULT_RC1 || cmd === DEFAULT_RC3) {
    const env = host.env();
    const mp = await Modprobe.create({ call: host.call, rank: host.rank, env, err: (s) => host.err(s), out: (s) => host.info(s) });
    rc = which === 'rc1' ? await mp.rc1() : await mp.rc3();
    how = `Exited (rc=${rc})`;
  } else {
    ({ rc, how } = await runShell(cmd, host.env()));
  }
  const line = `${which}.0: ${cmd} ${how} ${((performance.now() - t0) / 1000).toFixed(1)}s`;
  if (rc === 0) host.info(line);
  else host.err(line);
  return rc;
}

function runShell(cmd: string, env: NodeJS.ProcessEnv): Promise<{ rc: number; how: string }> {
  return new Promise((resolve) => {
    // stdin is not the user's: rc scripts must not read the terminal.
    const child = spawn('/bin/sh', ['-c', cmd], { stdio: ['ignore', 'inherit', 'inherit'], env });
    child.once('error', (e) => resolve({ rc: 127, how: `failed to start: ${e.message}` }));
    child.once('exit', (code, signal) => {
      if (signal) {
        const n = os.constants.signals[signal] ?? 1;
        resolve({ rc: 128 + n, how: `Killed (signal ${n})` });
      } else {
        resolve({ rc: code ?? 1, how: `Exited (rc=${code ?? 1})` });
      }
    });
  });
}
