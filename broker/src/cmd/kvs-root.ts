/**
 * `flux kvs version|wait|getroot|sync`: the root of a namespace, as flux-kvs.c prints it.
 */
import { FLUX_KVS_SYNC, KvsTxn, commit, getVersion, getroot, rootTreeobj, waitVersion, type RootInfo } from '../common/libkvs/client';
import { out } from './cli';
import { NS_OPT, dieErr, dieMsg, hasOpt, openHandle, opt, optparser, parseSub, usageExit, type Sub } from './kvs-common';

const VERSION: Sub = { name: 'version', usage: '[-N ns]', doc: 'Display current KVS version', options: [NS_OPT] };
const WAIT: Sub = { name: 'wait', usage: '[-N ns] version', doc: 'Block until the KVS reaches version', options: [NS_OPT] };
const SYNC: Sub = { name: 'sync', usage: '[-N ns]', doc: 'sync content and checkpoint to disk', options: [NS_OPT] };
const GETROOT: Sub = {
  name: 'getroot',
  usage: '[-N ns] [-s|-o|-b]',
  doc: 'Get KVS root treeobj',
  options: [
    NS_OPT,
    { name: 'sequence', key: 's', usage: 'Show sequence number' },
    { name: 'owner', key: 'o', usage: 'Show owner' },
    { name: 'blobref', key: 'b', usage: 'Show blobref' },
  ],
};

export async function cmdVersion(argv: string[]): Promise<void> {
  const o = parseSub(optparser(VERSION), argv);
  const h = await openHandle();
  try {
    out.write(`${await getVersion(h, { namespace: opt(o, 'namespace') })}\n`);
  } catch (e) {
    dieErr('flux_kvs_get_version', e);
  }
  h.close();
}

/** strtoul(s, NULL, 10): leading digits, 0 when there are none (flux-kvs does not check). */
export function strtoul(s: string): number {
  const m = /^\s*\+?(\d+)/.exec(s);
  return m ? Number(m[1]) : 0;
}

export async function cmdWait(argv: string[]): Promise<void> {
  const p = optparser(WAIT);
  const o = parseSub(p, argv);
  if (o.args.length === 0) usageExit(p);
  if (o.args.length !== 1) dieMsg('wait: specify a version');
  const version = strtoul(o.args[0]);
  const h = await openHandle();
  try {
    await waitVersion(h, version, { namespace: opt(o, 'namespace') });
  } catch (e) {
    dieErr('flux_kvs_wait_version', e);
  }
  h.close();
}

export async function cmdGetroot(argv: string[]): Promise<void> {
  const p = optparser(GETROOT);
  const o = parseSub(p, argv);
  if (o.args.length !== 0) usageExit(p);
  const h = await openHandle();
  let r: RootInfo;
  try {
    r = await getroot(h, { namespace: opt(o, 'namespace') });
  } catch (e) {
    dieErr('flux_kvs_getroot', e);
  }
  if (hasOpt(o, 'owner')) out.write(`${r.owner >>> 0}\n`);
  else if (hasOpt(o, 'sequence')) out.write(`${r.rootseq}\n`);
  else if (hasOpt(o, 'blobref')) out.write(`${r.rootref}\n`);
  else out.write(`${rootTreeobj(r.rootref)}\n`);
  h.close();
}

/** An empty commit with FLUX_KVS_SYNC: the kvs module flushes the content store and checkpoints. */
export async function cmdSync(argv: string[]): Promise<void> {
  const p = optparser(SYNC);
  const o = parseSub(p, argv);
  if (o.args.length !== 0) usageExit(p);
  const h = await openHandle();
  try {
    await commit(h, new KvsTxn(), { namespace: opt(o, 'namespace'), flags: FLUX_KVS_SYNC });
  } catch (e) {
    dieErr('flux_kvs_commit', e);
  }
  h.close();
}
