/**
 * Fluxion's match policies: flux-sched's names for a few switches (which end
 * of the ids to prefer, node-centric scoring, node-exclusive allocation,
 * stopping at the first match), and custom strings such as
 * `policy=low node_exclusive=true`. `first` (the default) prefers the
 * highest ids, so a one-node job on 4 ranks lands on rank 3 first, as recorded.
 */
import { errno, FluxError } from '../libflux/errno';

export interface MatchPolicy {
  name: string;
  high: boolean;
  nodeCentric: boolean;
  nodeExclusive: boolean;
  stopOn1: boolean;
}

const NAMED: Record<string, string> = {
  first: 'policy=high node_centric=true stop_on_1_matches=true',
  firstnodex: 'policy=high node_centric=true node_exclusive=true stop_on_1_matches=true',
  high: 'policy=high',
  low: 'policy=low',
  lonode: 'policy=low node_centric=true',
  hinode: 'policy=high node_centric=true',
  lonodex: 'policy=low node_centric=true node_exclusive=true',
  hinodex: 'policy=high node_centric=true node_exclusive=true',
};
export const MATCH_POLICIES = Object.keys(NAMED);

/** The policy, or a FluxError(EINVAL) naming what is wrong. */
export function parsePolicy(name: string): MatchPolicy {
  const spec = NAMED[name] ?? name;
  const p: MatchPolicy = { name, high: false, nodeCentric: false, nodeExclusive: false, stopOn1: false };
  let dir: string | undefined;
  for (const opt of spec.split(' ').filter((s) => s !== '')) {
    const [k, v] = opt.split('=');
    if (k === 'policy') {
      if (v !== 'high' && v !== 'low') throw new FluxError(errno.EINVAL, 'policy key within custom policy accepts only low or high');
      dir = v;
    } else if (k === 'node_centric' || k === 'node_exclusive' || k === 'stop_on_1_matches') {
      if (v !== 'true' && v !== 'false') throw new FluxError(errno.EINVAL, `Policy option ${k} requires true or false, got ${v ?? ''}`);
      const b = v === 'true';
      if (k === 'node_centric') p.nodeCentric = b;
      else if (k === 'node_exclusive') p.nodeExclusive = b;
      else p.stopOn1 = b;
    } else {
      throw new FluxError(errno.EINVAL, `invalid policy option: ${k}`);
    }
  }
  if (!dir) throw new FluxError(errno.EINVAL, `invalid policy option: ${name}`);
  p.high = dir === 'high';
  return p;
}
