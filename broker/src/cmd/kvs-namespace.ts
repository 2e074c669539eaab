/**
 * `flux kvs namespace create|remove|list`, as flux-kvs.c's cmd_namespace_*.
 */
import { FluxError } from '../common/libflux/errno';
import { namespaceCreate, namespaceList, namespaceRemove, type NamespaceInfo } from '../common/libkvs/client';
import { out } from './cli';
import { PROG, dieErr, dieMsg, openHandle, opt, optparser, parseSub, usageExit, type Sub } from './kvs-common';

const CREATE: Sub = {
  name: 'create',
  usage: '[-o owner] [-r rootref] name [name...]',
  doc: 'Create a KVS namespace',
  options: [
    { name: 'owner', key: 'o', hasArg: 1, arginfo: '', usage: 'Specify alternate namespace owner via userid' },
    { name: 'rootref', key: 'r', hasArg: 1, arginfo: '', usage: 'Initialize namespace with specific root reference' },
  ],
};
const REMOVE: Sub = { name: 'remove', usage: 'name [name...]', doc: 'Remove a KVS namespace', options: [] };
const LIST: Sub = { name: 'list', usage: '', doc: 'List namespaces on local rank', options: [] };
const SUBS = [CREATE, REMOVE, LIST];
const PREFIX = `${PROG} namespace`;

/** The row `flux kvs namespace list` prints: printf("%-36s %10u 0x%08X\n"). */
export function namespaceRow(ns: string, owner: number, flags: number): string {
  return `${ns.padEnd(36)} ${String(owner >>> 0).padStart(10)} 0x${(flags >>> 0).toString(16).toUpperCase().padStart(8, '0')}\n`;
}

export const NAMESPACE_HEADER = 'NAMESPACE                                 OWNER      FLAGS\n';

function namespaceUsage(): string {
  const lines = [`Usage: ${PREFIX} [OPTIONS] COMMAND ARGS`, '  -h, --help             Display this message.', ''];
  for (const s of SUBS) lines.push(`   ${s.name.padEnd(15)} ${s.doc}`);
  return lines.join('\n') + '\n';
}

export async function cmdNamespace(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  const sub = SUBS.find((s) => s.name === cmd);
  if (!sub) {
    process.stderr.write(namespaceUsage());
    dieMsg('namespace: optparse_run_subcommand failed');
  }
  const p = optparser(sub, PREFIX);
  const o = parseSub(p, rest);
  if (sub === LIST) {
    if (o.args.length !== 0) usageExit(p);
    const h = await openHandle();
    let list: NamespaceInfo[];
    try {
      list = await namespaceList(h);
    } catch (e) {
      dieErr('flux_rpc_get_unpack', e);
    }
    out.write(NAMESPACE_HEADER);
    for (const n of list) out.write(namespaceRow(n.namespace, n.owner, n.flags));
    h.close();
    return;
  }
  if (o.args.length === 0) usageExit(p);
  let owner: number | undefined;
  const ostr = opt(o, 'owner');
  if (ostr !== undefined) {
    if (!/^\s*[+-]?\d*$/.test(ostr)) dieMsg('--owner requires an unsigned integer argument');
    owner = Number.parseInt(ostr, 10) || 0;
  }
  const h = await openHandle();
  for (const name of o.args) {
    try {
      if (sub === CREATE) await namespaceCreate(h, name, { owner, rootref: opt(o, 'rootref') });
      else await namespaceRemove(h, name);
    } catch (e) {
      // create reports the service's own text (future_strerror), remove only strerror
      if (sub === CREATE && e instanceof FluxError) dieMsg(`${name}: ${e.message}`);
      dieErr(name, e);
    }
  }
  h.close();
}
