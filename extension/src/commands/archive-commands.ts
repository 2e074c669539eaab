/**
 * Archives: Extract to a folder, Remove, Create from the Explorer selection, and Extract here
 * (Explorer folder). Programmatic callers pass what the dialogs would ask for.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { createArchive, extractArchive, removeArchive } from '../archives/archive-lib';
import { askRanks } from '../exec/ask-ranks';
import { parseRanks } from '../exec/run-session';
import { openRunTerminal } from '../exec/run-terminal';
import { reported, withProgress } from '../util/report';
import type { CommandContext, Handler } from './context';

interface ArchiveRef {
  name: string;
}
export interface ExtractOptions {
  overwrite?: boolean;
}
export interface CreateOptions {
  name?: string;
  overwrite?: boolean;
  /** --mmap: rank 0 serves large files from these very files (which must not change). */
  mmap?: boolean;
}

function archiveName(x: unknown): string | undefined {
  if (typeof x === 'string') return x;
  if (typeof x === 'object' && x !== null && typeof (x as ArchiveRef).name === 'string' && (x as { kind?: string }).kind !== 'entry') return (x as ArchiveRef).name;
  return undefined;
}

async function pickArchive(ctx: CommandContext, title: string): Promise<string | undefined> {
  const list = await ctx.archives.list();
  if (list.length === 0) {
    void vscode.window.showInformationMessage('Flux: there is no archive in this instance (create one from the Explorer: Flux: Create Archive…).');
    return undefined;
  }
  const pick = await vscode.window.showQuickPick(list.map((a) => ({ label: a.name, description: `${a.files} files` })), { title });
  return pick?.label;
}

async function doExtract(ctx: CommandContext, name: string, folder: vscode.Uri, opts: ExtractOptions): Promise<number> {
  const h = ctx.instance.requireFlux();
  const n = await withProgress(`Extracting archive ${name} to ${folder.fsPath}`, (p) =>
    extractArchive(h, name, folder.fsPath, opts.overwrite === true, (m, f) => p.report({ message: m, increment: f !== undefined ? f * 100 : undefined })),
  );
  ctx.log.info(`archive extract -n ${name} -C ${folder.fsPath}: ${n} entries`);
  return n;
}

export function archiveCommands(ctx: CommandContext): Record<string, Handler> {
  const { instance, log, refresh } = ctx;
  return {
    /** (archive node | name, folder?: Uri, opts?) → number of entries written. */
    'flux.archive.extract': (node?: unknown, folder?: unknown, opts?: unknown) =>
      reported(log, 'extract archive', async () => {
        instance.requireFlux();
        const name = archiveName(node) ?? (await pickArchive(ctx, 'Extract Archive'));
        if (!name) return undefined;
        let dir = folder instanceof vscode.Uri ? folder : undefined;
        if (!dir) {
          const picked = await vscode.window.showOpenDialog({
            canSelectFiles: false, canSelectFolders: true, canSelectMany: false, openLabel: 'Extract Here', title: `Extract archive ${name} to…`,
            defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
          });
          dir = picked?.[0];
        }
        if (!dir) return undefined;
        return doExtract(ctx, name, dir, (opts as ExtractOptions | undefined) ?? {});
      }),

    /**
     * The seed's flow for clusters without a shared file system: on each chosen rank,
     * `mkdir -p DIR && flux archive extract -n NAME -C DIR`, through the ranks' rexec services, in
     * a Run on Ranks terminal (each rank reads the blobs through its own broker's content cache).
     * (archive node | name, { ranks?: idset, dir?: path, wait?: boolean }) → the run's result.
     */
    'flux.archive.extractOnRanks': (node?: unknown, opts?: unknown) =>
      reported(log, 'extract archive on ranks', async () => {
        const h = instance.requireFlux();
        const name = archiveName(node) ?? (await pickArchive(ctx, 'Extract Archive on Ranks'));
        if (!name) return undefined;
        const o = (opts ?? {}) as { ranks?: string; dir?: string; wait?: boolean };
        const size = instance.instanceSize;
        const rankText = o.ranks ?? (await askRanks(`Extract archive ${name} on ranks (1/2)`, 'Ranks (an idset, or all): each extracts through its own broker', size));
        if (rankText === undefined) return undefined;
        const ranks = parseRanks(rankText, size);
        const dir = o.dir ?? (await vscode.window.showInputBox({
          title: `Extract archive ${name} on ranks (2/2)`,
          prompt: 'Directory on those ranks\' hosts (created if missing)',
          value: vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? '',
          validateInput: (v) => (path.isAbsolute(v.trim()) ? undefined : 'an absolute path'),
        }));
        if (!dir?.trim()) return undefined;
        const q = (x: string): string => `'${x.replace(/'/g, "'\\''")}'`;
        const command = `mkdir -p ${q(dir.trim())} && flux archive extract -n ${q(name)} -C ${q(dir.trim())}`;
        const run = openRunTerminal(h, ranks, command, undefined, rankText.trim() || 'all', path.join(ctx.extensionPath, 'dist', 'bin'));
        if (!o.wait) return { name: run.terminal.name, ranks };
        return { name: run.terminal.name, ranks, ...(await run.done) };
      }),

    /** Explorer folder → pick an archive → extract into that folder. */
    'flux.archive.extractHere': (folder?: unknown, _all?: unknown, name?: unknown) =>
      reported(log, 'extract archive', async () => {
        instance.requireFlux();
        const dir = folder instanceof vscode.Uri ? folder : vscode.workspace.workspaceFolders?.[0]?.uri;
        if (!dir) throw new Error('choose a folder in the Explorer');
        const n = typeof name === 'string' ? name : await pickArchive(ctx, `Extract Archive into ${path.basename(dir.fsPath)}`);
        if (!n) return undefined;
        return doExtract(ctx, n, dir, {});
      }),

    /** (archive node | name, opts?: { confirm: false }) */
    'flux.archive.remove': (node?: unknown, opts?: unknown) =>
      reported(log, 'remove archive', async () => {
        const h = instance.requireFlux();
        const name = archiveName(node) ?? (await pickArchive(ctx, 'Remove Archive'));
        if (!name) return false;
        if ((opts as { confirm?: boolean } | undefined)?.confirm !== false) {
          const ok = await vscode.window.showWarningMessage(`Remove archive ${name}?`, { modal: true, detail: `archive.${name} and its blobs' references are unlinked from the KVS.` }, 'Remove');
          if (ok !== 'Remove') return false;
        }
        try {
          await removeArchive(h, name);
        } finally {
          refresh.kvsChanged('archive-action');
        }
        log.info(`archive remove -n ${name}`);
        return true;
      }),

    /**
     * Explorer context: (clicked Uri, selected Uris, opts?) → the archive's name. Paths are stored
     * relative to the selection's common parent, as `flux archive create -C PARENT NAMES`.
     */
    'flux.archive.create': (clicked?: unknown, selected?: unknown, opts?: unknown) =>
      reported(log, 'create archive', async () => {
        const h = instance.requireFlux();
        let uris = Array.isArray(selected) ? selected.filter((u): u is vscode.Uri => u instanceof vscode.Uri) : [];
        if (uris.length === 0 && clicked instanceof vscode.Uri) uris = [clicked];
        if (uris.length === 0) {
          uris = (await vscode.window.showOpenDialog({ canSelectFiles: true, canSelectFolders: true, canSelectMany: true, openLabel: 'Archive', title: 'Files for the Flux archive' })) ?? [];
        }
        if (uris.length === 0) return undefined;
        const o = (opts as CreateOptions | undefined) ?? {};
        const base = path.dirname(uris[0].fsPath);
        if (uris.some((u) => path.dirname(u.fsPath) !== base)) throw new Error('select files and folders of one directory');
        let name = o.name;
        name ??= await vscode.window.showInputBox({
          title: 'Flux: Create Archive', prompt: 'Archive name (flux archive create -n NAME)', value: 'main',
          validateInput: (v) => (/^[^.\s/]+$/.test(v) ? undefined : 'A name without dots, slashes or spaces'),
        });
        if (!name) return undefined;
        const rel = uris.map((u) => path.basename(u.fsPath));
        const archive = name;
        const mmap = o.mmap === true;
        try {
          const n = await withProgress(`Creating archive ${archive}`, (p) => createArchive(h, archive, base, rel, { overwrite: o.overwrite === true, mmap }, (m) => p.report({ message: m })));
          log.info(`archive create -n ${archive} -C ${base}${mmap ? ' --mmap' : ''} ${rel.join(' ')}: ${n} entries`);
        } finally {
          refresh.kvsChanged('archive-action');
        }
        return archive;
      }),
    /** The same, with --mmap: large files are served by rank 0 from the files themselves, not copied. */
    'flux.archive.createMapped': (clicked?: unknown, selected?: unknown, opts?: unknown) =>
      vscode.commands.executeCommand('flux.archive.create', clicked, selected, { ...((opts as CreateOptions | undefined) ?? {}), mmap: true }),
  };
}
