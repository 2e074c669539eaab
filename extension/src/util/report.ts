/**
 * How failures and long operations are shown: flux's own message in a notification with a
 * "Show Log" action (the Flux output channel), and a progress notification for anything that
 * may take more than a second.
 */
import * as vscode from 'vscode';

/** flux's message for an error (a FluxError's text is the server's, else strerror). */
export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Log a failure and show it: flux's message in a notification with a "Show Log" action. */
export function showError(log: vscode.LogOutputChannel, what: string, e: unknown): void {
  const msg = errorText(e);
  log.error(`${what}: ${msg}`);
  void vscode.window.showErrorMessage(`Flux: ${what}: ${msg}`, 'Show Log').then((a) => {
    if (a === 'Show Log') log.show();
  });
}

/** Show the failure (flux's message, "Show Log"), log it, and rethrow for programmatic callers. */
export async function reported<T>(log: vscode.LogOutputChannel, what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (e) {
    showError(log, what, e);
    throw e;
  }
}

type ProgressStep = { message?: string; increment?: number };

/**
 * A progress notification around `run`, shown only once it has taken a second: quick actions
 * do not flash a toast, slow ones (a big archive, a module that takes its time) say what they do.
 */
export async function withProgress<T>(title: string, run: (p: vscode.Progress<ProgressStep>) => Promise<T>, delayMs = 1000): Promise<T> {
  let sink: ((v: ProgressStep) => void) | undefined;
  const early: ProgressStep[] = [];
  const work = run({ report: (v) => (sink ? sink(v) : early.push(v)) });
  const settled = work.then(() => undefined, () => undefined);
  let timer: NodeJS.Timeout | undefined;
  const slow = await Promise.race([settled.then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), delayMs)))]);
  clearTimeout(timer);
  if (slow) {
    await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title }, (p) => {
      const increment = early.reduce((n, v) => n + (v.increment ?? 0), 0);
      p.report({ message: early[early.length - 1]?.message, increment: increment || undefined });
      sink = (v) => p.report(v);
      return settled;
    });
  }
  return work;
}
