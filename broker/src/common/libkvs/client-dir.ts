/**
 * KVS directories for walking: flux_kvsdir_t and Python's flux.kvs.KVSDir. A KVSDir holds one
 * directory object read with READDIR; names come sorted by bytes as flux_kvsitr_next() gives
 * them, and entries below are looked up relative to the same snapshot when the directory came
 * from one, else in the namespace's current root (as flux-core's kvsdir does).
 */
import type { Flux } from '../libflux/handle';
import { compareKeysUtf8 } from './jansson';
import { FLUX_KVS_READDIR, lookup, type KvsLookupResult } from './client';
import * as treeobj from './treeobj';
import type { DirObj, TreeObj } from './treeobj';

/** flux_kvsdir_key_at(): the full key of `name` inside directory `key`. */
export function keyAt(dirKey: string, name: string): string {
  if (dirKey === '.') return name;
  return dirKey.endsWith('.') ? `${dirKey}${name}` : `${dirKey}.${name}`;
}

export interface WalkEntry {
  /** Full key of the directory ("." for the root). */
  path: string;
  directories: string[];
  files: string[];
}

export class KVSDir {
  constructor(
    readonly h: Flux,
    readonly key: string,
    readonly obj: DirObj,
    readonly opts: { namespace?: string; atRoot?: string } = {},
  ) {}

  /** Read directory `key` (default the root). */
  static async open(h: Flux, key = '.', opts: { namespace?: string; atRoot?: TreeObj | string } = {}): Promise<KVSDir> {
    const r = await lookup(h, key, { ...opts, flags: FLUX_KVS_READDIR });
    return r.dir();
  }

  get size(): number {
    return Object.keys(this.obj.data).length;
  }

  private entry(name: string): TreeObj | undefined {
    return treeobj.peekEntry(this.obj, name);
  }

  /** Every name, sorted (flux_kvsitr_next order). */
  keys(): string[] {
    return Object.keys(this.obj.data).sort(compareKeysUtf8);
  }

  has(name: string): boolean {
    return this.entry(name) !== undefined;
  }

  isDir(name: string): boolean {
    const t = this.entry(name)?.type;
    return t === 'dir' || t === 'dirref';
  }

  isSymlink(name: string): boolean {
    return this.entry(name)?.type === 'symlink';
  }

  /** Names that are not directories (values and symlinks), as KVSDir.files(). */
  files(): string[] {
    return this.keys().filter((n) => !this.isDir(n));
  }

  directories(): string[] {
    return this.keys().filter((n) => this.isDir(n));
  }

  /** The stored entry of `name`, unresolved (valref, dirref, symlink as they are). */
  treeobjOf(name: string): TreeObj | undefined {
    const e = this.entry(name);
    return e === undefined ? undefined : treeobj.deepCopy(e);
  }

  keyAt(name: string): string {
    return keyAt(this.key, name);
  }

  /** Look up an entry by name with `flags`, relative to this directory's snapshot if it has one. */
  lookup(name: string, flags = 0): Promise<KvsLookupResult> {
    const key = this.keyAt(name);
    return this.opts.atRoot !== undefined
      ? lookup(this.h, key, { flags, atRoot: this.opts.atRoot })
      : lookup(this.h, key, { flags, namespace: this.opts.namespace });
  }

  async subdir(name: string): Promise<KVSDir> {
    return (await this.lookup(name, FLUX_KVS_READDIR)).dir();
  }

  /** Like os.walk / flux.kvs.walk: this directory, then (topdown) each subdirectory, depth first. */
  async *walk(topdown = true): AsyncGenerator<WalkEntry> {
    const here: WalkEntry = { path: this.key, directories: this.directories(), files: this.files() };
    if (topdown) yield here;
    for (const d of here.directories) yield* (await this.subdir(d)).walk(topdown);
    if (!topdown) yield here;
  }
}
