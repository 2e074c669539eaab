/** KVS view and palette actions: Get, Put, New Key, Delete, Copy Key Path, Load more. */
import * as vscode from 'vscode';
import type { KvsElement, KvsMoreNode } from '../kvs/kvs-tree';
import { kvsUri } from '../kvs/kvs-uri';
import { reported } from '../util/report';
import type { CommandContext, Handler } from './context';

interface KeyRef {
  namespace: string;
  key: string;
}

function isKeyRef(x: unknown): x is KeyRef {
  return typeof x === 'object' && x !== null && typeof (x as KeyRef).namespace === 'string' && typeof (x as KeyRef).key === 'string';
}

async function askKey(title: string, prefix: string): Promise<string | undefined> {
  return vscode.window.showInputBox({
    title,
    prompt: 'Key (components separated by dots)',
    value: prefix,
    valueSelection: [prefix.length, prefix.length],
    validateInput: (v) => (/^\.*$/.test(v.trim()) ? 'A key is needed' : /\s/.test(v) ? 'No spaces in keys' : undefined),
  });
}

export function kvsCommands(ctx: CommandContext): Record<string, Handler> {
  const { instance, log, refresh } = ctx;
  return {
    'flux.kvs.loadMore': (node?: unknown) => {
      if ((node as KvsElement | undefined)?.kind === 'more') ctx.kvs.loadMore(node as KvsMoreNode);
    },

    /** Open a value as a document (`flux-kvs:`); resolves to the document's URI. */
    'flux.kvs.get': (ref?: unknown) =>
      reported(log, 'KVS get', async () => {
        instance.requireFlux();
        let r = isKeyRef(ref) ? ref : undefined;
        if (!r) {
          const key = await askKey('Flux: KVS Get', '');
          if (!key) return undefined;
          r = { namespace: 'primary', key: key.trim() };
        }
        const uri = kvsUri(r.namespace, r.key);
        await vscode.workspace.fs.stat(uri);
        await vscode.window.showTextDocument(uri, { preview: false });
        return uri.toString();
      }),

    /** Put a string value: `(ref?, value?)`, asking for what is missing. */
    'flux.kvs.put': (ref?: unknown, value?: unknown) =>
      reported(log, 'KVS put', async () => {
        instance.requireFlux();
        let r = isKeyRef(ref) && ref.key !== '.' ? ref : undefined;
        if (!r) {
          const base = isKeyRef(ref) ? ref : undefined;
          const prefix = base && base.key !== '.' ? `${base.key}.` : '';
          const key = await askKey('Flux: KVS Put', prefix);
          if (!key) return undefined;
          r = { namespace: base?.namespace ?? 'primary', key: key.trim() };
        }
        let v = typeof value === 'string' ? value : undefined;
        v ??= await vscode.window.showInputBox({ title: `Flux: KVS Put ${r.key}`, prompt: 'Value (stored as UTF-8 text)' });
        if (v === undefined) return undefined;
        const uri = kvsUri(r.namespace, r.key);
        await vscode.workspace.fs.writeFile(uri, Buffer.from(v, 'utf8'));
        refresh.kvsChanged('kvs-action');
        return uri.toString();
      }),

    /** New Key under a namespace or directory: the value is then edited in its document. */
    'flux.kvs.newKey': (node?: unknown) =>
      reported(log, 'new key', async () => {
        instance.requireFlux();
        const base = isKeyRef(node) ? node : { namespace: 'primary', key: '.' };
        const key = await askKey('Flux: New Key', base.key === '.' ? '' : `${base.key}.`);
        if (!key) return undefined;
        const uri = kvsUri(base.namespace, key.trim());
        await vscode.workspace.fs.writeFile(uri, new Uint8Array());
        refresh.kvsChanged('kvs-action');
        await vscode.window.showTextDocument(uri, { preview: false });
        return uri.toString();
      }),

    /** Delete a key or directory after confirmation (`{ confirm: false }` as 2nd argument skips it). */
    'flux.kvs.delete': (node?: unknown, opts?: unknown) =>
      reported(log, 'delete key', async () => {
        if (!isKeyRef(node) || node.key === '.') throw new Error('choose a key in the KVS view');
        const skip = (opts as { confirm?: boolean } | undefined)?.confirm === false;
        if (!skip) {
          const ok = await vscode.window.showWarningMessage(`Delete ${node.key} from namespace ${node.namespace}?`, { modal: true, detail: 'A directory is removed with everything under it.' }, 'Delete');
          if (ok !== 'Delete') return false;
        }
        await vscode.workspace.fs.delete(kvsUri(node.namespace, node.key), { recursive: true });
        refresh.kvsChanged('kvs-action');
        return true;
      }),

    'flux.kvs.copyKey': async (node?: unknown) => {
      if (!isKeyRef(node)) return;
      await vscode.env.clipboard.writeText(node.key);
    },
  };
}
