/** Flux connector URIs: `local://PATH` and `ssh://[user@]host[:port]/PATH`. */
import { errno, FluxError } from './errno';

export type ParsedUri =
  | { scheme: 'local'; path: string }
  | { scheme: 'ssh'; user?: string; host: string; port?: string; path: string };

export function parseUri(uri: string): ParsedUri {
  const m = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/i.exec(uri);
  if (!m) throw new FluxError(errno.EINVAL, `${uri}: not a Flux URI (expected local://PATH or ssh://HOST/PATH)`);
  const scheme = m[1].toLowerCase();
  const rest = m[2].replace(/\?.*$/, '');
  if (scheme === 'local') {
    if (!rest.startsWith('/')) throw new FluxError(errno.EINVAL, `${uri}: local:// needs an absolute socket path`);
    return { scheme: 'local', path: rest.replace(/\/+/g, '/') };
  }
  if (scheme === 'ssh') {
    const slash = rest.indexOf('/');
    if (slash <= 0) throw new FluxError(errno.EINVAL, `${uri}: ssh:// needs a host and a socket path`);
    const auth = rest.slice(0, slash);
    const path = rest.slice(slash).replace(/\/+/g, '/');
    const at = auth.lastIndexOf('@');
    const user = at >= 0 ? auth.slice(0, at) : undefined;
    const hostport = at >= 0 ? auth.slice(at + 1) : auth;
    const pm = /^(.*?)(?::(\d+))?$/.exec(hostport)!;
    return { scheme: 'ssh', user, host: pm[1], port: pm[2], path };
  }
  throw new FluxError(errno.EINVAL, `${uri}: unsupported connector scheme '${scheme}'`);
}

/** The URI a client uses when none is given: $FLUX_URI, else the system instance. */
export function defaultUri(): string {
  return process.env.FLUX_URI || 'local:///run/flux/local';
}
