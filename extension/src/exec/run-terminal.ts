/**
 * The terminal of "Flux: Run on Ranks…": a Pseudoterminal around RunSession. The terminal stays
 * open after the command ends (its output is what the user came for) and closes on the next key.
 */
import * as vscode from 'vscode';
import type { Flux } from '../../../broker/src/common/libflux/handle';
import { RunSession, closingText, type RunResult } from './run-session';

/** What the command gives back: the terminal, and (for callers that wait) how it ended. */
export interface RunTerminal {
  terminal: vscode.Terminal;
  /** The result and the terminal's text without colours (the last 256 KiB). */
  done: Promise<RunResult & { output: string }>;
}

const KEEP_OUTPUT = 256 * 1024;

/**
 * `binDir` holds the bundled `flux` (dist/bin): put first on PATH so that commands run on the
 * ranks find it, as inside `flux start`.
 */
export function openRunTerminal(h: Flux, ranks: number[], commandLine: string, cwd: string | undefined, label: string, binDir: string): RunTerminal {
  const write = new vscode.EventEmitter<string>();
  const close = new vscode.EventEmitter<number | void>();
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  env.PATH = `${binDir}:${env.PATH ?? ''}`;
  let session: RunSession | undefined;
  let finished = false;
  let code = 0;
  let output = '';
  let settle: (r: RunResult & { output: string }) => void = () => {};
  let fail: (e: unknown) => void = () => {};
  const done = new Promise<RunResult & { output: string }>((resolve, reject) => {
    settle = resolve;
    fail = reject;
  });
  const keep = (t: string): void => {
    // eslint-disable-next-line no-control-regex -- colour sequences are what is stripped
    output = (output + t.replace(/\x1b\[[0-9;]*m/g, '')).slice(-KEEP_OUTPUT);
  };
  const pty: vscode.Pseudoterminal = {
    onDidWrite: write.event,
    onDidClose: close.event,
    open: () => {
      write.fire(`\x1b[2m$ flux exec -l -r ${label} sh -c '${commandLine.replace(/'/g, "'\\''")}'\x1b[0m\r\n`);
      session = new RunSession(h, ranks, commandLine, {
        cwd, env, write: (t) => {
          keep(t);
          write.fire(t);
        },
      });
      session.run().then(
        (r) => {
          finished = true;
          code = r.code;
          write.fire(`${closingText(r, ranks)}\x1b[2mPress any key to close the terminal.\x1b[0m\r\n`);
          settle({ ...r, output });
        },
        (e: unknown) => {
          finished = true;
          code = 1;
          write.fire(`flux-exec: ${e instanceof Error ? e.message : String(e)}\r\n`);
          fail(e);
        },
      );
    },
    close: () => session?.interrupt(),
    handleInput: (data) => {
      if (finished) close.fire(code);
      else session?.input(data);
    },
  };
  const terminal = vscode.window.createTerminal({ name: `Flux: ${label}: ${commandLine}`.slice(0, 60), pty, iconPath: new vscode.ThemeIcon('terminal') });
  terminal.show();
  return { terminal, done };
}
