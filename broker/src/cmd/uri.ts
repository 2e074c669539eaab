/**
 * `flux uri [--remote|--local] [--wait] TARGET`: resolve TARGET to a Flux URI,
 * as flux-core's resolver does for `local://`, `ssh://` and `pid:PID`.
 */
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import { Exit, errln, out } from './cli';

const PROG = 'flux-uri';
const USAGE = `usage: ${PROG} [-h] [--remote] [--local] [--wait] TARGET`;

const PLUGINS: Record<string, string> = {
  pid: 'Get FLUX_URI for a given local PID',
};

function help(): string {
  return `${USAGE}

Resolve TARGET to a Flux URI

positional arguments:
  TARGET      A Flux jobid or URI in scheme:argument form (e.g. jobid:f1234)

options:
  -h, --help  show this help message and exit
  --remote    convert a local URI to remote
  --local     convert a remote URI to local
  --wait      wait for a URI to become available, if supported

Supported resolver schemes:
${Object.entries(PLUGINS).map(([k, v]) => `  ${k}\t\t${v}`).join('\n')}
`;
}

class ResolveError extends Error {}

function toRemote(uri: string): string {
  if (uri.startsWith('ssh://')) return uri;
  if (uri.startsWith('local://')) return `ssh://${os.hostname()}${uri.slice('local://'.length).replace(/\/+/g, '/')}`;
  throw new ResolveError(`Cannot convert JobURI with scheme ${uri.split(':')[0]} to remote`);
}

function toLocal(uri: string): string {
  if (uri.startsWith('local://')) return uri;
  const m = /^ssh:\/\/[^/]*(\/.*)$/.exec(uri);
  if (m) return `local://${m[1]}`;
  throw new ResolveError(`Cannot convert JobURI with scheme ${uri.split(':')[0]} to local`);
}

async function firstChild(pid: string): Promise<string> {
  for (const task of await fs.readdir(`/proc/${pid}/task`)) {
    try {
      const c = (await fs.readFile(`/proc/${pid}/task/${task}/children`, 'utf8')).split(' ')[0];
      if (c) return c;
    } catch {
      // task went away
    }
  }
  throw new ResolveError(`PID ${pid} is a flux-broker and no child can be found`);
}

async function resolvePid(arg: string): Promise<string> {
  let pid = arg.split('/')[0];
  if (!/^\d+$/.test(pid)) throw new ResolveError(`invalid PID '${pid}'`);
  let status: string;
  try {
    status = await fs.readFile(`/proc/${pid}/status`, 'utf8');
  } catch {
    throw new ResolveError(`[Errno 2] No such file or directory: '/proc/${pid}/status'`);
  }
  if (/flux-broker/.test(status.split('\t')[1] ?? '')) pid = await firstChild(pid);
  let environ: string;
  try {
    environ = await fs.readFile(`/proc/${pid}/environ`, 'utf8');
  } catch {
    throw new ResolveError(`[Errno 13] Permission denied: '/proc/${pid}/environ'`);
  }
  for (const kv of environ.split('\0')) {
    if (kv.startsWith('FLUX_URI=')) return kv.slice('FLUX_URI='.length);
  }
  throw new ResolveError(`PID ${pid} doesn't seem to have a FLUX_URI`);
}

export async function resolve(target: string): Promise<string> {
  const q = target.indexOf('?');
  const query = q >= 0 ? target.slice(q + 1).split('&') : [];
  const base = q >= 0 ? target.slice(0, q) : target;
  const colon = base.indexOf(':');
  const scheme = colon > 0 ? base.slice(0, colon) : 'jobid';
  if (scheme === 'local' || scheme === 'ssh') return target;
  if (query.includes('local') && query.includes('remote')) throw new ResolveError("Only one of 'local' or 'remote' is allowed");
  let uri: string;
  if (scheme === 'pid') uri = await resolvePid(base.slice(colon + 1));
  else throw new ResolveError(`No plugin for URI scheme ${scheme}`);
  if (query.includes('local')) return toLocal(uri);
  if (query.includes('remote')) return toRemote(uri);
  return uri;
}

export async function uri(argv: string[]): Promise<void> {
  let remote = false;
  let local = !!process.env.FLUX_URI_RESOLVE_LOCAL;
  let wait = false;
  const pos: string[] = [];
  for (const a of argv) {
    if (a === '-h' || a === '--help') {
      out.write(help());
      throw new Exit(0);
    } else if (a === '--remote') remote = true;
    else if (a === '--local') local = true;
    else if (a === '--wait') wait = true;
    else if (a.startsWith('-') && a !== '-') {
      errln(USAGE);
      errln(`${PROG}: error: unrecognized arguments: ${a}`);
      throw new Exit(2);
    } else pos.push(a);
  }
  if (pos.length === 0) {
    errln(USAGE);
    errln(`${PROG}: error: the following arguments are required: TARGET`);
    throw new Exit(2);
  }
  if (pos.length > 1) {
    errln(USAGE);
    errln(`${PROG}: error: unrecognized arguments: ${pos.slice(1).join(' ')}`);
    throw new Exit(2);
  }
  try {
    const target = wait ? `${pos[0]}?wait` : pos[0];
    const u = await resolve(target);
    out.write((remote ? toRemote(u) : local ? toLocal(u) : u) + '\n');
  } catch (e) {
    if (e instanceof ResolveError) {
      errln(`${PROG}: ERROR: ${e.message}`);
      throw new Exit(1);
    }
    throw e;
  }
}
