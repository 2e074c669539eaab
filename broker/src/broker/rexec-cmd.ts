/**
 * The command object of RFC 42 (`rexec.exec {"cmd": ...}`) and its validation,
 * as flux-core's cmd_fromjson() checks it.
 */
import { errno, FluxError } from '../common/libflux/errno';

/** The command object of RFC 42, as a client sends it. */
export interface CmdObject {
  cwd?: string;
  label?: string;
  cmdline: string[];
  env: Record<string, string>;
  opts: Record<string, string>;
  channels: string[];
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((s) => typeof s === 'string');
}

function isStringMap(v: unknown): v is Record<string, string> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((s) => typeof s === 'string');
}

/** Validate a command object (flux-core's cmd_fromjson()). */
export function parseCmd(o: unknown): CmdObject {
  const bad = (): never => {
    throw new FluxError(errno.EPROTO, 'error parsing command string');
  };
  if (typeof o !== 'object' || o === null) return bad();
  const c = o as Record<string, unknown>;
  if (!isStringArray(c.cmdline) || !isStringMap(c.env) || !isStringMap(c.opts) || !isStringArray(c.channels)) return bad();
  if (c.cwd !== undefined && typeof c.cwd !== 'string') return bad();
  if (c.label !== undefined && (typeof c.label !== 'string' || c.label === '')) return bad();
  const cmd: CmdObject = { cmdline: c.cmdline, env: c.env, opts: c.opts, channels: c.channels };
  if (typeof c.cwd === 'string') cmd.cwd = c.cwd;
  if (typeof c.label === 'string') cmd.label = c.label;
  return cmd;
}

/** `{pid, label?}` of rexec.kill / wait / attach, plus the integer fields each needs (`signum`, `flags`). */
export interface ProcRef {
  pid: number;
  label?: string;
  signum: number;
  flags: number;
}

/** Check a request naming a process, as flux-core's servers do ("invalid request payload"). */
export function parseProcRef(p: Record<string, unknown>, need: ('signum' | 'flags')[]): ProcRef {
  const ok = Number.isInteger(p.pid) && (p.label === undefined || typeof p.label === 'string') && need.every((k) => Number.isInteger(p[k]));
  if (!ok) throw new FluxError(errno.EPROTO, 'invalid request payload');
  return { pid: p.pid as number, label: p.label as string | undefined, signum: (p.signum as number) ?? 0, flags: (p.flags as number) ?? 0 };
}

/** The name rexec.list shows for a command: "flux" alone says little, so flux-core adds the subcommand. */
export function listName(cmdline: string[]): string {
  const name = cmdline[0];
  return name === 'flux' && cmdline.length > 1 ? `${name} ${cmdline[1]}`.slice(0, 63) : name;
}
