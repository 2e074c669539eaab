/**
 * `overlay.trace`: a streaming request that gets one response per message this
 * broker sends (`tx`) or receives (`rx`) on the TBON, as flux-core's broker
 * trace does. Request `{typemask, topic_glob, nodeid?, full?}`; each response
 * `{timestamp, prefix, rank, type, topic, payload_size, payload?, errnum,
 * errstr}` where `rank` is the overlay peer (-1 when not known yet).
 */
import { errno, FluxError } from '../common/libflux/errno';
import { FLAG_STREAMING, MSGTYPE_CONTROL, MSGTYPE_RESPONSE, getJson, getString, type Message } from '../common/libflux/message';
import type { Responder } from './service';

/** fnmatch(3) without flags: `*`, `?`, `[...]` (with `!`/`^` negation and ranges), `\` escapes. */
export function globMatch(glob: string, s: string): boolean {
  let re = '^';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '\\' && i + 1 < glob.length) re += escapeRe(glob[++i]);
    else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) {
        re += '\\[';
        continue;
      }
      let body = glob.slice(i + 1, end);
      if (body.startsWith('!') || body.startsWith('^')) body = '^' + body.slice(1);
      re += `[${body.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else re += escapeRe(c);
  }
  return new RegExp(re + '$', 's').test(s);
}

function escapeRe(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** flux-core's numbering of subtree states in its status control messages. */
const STATUS_NUMBER: Record<string, number> = { full: 1, partial: 2, degraded: 3, lost: 4, offline: 5 };

/**
 * Our link upkeep travels as no-response requests where flux-core sends control
 * messages; trace them as flux-core shows those (`c status 1`, `c heartbeat 0`,
 * `c disconnect 0`) so `-t control` finds them.
 */
export function controlView(m: Message): string | undefined {
  switch (m.topic) {
    case 'overlay.status': {
      let status: number;
      try {
        status = STATUS_NUMBER[String(getJson<{ status?: unknown }>(m).status)] ?? 0;
      } catch {
        status = 0; // unreadable: flux-core's "unknown" status
      }
      return `status ${status}`;
    }
    case 'overlay.keepalive':
      return 'heartbeat 0';
    case 'overlay.lost':
      return 'disconnect 0';
    default:
      return undefined;
  }
}

interface Tracer {
  r: Responder;
  typemask: number;
  glob: string;
  nodeid: number;
  full: boolean;
}

export type TracePrefix = 'tx' | 'rx';

export class OverlayTrace {
  private tracers: Tracer[] = [];
  /** Rank of the parent broker (undefined on rank 0). */
  parentRank: number | undefined;
  /** Rank of the child with this uuid, if known. */
  rankOf: (uuid: string) => number | undefined = () => undefined;

  get active(): boolean {
    return this.tracers.length > 0;
  }

  /** The `overlay.trace` request handler. */
  request(r: Responder): void {
    const p = r.json<{ typemask?: unknown; topic_glob?: unknown; nodeid?: unknown; full?: unknown }>();
    if (typeof p.typemask !== 'number' || typeof p.topic_glob !== 'string') throw new FluxError(errno.EPROTO);
    if (!(r.msg.flags & FLAG_STREAMING)) throw new FluxError(errno.EPROTO);
    this.tracers.push({
      r,
      typemask: p.typemask,
      glob: p.topic_glob,
      nodeid: typeof p.nodeid === 'number' ? p.nodeid : -1,
      full: p.full === true || p.full === 1,
    });
  }

  /** Drop the trace requests of a client that went away (overlay.disconnect). */
  disconnect(sender: string): void {
    this.tracers = this.tracers.filter((t) => t.r.msg.routes.join('/') !== sender);
  }

  /** Drop tracers whose client is gone. */
  prune(gone: (m: Message) => boolean): void {
    this.tracers = this.tracers.filter((t) => !gone(t.r.msg));
  }

  /** A message crossed the overlay: `peer` is the child's uuid, or undefined for the parent. */
  record(prefix: TracePrefix, peer: string | undefined, m: Message): void {
    if (this.tracers.length === 0) return;
    // The tracers' own responses would otherwise trace themselves without end.
    if (m.topic === 'overlay.trace') return;
    const control = controlView(m);
    const type = control !== undefined ? MSGTYPE_CONTROL : m.type;
    const topic = control ?? m.topic ?? '';
    const rank = peer === undefined ? this.parentRank ?? -1 : this.rankOf(peer) ?? -1;
    const errnum = type === MSGTYPE_RESPONSE ? m.aux1 : 0;
    const size = errnum > 0 || control !== undefined ? 0 : m.payload?.length ?? 0;
    const now = Date.now() / 1000;
    for (const t of this.tracers) {
      if (!(t.typemask & type)) continue;
      if (t.nodeid !== -1 && t.nodeid !== rank) continue;
      if (!globMatch(t.glob, topic)) continue;
      let payload: unknown;
      if (t.full && errnum === 0 && size > 0) {
        try {
          // JSON payloads travel with a trailing NUL (RFC 3 string convention).
          payload = JSON.parse(m.payload!.toString('utf8').replace(/\0$/, ''));
        } catch {
          payload = undefined; // only JSON payloads are shown
        }
      }
      const errstr = t.full && errnum > 0 ? getString(m) ?? '' : '';
      const resp: Record<string, unknown> = { timestamp: now, prefix, rank, type, topic, payload_size: size, errnum, errstr };
      if (payload !== undefined) resp.payload = payload;
      t.r.respond(resp);
    }
  }
}
