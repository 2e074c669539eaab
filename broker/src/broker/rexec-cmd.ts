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
