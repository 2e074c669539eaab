/** The kvs module's load arguments (flux module load kvs ARGS), with flux-core's checks. */
import { errno, FluxError } from '../../common/libflux/errno';
import { parseFsd } from '../../common/libutil/fsd';

/** Seconds between checkpoints of the primary root when it changed (module option checkpoint-period). */
export const DEFAULT_CHECKPOINT_PERIOD = 30;

export interface Options {
  /** transaction-merge=0 applies every transaction on its own. */
  merge: boolean;
  checkpointPeriod: number;
}

export function parseArgs(args: string[]): Options {
  const o: Options = { merge: true, checkpointPeriod: DEFAULT_CHECKPOINT_PERIOD };
  for (const a of args) {
    if (a.startsWith('transaction-merge=')) {
      const v = a.slice(18);
      if (!/^[0-9]+$/.test(v)) throw new FluxError(errno.EINVAL);
      o.merge = Number(v) !== 0;
    } else if (a.startsWith('checkpoint-period=')) {
      try {
        o.checkpointPeriod = parseFsd(a.slice(18));
      } catch {
        throw new FluxError(errno.EINVAL, `invalid checkpoint-period: ${a.slice(18)}`);
      }
    } else {
      throw new FluxError(errno.EINVAL, `Unknown option \`${a}'`);
    }
  }
  return o;
}
