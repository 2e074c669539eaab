/**
 * The initial program (flux-core's rc2) that rank 0 runs once the whole
 * instance is up: `flux start CMD...`, or an interactive shell without CMD.
 * Its exit status becomes the instance's.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface InitialProgramResult {
  /** Exit status as a shell reports it: the exit code, or 128 + signal number. */
  status: number;
  /** Set when the program could not be started at all. */
  error?: string;
}

const SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15, SIGPIPE: 13, SIGABRT: 6, SIGSEGV: 11 };

export class InitialProgram {
  private child: ChildProcess | undefined;
  private grouped = false;

  /**
   * Start `argv` (or the user's shell when empty) with `env`. When stdin is not a
   * terminal the program gets its own process group so that everything it started
   * can be killed with it; a terminal needs it in the foreground group instead.
   */
  run(argv: string[], env: NodeJS.ProcessEnv): Promise<InitialProgramResult> {
    // One argument that needs a shell (`flux start "echo hi; false"`) runs through one, as flux-core does.
    const shell = process.env.SHELL || '/bin/sh';
    const cmd = argv.length === 0 ? [shell] : argv.length === 1 && /[\s;&|<>()$`'"*?~]/.test(argv[0]) ? [shell, '-c', argv[0]] : argv;
    this.grouped = !process.stdin.isTTY;
    return new Promise((resolve) => {
      let child: ChildProcess;
      try {
        child = spawn(cmd[0], cmd.slice(1), { stdio: 'inherit', env, detached: this.grouped });
      } catch (e) {
        resolve({ status: 127, error: `${cmd[0]}: ${e instanceof Error ? e.message : String(e)}` });
        return;
      }
      this.child = child;
      child.once('error', (e: NodeJS.ErrnoException) => {
        this.child = undefined;
        const status = e.code === 'ENOENT' ? 127 : 126;
        const why = e.code === 'ENOENT' ? 'No such file or directory' : e.code === 'EACCES' ? 'Permission denied' : e.message;
        resolve({ status, error: `${cmd[0]}: ${why}` });
      });
      child.once('exit', (code, signal) => {
        this.child = undefined;
        resolve({ status: code ?? 128 + (signal ? SIGNALS[signal] ?? 1 : 1) });
      });
    });
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  /** Signal the program (and its process group, when it has one). */
  kill(signal: NodeJS.Signals): void {
    const c = this.child;
    if (!c || c.pid === undefined) return;
    try {
      if (this.grouped) process.kill(-c.pid, signal);
      else c.kill(signal);
    } catch {
      // already gone
    }
  }
}
