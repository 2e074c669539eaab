/**
 * `flux cancel [-m NOTE] [-q] JOBID...`: raise a `cancel` exception
 * (severity 0) on each job through job-manager.raise.
 */
import { jsonPayload, idJson } from '../common/libjob/rpc-json';
import { Optparse, has, last } from '../common/liboptparse/optparse';
import { Exit, die, open, parseOrExit } from './cli';
import { errMsg, jobIdArg } from './job-common';

const PROG = 'flux-cancel';

const OPTIONS = new Optparse(PROG, [
  { name: 'message', key: 'm', hasArg: 1, arginfo: 'NOTE', usage: 'Set cancel exception note' },
  { name: 'quiet', key: 'q', usage: 'Suppress output if no jobs match' },
], '[OPTIONS] [JOBID...]');

export async function cancel(argv: string[]): Promise<void> {
  const o = parseOrExit(OPTIONS, argv);
  if (o.args.length === 0) die(PROG, 'ERROR: no jobids specified');
  const ids = o.args.map((a) => {
    try {
      return jobIdArg(PROG, a);
    } catch (e) {
      die(PROG, `ERROR: ${errMsg(e).replace(`${PROG}: `, '')}`);
    }
  });
  const h = await open(PROG);
  let rc = 0;
  try {
    await Promise.all(ids.map(async (id, i) => {
      try {
        await h.rpc('job-manager.raise', jsonPayload({ id: idJson(id), type: 'cancel', severity: 0, note: last(o, 'message') ?? '' })).response();
      } catch (e) {
        if (!has(o, 'quiet')) process.stderr.write(`${PROG}: ${o.args[i]}: ${errMsg(e)}\n`);
        rc = 1;
      }
    }));
  } finally {
    h.close();
  }
  if (rc) throw new Exit(rc);
}
