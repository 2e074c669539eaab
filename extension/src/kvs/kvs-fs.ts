/**
 * The KVS as a file system (`flux-kvs:` scheme): directories are KVS directories, files are
 * values. Reads are `kvs.lookup`; a write is one `kvs.commit` of the new value; delete is an
 * unlink commit, rename a copy+unlink commit (kvs.move). Errors carry flux's message.
 */
import { createHash } from 'node:crypto';
import * as vscode from 'vscode';
import { FluxError, errno } from '../../../broker/src/common/libflux/errno';
import type { Flux } from '../../../broker/src/common/libflux/handle';
import * as kvs from '../../../broker/src/common/libkvs/client';
import type { TreeObj } from '../../../broker/src/common/libkvs/treeobj';
import type { InstanceManager } from '../instance/instance-manager';
import { KVS_SCHEME, parseKvsUri } from './kvs-uri';

function stamp(data: Uint8Array): number {
  // VS Code compares mtime+size to detect a change under an open editor: a content hash is
  // stable while the value is, and changes when anyone commits a new one.
  return createHash('sha1').update(data).digest().readUIntBE(0, 6);
}

export class KvsFileSystem implements vscode.FileSystemProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<vscode.FileChangeEvent[]>();
  readonly onDidChangeFile = this.changed.event;

  constructor(private readonly instance: InstanceManager) {}

  /** Map a failure to the FileSystemError VS Code understands, keeping flux's message. */
  private fsError(e: unknown, uri: vscode.Uri): Error {
    if (e instanceof vscode.FileSystemError) return e;
    const { key } = parseKvsUri(uri);
    const msg = `${key}: ${e instanceof Error ? e.message : String(e)}`;
    if (e instanceof FluxError) {
      if (e.errnum === errno.ENOENT) return vscode.FileSystemError.FileNotFound(msg);
      if (e.errnum === errno.EISDIR) return vscode.FileSystemError.FileIsADirectory(msg);
      if (e.errnum === errno.ENOTDIR) return vscode.FileSystemError.FileNotADirectory(msg);
      if (e.errnum === errno.EEXIST) return vscode.FileSystemError.FileExists(msg);
      if (e.errnum === errno.EPERM || e.errnum === errno.EACCES) return vscode.FileSystemError.NoPermissions(msg);
      if (e.errnum === errno.ENOTSUP) return vscode.FileSystemError.Unavailable(`${uri.authority}: ${e.message} (no such namespace?)`);
    }
    return vscode.FileSystemError.Unavailable(msg);
  }

  private async run<T>(uri: vscode.Uri, f: (h: Flux, ns: string, key: string) => Promise<T>): Promise<T> {
    const { namespace, key } = parseKvsUri(uri);
    let h;
    try {
      h = this.instance.requireFlux();
    } catch (e) {
      throw vscode.FileSystemError.Unavailable(e instanceof Error ? e.message : String(e));
    }
    try {
      return await f(h, namespace, key);
    } catch (e) {
      throw this.fsError(e, uri);
    }
  }

  watch(): vscode.Disposable {
    // Changes made through this provider are announced; others are seen on the next read.
    return new vscode.Disposable(() => undefined);
  }

  stat(uri: vscode.Uri): Promise<vscode.FileStat> {
    return this.run(uri, async (h, namespace, key) => {
      if (key === '.') {
        await kvs.getroot(h, { namespace });
        return { type: vscode.FileType.Directory, ctime: 0, mtime: 0, size: 0 };
      }
      const t = (await kvs.lookup(h, key, { namespace, flags: kvs.FLUX_KVS_TREEOBJ })).treeobj as TreeObj;
      if (t.type === 'dir' || t.type === 'dirref') return { type: vscode.FileType.Directory, ctime: 0, mtime: 0, size: 0 };
      const data = (await kvs.lookup(h, key, { namespace })).raw();
      const type = t.type === 'symlink' ? vscode.FileType.File | vscode.FileType.SymbolicLink : vscode.FileType.File;
      return { type, ctime: 0, mtime: stamp(data), size: data.length };
    });
  }

  readDirectory(uri: vscode.Uri): Promise<[string, vscode.FileType][]> {
    return this.run(uri, async (h, namespace, key) => {
      const dir = await kvs.KVSDir.open(h, key, { namespace });
      return dir.keys().map((n): [string, vscode.FileType] => [n, dir.isDir(n) ? vscode.FileType.Directory : vscode.FileType.File]);
    });
  }

  readFile(uri: vscode.Uri): Promise<Uint8Array> {
    return this.run(uri, async (h, namespace, key) => {
      if (key === '.') throw new FluxError(errno.EISDIR);
      return (await kvs.lookup(h, key, { namespace })).raw();
    });
  }

  private async exists(h: Flux, namespace: string, key: string): Promise<TreeObj | undefined> {
    try {
      return (await kvs.lookup(h, key, { namespace, flags: kvs.FLUX_KVS_TREEOBJ })).treeobj as TreeObj;
    } catch (e) {
      if (e instanceof FluxError && e.errnum === errno.ENOENT) return undefined;
      throw e;
    }
  }

  writeFile(uri: vscode.Uri, content: Uint8Array, options: { readonly create: boolean; readonly overwrite: boolean }): Promise<void> {
    return this.run(uri, async (h, namespace, key) => {
      if (key === '.') throw new FluxError(errno.EISDIR);
      const old = await this.exists(h, namespace, key);
      if (old && (old.type === 'dir' || old.type === 'dirref')) throw new FluxError(errno.EISDIR);
      if (!old && !options.create) throw new FluxError(errno.ENOENT);
      if (old && !options.overwrite) throw new FluxError(errno.EEXIST);
      await kvs.commit(h, new kvs.KvsTxn().putRaw(key, content), { namespace });
      this.changed.fire([{ type: old ? vscode.FileChangeType.Changed : vscode.FileChangeType.Created, uri }]);
    });
  }

  createDirectory(uri: vscode.Uri): Promise<void> {
    return this.run(uri, async (h, namespace, key) => {
      if (await this.exists(h, namespace, key)) throw new FluxError(errno.EEXIST);
      await kvs.commit(h, new kvs.KvsTxn().mkdir(key), { namespace });
      this.changed.fire([{ type: vscode.FileChangeType.Created, uri }]);
    });
  }

  delete(uri: vscode.Uri): Promise<void> {
    return this.run(uri, async (h, namespace, key) => {
      if (key === '.') throw new FluxError(errno.EPERM, 'the root directory cannot be removed');
      if (!(await this.exists(h, namespace, key))) throw new FluxError(errno.ENOENT);
      await kvs.commit(h, new kvs.KvsTxn().unlink(key), { namespace });
      this.changed.fire([{ type: vscode.FileChangeType.Deleted, uri }]);
    });
  }

  rename(oldUri: vscode.Uri, newUri: vscode.Uri, options: { readonly overwrite: boolean }): Promise<void> {
    return this.run(oldUri, async (h, namespace, key) => {
      const dst = parseKvsUri(newUri);
      if (!options.overwrite && (await this.exists(h, dst.namespace, dst.key))) throw new FluxError(errno.EEXIST);
      await kvs.move(h, key, dst.key, { srcNamespace: namespace, dstNamespace: dst.namespace });
      this.changed.fire([{ type: vscode.FileChangeType.Deleted, uri: oldUri }, { type: vscode.FileChangeType.Created, uri: newUri }]);
    });
  }

  /** Tell open editors that values may have changed (a commit seen by the refresh manager). */
  notifyChanged(uris: vscode.Uri[]): void {
    if (uris.length) this.changed.fire(uris.map((uri) => ({ type: vscode.FileChangeType.Changed, uri })));
  }

  dispose(): void {
    this.changed.dispose();
  }
}

export { KVS_SCHEME };
