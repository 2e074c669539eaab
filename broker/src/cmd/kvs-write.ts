/**
 * `flux kvs unlink|link|readlink|mkdir|copy|move`, as flux-kvs.c's commands of those names.
 */
import { FluxError, errno } from '../common/libflux/errno';
import type { Flux } from '../common/libflux/handle';
import type { TreeObj } from '../common/libkvs/treeobj';
import {
  FLUX_KVS_READDIR, FLUX_KVS_READLINK, FLUX_KVS_TREEOBJ, KvsTxn, commit, copy, lookup, move,
} from '../common/libkvs/client';
import { out } from './cli';
import {
  NS_OPT, commitFinish, dieErr, dieMsg, errnoExtra, hasOpt, openHandle, opt, optparser, parseSub, rootOutputOptions,
  usageExit, type Sub,
} from './kvs-common';

const UNLINK: Sub = {
  name: 'unlink',
  usage: '[-N ns] [-O|-b|-s] [-R] [-f] key [key...]',
  doc: 'Remove key',
  options: [
    NS_OPT,
    ...rootOutputOptions('unlinks'),
    { name: 'recursive', key: 'R', usage: 'Remove directory contents recursively' },
    { name: 'force', key: 'f', usage: 'ignore nonexistent files' },
  ],
};

const LINK: Sub = {
  name: 'link',
  usage: '[-N ns] [-T ns] [-O|-b|-s] target linkname',
  doc: 'Create a new name for target',
  options: [
    { name: 'namespace', key: 'N', hasArg: 1, arginfo: '', usage: "Specify link's namespace." },
    { name: 'target-namespace', key: 'T', hasArg: 1, arginfo: '', usage: "Specify target's namespace" },
    ...rootOutputOptions('link'),
  ],
};

const READLINK: Sub = {
  name: 'readlink',
  usage: '[-N ns] [-a treeobj] [ -o | -k ] key [key...]',
  doc: 'Retrieve the key a link refers to',
  options: [
    NS_OPT,
    { name: 'at', key: 'a', hasArg: 1, arginfo: '', usage: 'Lookup relative to RFC 11 snapshot reference' },
    { name: 'namespace-only', key: 'o', usage: 'Output only namespace if link points to a namespace' },
    { name: 'key-only', key: 'k', usage: 'Output only key if link points to a namespace' },
  ],
};

const MKDIR: Sub = {
  name: 'mkdir',
  usage: '[-N ns] [-O|-b|-s] key [key...]',
  doc: 'Create a directory',
  options: [NS_OPT, ...rootOutputOptions('new directory')],
};

const copyOptions = [
  { name: 'src-namespace', key: 'S', hasArg: 1 as const, arginfo: '', usage: "Specify source key's namespace" },
  { name: 'dst-namespace', key: 'D', hasArg: 1 as const, arginfo: '', usage: "Specify destination key's namespace" },
];
const COPY: Sub = { name: 'copy', usage: '[-S src-ns] [-D dst-ns] source destination', doc: 'Copy source key to destination key', options: copyOptions };
const MOVE: Sub = { name: 'move', usage: '[-S src-ns] [-D dst-ns] source destination', doc: 'Move source key to destination key', options: copyOptions };

/**
 * unlink_safety_check(): a missing key is an error unless -f; a non-empty directory needs -R
 * (ENOTEMPTY); values and symlinks can always go. Returns whether the key is to be unlinked.
 */
async function unlinkable(h: Flux, key: string, ns: string | undefined, recursive: boolean, force: boolean): Promise<boolean> {
  let obj: TreeObj;
  try {
    obj = (await lookup(h, key, { namespace: ns, flags: FLUX_KVS_TREEOBJ })).treeobj;
  } catch (e) {
    if (force && e instanceof FluxError && e.errnum === errno.ENOENT) return false;
    throw e;
  }
  if (!recursive) {
    if (obj.type === 'dir' && Object.keys(obj.data).length > 0) throw new FluxError(errnoExtra.ENOTEMPTY);
    if (obj.type === 'dirref') {
      // a dirref has to be read to know whether it is empty
      const dir = (await lookup(h, key, { namespace: ns, flags: FLUX_KVS_READDIR })).dir();
      if (dir.size > 0) throw new FluxError(errnoExtra.ENOTEMPTY);
    }
  }
  return true;
}

export async function cmdUnlink(argv: string[]): Promise<void> {
  const p = optparser(UNLINK);
  const o = parseSub(p, argv);
  if (o.args.length === 0) usageExit(p);
  const ns = opt(o, 'namespace');
  const h = await openHandle();
  const txn = new KvsTxn();
  for (const key of o.args) {
    let ok: boolean;
    try {
      ok = await unlinkable(h, key, ns, hasOpt(o, 'recursive'), hasOpt(o, 'force'));
    } catch (e) {
      dieErr(`cannot unlink '${key}'`, e);
    }
    if (ok) {
      try {
        txn.unlink(key);
      } catch (e) {
        dieErr(key, e);
      }
    }
  }
  try {
    commitFinish(o, await commit(h, txn, { namespace: ns }));
  } catch (e) {
    dieErr('flux_kvs_commit', e);
  }
  h.close();
}

export async function cmdLink(argv: string[]): Promise<void> {
  const p = optparser(LINK);
  const o = parseSub(p, argv);
  if (o.args.length === 0) usageExit(p);
  if (o.args.length !== 2) dieMsg('link: specify target and link_name');
  const [target, linkname] = o.args;
  const h = await openHandle();
  const txn = new KvsTxn();
  try {
    txn.symlink(linkname, target, opt(o, 'target-namespace'));
  } catch (e) {
    dieErr(linkname, e);
  }
  try {
    commitFinish(o, await commit(h, txn, { namespace: opt(o, 'namespace') }));
  } catch (e) {
    dieErr('flux_kvs_commit', e);
  }
  h.close();
}

export async function cmdReadlink(argv: string[]): Promise<void> {
  const p = optparser(READLINK);
  const o = parseSub(p, argv);
  if (o.args.length === 0) usageExit(p);
  const at = opt(o, 'at');
  const h = await openHandle();
  for (const key of o.args) {
    let link: { namespace?: string; target: string };
    try {
      const r = await lookup(h, key, at !== undefined
        ? { flags: FLUX_KVS_READLINK, atRoot: at }
        : { flags: FLUX_KVS_READLINK, namespace: opt(o, 'namespace') });
      link = r.symlink();
    } catch (e) {
      dieErr(key, e);
    }
    if (hasOpt(o, 'namespace-only') && link.namespace !== undefined) out.write(`${link.namespace}\n`);
    else if (hasOpt(o, 'key-only')) out.write(`${link.target}\n`);
    else out.write(link.namespace !== undefined ? `${link.namespace}::${link.target}\n` : `${link.target}\n`);
  }
  h.close();
}

export async function cmdMkdir(argv: string[]): Promise<void> {
  const p = optparser(MKDIR);
  const o = parseSub(p, argv);
  if (o.args.length === 0) usageExit(p);
  const h = await openHandle();
  const txn = new KvsTxn();
  for (const key of o.args) {
    try {
      txn.mkdir(key);
    } catch (e) {
      dieErr(key, e);
    }
  }
  try {
    commitFinish(o, await commit(h, txn, { namespace: opt(o, 'namespace') }));
  } catch (e) {
    dieErr('kvs_commit', e);
  }
  h.close();
}

export async function cmdCopy(argv: string[], isMove: boolean): Promise<void> {
  const name = isMove ? 'move' : 'copy';
  const p = optparser(isMove ? MOVE : COPY);
  const o = parseSub(p, argv);
  if (o.args.length !== 2) {
    dieMsg(`${name}: specify srckey dstkey`);
  }
  const [src, dst] = o.args;
  const h = await openHandle();
  const opts = { srcNamespace: opt(o, 'src-namespace'), dstNamespace: opt(o, 'dst-namespace') };
  try {
    await (isMove ? move(h, src, dst, opts) : copy(h, src, dst, opts));
  } catch (e) {
    dieErr(isMove ? 'flux_kvs_move' : 'flux_kvs_copy', e);
  }
  h.close();
}
