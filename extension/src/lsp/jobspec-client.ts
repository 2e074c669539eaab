/**
 * The thin client of the jobspec language server (dist/server.js, its own Node process over IPC):
 * starts it for `flux-jobspec` documents, answers its `flux/feasibility` requests from the attached
 * instance (sched's `feasibility.check`; "unknown" without an instance), tells it when the instance
 * changes, and restarts it when it crashes (reported in the Flux log and a notification).
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import {
  CloseAction,
  ErrorAction,
  LanguageClient,
  TransportKind,
  type ErrorHandler,
  type LanguageClientOptions,
  type ServerOptions,
} from 'vscode-languageclient/node';
import { errno, FluxError } from '../../../broker/src/common/libflux/errno';
import { jsonPayload } from '../../../broker/src/common/libjob/rpc-json';
import type { InstanceManager } from '../instance/instance-manager';

export const JOBSPEC_LANGUAGE = 'flux-jobspec';

interface FeasibilityAnswer {
  state: 'ok' | 'infeasible' | 'unknown';
  message?: string;
}

/** Ask the attached instance whether it could ever run this jobspec. */
export async function checkFeasibility(instance: InstanceManager, jobspec: unknown): Promise<FeasibilityAnswer> {
  const h = instance.state === 'running' ? instance.flux : undefined;
  if (!h) return { state: 'unknown', message: 'no instance' };
  try {
    await h.rpc('feasibility.check', jsonPayload({ jobspec })).response();
    return { state: 'ok' };
  } catch (e) {
    // No scheduler (ENOSYS) or no answer: unknown. Otherwise the scheduler said no: sched-simple
    // answers EOVERFLOW/EINVAL, Fluxion ENODEV ("Unsatisfiable request").
    const unknown: number[] = [errno.ENOSYS, errno.EHOSTUNREACH, errno.ECONNRESET, errno.ETIMEDOUT, errno.EAGAIN, errno.ENOTCONN];
    if (e instanceof FluxError && !unknown.includes(e.errnum)) return { state: 'infeasible', message: e.message };
    return { state: 'unknown', message: e instanceof Error ? e.message : String(e) };
  }
}

export class JobspecClient implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private readonly subs: vscode.Disposable[] = [];
  private crashes: number[] = [];

  constructor(private readonly extensionPath: string, private readonly instance: InstanceManager, private readonly log: vscode.LogOutputChannel) {
    // Start with the first jobspec document (activation stays cheap for everyone else).
    const maybeStart = (d: vscode.TextDocument): void => {
      if (d.languageId === JOBSPEC_LANGUAGE || (d.languageId === 'shellscript' && /^\s*#+\s*flux:/m.test(d.getText(new vscode.Range(0, 0, 200, 0))))) void this.start();
    };
    vscode.workspace.textDocuments.forEach(maybeStart);
    this.subs.push(
      vscode.workspace.onDidOpenTextDocument(maybeStart),
      // for tests: the server's pid (to kill it and see it restarted); not in the palette
      vscode.commands.registerCommand('flux.jobspec.serverPid', () => this.serverPid()),
      instance.onDidChange((s) => {
        if (s === 'running' || s === 'stopped') void this.client?.sendNotification('flux/instanceChanged', {});
      }),
    );
  }

  get running(): boolean {
    return this.client?.isRunning() ?? false;
  }

  async start(): Promise<LanguageClient> {
    if (this.client) return this.client;
    const module = path.join(this.extensionPath, 'dist', 'server.js');
    const serverOptions: ServerOptions = {
      run: { module, transport: TransportKind.ipc },
      debug: { module, transport: TransportKind.ipc, options: { execArgv: ['--nolazy', '--inspect=6019'] } },
    };
    const log = this.log;
    const errorHandler: ErrorHandler = {
      error: (error, _message, count) => {
        log.error(`jobspec language server: ${error.message}`);
        return { action: (count ?? 0) <= 3 ? ErrorAction.Continue : ErrorAction.Shutdown };
      },
      closed: () => {
        // Restart unless it keeps crashing (5 times within 3 minutes).
        const now = Date.now();
        this.crashes = [...this.crashes.filter((t) => now - t < 180_000), now];
        if (this.crashes.length > 5) {
          log.error('jobspec language server crashed 5 times in 3 minutes; not restarting');
          void vscode.window.showErrorMessage('Flux: the jobspec language server keeps crashing; it is not restarted.', 'Show Log').then((a) => a && log.show());
          return { action: CloseAction.DoNotRestart };
        }
        log.warn('jobspec language server stopped; restarting');
        void vscode.window.showWarningMessage('Flux: the jobspec language server stopped and was restarted.');
        return { action: CloseAction.Restart };
      },
    };
    const clientOptions: LanguageClientOptions = {
      // shell scripts for their `# flux:` directives (flux batch) only
      documentSelector: [{ language: JOBSPEC_LANGUAGE }, { language: 'shellscript' }],
      outputChannel: vscode.window.createOutputChannel('Flux Jobspec Language Server'),
      errorHandler,
    };
    const client = new LanguageClient('flux-jobspec', 'Flux Jobspec', serverOptions, clientOptions);
    client.registerFeature({
      fillClientCapabilities: (caps) => {
        caps.experimental = { ...(caps.experimental ?? {}), fluxFeasibility: true };
      },
      initialize: () => undefined,
      getState: () => ({ kind: 'static' }),
      clear: () => undefined,
    });
    this.client = client;
    client.onRequest('flux/feasibility', (p: { jobspec: unknown }) => checkFeasibility(this.instance, p.jobspec));
    await client.start();
    log.info(`jobspec language server started (pid ${String((client as unknown as { _serverProcess?: { pid?: number } })._serverProcess?.pid ?? '?')})`);
    return client;
  }

  /** The server's process id (for tests and the crash-restart check). */
  serverPid(): number | undefined {
    return (this.client as unknown as { _serverProcess?: { pid?: number } } | undefined)?._serverProcess?.pid;
  }

  dispose(): void {
    for (const s of this.subs) s.dispose();
    void this.client?.stop();
  }
}
