/**
 * `flux resource drain [-f|--force]... [-u|--update] [-o FORMAT] [-n] [-i TARGETS] [-L[WHEN]] [TARGETS [REASON...]]`
 * and `flux resource undrain [-f|--force] TARGETS [REASON...]`, as flux-core
 * 0.88's flux-resource.py: drain sends `resource.drain {targets, reason?,
 * mode?}` (-u: update, -f: overwrite, -ff: force-overwrite) and without
 * targets lists the drained nodes (resource-status.ts, drain formats);
 * undrain sends `resource.undrain {targets, mode?: force, reason?}`.
 */
import { FluxError, errno } from '../common/libflux/errno';
import { Optparse, has, last } from '../common/liboptparse/optparse';
import { Exit, errln, open, parseOrExit } from './cli';
import { DRAIN_FORMATS, PROG, printStatus } from './resource-status';
import { FormatError } from './resource-format';

function colorArg(v: string | undefined): string {
  if (v === undefined) return 'auto';
  if (v === '') return 'always';
  if (!['never', 'always', 'auto'].includes(v)) {
    errln(`${PROG}: ERROR: argument -L/--color: invalid choice: '${v}' (choose from 'never', 'always', 'auto')`);
    throw new Exit(2);
  }
  return v;
}

export const COLOR_OPTION = { name: 'color', key: 'L', hasArg: 2 as const, arginfo: 'WHEN', usage: "Use color; WHEN can be 'never', 'always', or 'auto' (default)" };

export async function drainCmd(argv: string[]): Promise<void> {
  const p = new Optparse(`${PROG} drain`, [
    { name: 'force', key: 'f', usage: 'Force overwrite of existing drain reason. Specify twice to also update drain timestamp.' },
    { name: 'update', key: 'u', usage: 'Update only. Do not return an error if one or more targets are already drained. Do not overwrite any existing drain reason.' },
    { name: 'include', key: 'i', hasArg: 1, arginfo: 'TARGETS', usage: 'Include only specified targets in output set. TARGETS may be provided as an idset or hostlist.' },
    { name: 'queue', key: 'q', hasArg: 1, arginfo: 'QUEUE,...', usage: 'Include only specified queues in output' },
    { name: 'format', key: 'o', hasArg: 1, arginfo: 'FORMAT', usage: "Specify output format using Python's string format syntax or a defined format by name (only used when no drain targets specified)" },
    { name: 'no-header', key: 'n', usage: 'Suppress header output' },
    COLOR_OPTION,
  ], '[OPTIONS] [TARGETS] [REASON...]');
  const o = parseOrExit(p, argv);
  const [targets, ...reason] = o.args;
  const h = await open(PROG);
  try {
    if (targets === undefined) {
      await printStatus(h, {
        format: last(o, 'format') ?? 'default', formats: DRAIN_FORMATS, states: 'drain', include: last(o, 'include'),
        noHeader: has(o, 'no-header'), color: colorArg(last(o, 'color')), skipEmpty: true,
      });
      return;
    }
    const force = o.values.get('force')?.length ?? 0;
    if (has(o, 'update') && force > 0) {
      errln(`${PROG}: ERROR: Only one of --force and --update may be specified`);
      throw new Exit(1);
    }
    const payload: Record<string, unknown> = { targets };
    if (has(o, 'update')) payload.mode = 'update';
    else if (force === 1) payload.mode = 'overwrite';
    else if (force >= 2) payload.mode = 'force-overwrite';
    if (reason.length > 0) payload.reason = reason.join(' ');
    try {
      await h.rpc('resource.drain', payload, { nodeid: 0 }).get();
    } catch (e) {
      // flux-resource.py logs the OSError itself: "[Errno N] text"
      const n = e instanceof FluxError ? e.errnum : errno.EIO;
      errln(`${PROG}: ERROR: [Errno ${n}] ${e instanceof Error ? e.message : String(e)}`);
      if (n === errno.EEXIST) errln(`${PROG}: INFO: Use --force to overwrite existing drain reason`);
      throw new Exit(1);
    }
  } catch (e) {
    if (e instanceof FormatError) {
      errln(`${PROG}: ERROR: ${e.message}`);
      throw new Exit(1);
    }
    throw e;
  } finally {
    h.close();
  }
}

export async function undrainCmd(argv: string[]): Promise<void> {
  const p = new Optparse(`${PROG} undrain`, [
    { name: 'force', key: 'f', usage: 'Do not fail if any targets are not drained' },
  ], '[OPTIONS] TARGETS [REASON...]');
  const o = parseOrExit(p, argv);
  const [targets, ...reason] = o.args;
  if (targets === undefined) {
    errln(`usage: ${PROG} undrain [-h] [-f] targets ...`);
    errln(`${PROG} undrain: error: the following arguments are required: targets, reason`);
    throw new Exit(2);
  }
  const payload: Record<string, unknown> = { targets };
  if (has(o, 'force')) payload.mode = 'force';
  if (reason.length > 0) payload.reason = reason.join(' ');
  const h = await open(PROG);
  try {
    await h.rpc('resource.undrain', payload, { nodeid: 0 }).get();
  } catch (e) {
    errln(`${PROG}: ERROR: ${e instanceof Error ? e.message : String(e)}`);
    throw new Exit(1);
  } finally {
    h.close();
  }
}
