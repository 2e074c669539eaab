/** Instance lifecycle from the palette and the status bar: start, ensureStarted, attach, restart, stop, quick actions. */
import * as vscode from 'vscode';
import { reported } from '../util/report';
import type { CommandContext, Handler } from './context';

function isFluxUri(s: string): boolean {
  return /^local:\/\/\/.+/.test(s) || /^ssh:\/\/[^/]+\/.+/.test(s);
}

export function instanceCommands(ctx: CommandContext): Record<string, Handler> {
  const { instance, log } = ctx;
  return {
    'flux.instance.start': () => reported(log, 'start failed', () => instance.start()),
    /** For other extensions and tasks: start if needed, resolve to FLUX_URI. */
    'flux.instance.ensureStarted': () => reported(log, 'start failed', async () => (await instance.start()).uri),
    'flux.instance.stop': () => reported(log, 'stop failed', () => instance.stop()),
    /** `flux shutdown` of whatever instance this is (an attached one too, e.g. left running by an earlier window). */
    'flux.instance.shutdown': (opts?: unknown) =>
      reported(log, 'shutdown failed', async () => {
        const h = instance.requireFlux();
        if ((opts as { confirm?: boolean } | undefined)?.confirm !== false) {
          const ok = await vscode.window.showWarningMessage(`Shut down the Flux instance at ${instance.uri ?? ''}?`, { modal: true, detail: 'Every broker stops (flux shutdown); a statedir keeps what was checkpointed.' }, 'Shut Down');
          if (ok !== 'Shut Down') return false;
        }
        await h.rpc('shutdown.start', { loglevel: 6 }, { nodeid: 0 }).get();
        log.info(`shutdown of ${instance.uri ?? 'the instance'} started`);
        return true;
      }),
    'flux.instance.restart': () =>
      reported(log, 'restart failed', async () => {
        if (instance.kind === 'attached') throw new Error('an attached instance is not ours to restart; detach and start a local one');
        return instance.restart();
      }),
    /** (uri?) local://PATH, a socket path, or ssh://[user@]host[:port]/PATH. */
    'flux.instance.attach': (given?: unknown) =>
      reported(log, 'attach failed', async () => {
        let uri = typeof given === 'string' ? given : undefined;
        uri ??= await vscode.window.showInputBox({
          title: 'Flux: Attach to Instance',
          prompt: 'FLUX_URI of a running instance: local:///path/to/local-0, a socket path, or ssh://[user@]host[:port]/path',
          value: process.env.FLUX_URI ?? '',
          validateInput: (v) => {
            const t = v.trim();
            return t.startsWith('/') || isFluxUri(t) ? undefined : 'local:///PATH, /PATH or ssh://host/PATH';
          },
        });
        if (!uri) return undefined;
        uri = uri.trim();
        if (uri.startsWith('/')) uri = `local://${uri}`;
        return instance.attach(uri);
      }),
    'flux.instance.openTerminal': () => {
      const t = vscode.window.createTerminal({ name: 'Flux', env: instance.uri ? { FLUX_URI: instance.uri } : {} });
      t.show();
      return t.name;
    },
    'flux.instance.quickActions': async () => {
      type Item = vscode.QuickPickItem & { command?: string };
      const running = instance.state === 'running';
      const items: Item[] = running
        ? [
            { label: '$(terminal) Open Terminal with FLUX_URI', command: 'flux.instance.openTerminal', description: instance.uri },
            { label: '$(output) Show dmesg (All Ranks)…', command: 'flux.dmesg.show' },
            { label: '$(extensions) Load Module…', command: 'flux.broker.loadModule' },
            { label: '$(database) KVS Get…', command: 'flux.kvs.get' },
            ...(instance.kind === 'local' ? [{ label: '$(debug-restart) Restart Instance', command: 'flux.instance.restart' }] : []),
            { label: instance.kind === 'local' ? '$(debug-stop) Stop Instance' : '$(debug-disconnect) Detach', command: 'flux.instance.stop' },
            { label: '$(plug) Attach to Another Instance…', command: 'flux.instance.attach' },
            ...(instance.kind === 'attached' ? [{ label: '$(stop-circle) Shut Down Instance (flux shutdown)', command: 'flux.instance.shutdown' }] : []),
            { label: '$(output) Show Log', command: 'flux.showLog' },
          ]
        : [
            { label: '$(play) Start Local Instance', command: 'flux.instance.start' },
            { label: '$(plug) Attach to Instance…', command: 'flux.instance.attach' },
            { label: '$(output) Show Log', command: 'flux.showLog' },
          ];
      const pick = await vscode.window.showQuickPick(items, { title: running ? `Flux instance ${instance.uri ?? ''}` : 'Flux' });
      if (pick?.command) await vscode.commands.executeCommand(pick.command);
    },
    'flux.showLog': () => log.show(),
  };
}
