/**
 * `flux-kvs://NAMESPACE/a/b/c` names key `a.b.c` of a KVS namespace; `flux-kvs://NAMESPACE/` is
 * its root directory.
 */
import * as vscode from 'vscode';

export const KVS_SCHEME = 'flux-kvs';

export function kvsUri(namespace: string, key: string): vscode.Uri {
  const parts = key === '.' || key === '' ? [] : key.split('.').filter((p) => p !== '');
  return vscode.Uri.from({ scheme: KVS_SCHEME, authority: namespace, path: '/' + parts.join('/') });
}

export function parseKvsUri(uri: vscode.Uri): { namespace: string; key: string } {
  const namespace = uri.authority || 'primary';
  const parts = uri.path.split('/').filter((p) => p !== '');
  return { namespace, key: parts.length ? parts.join('.') : '.' };
}
