/**
 * flux-sched's match commands (`sched-fluxion-resource.match {cmd}`, `flux
 * ion-resource match CMD`) on a Matcher: allocate now, allocate or reserve the
 * earliest window, dry runs now or in the future, satisfiability.
 */
import { errno, FluxError } from '../libflux/errno';
import { parseJobspec } from './jobspec';
import type { Matcher, MatchResult } from './match';

export interface MatchOutcome {
  status: 'ALLOCATED' | 'RESERVED' | 'MATCHED';
  match: MatchResult;
}

export type MatchCmd = 'allocate' | 'allocate_with_satisfiability' | 'allocate_orelse_reserve' | 'without_allocating' | 'without_allocating_future' | 'satisfiability';
export const MATCH_CMDS: MatchCmd[] = ['allocate', 'allocate_with_satisfiability', 'allocate_orelse_reserve', 'without_allocating', 'without_allocating_future', 'satisfiability'];

/**
 * flux-sched's match commands on a Matcher: EBUSY when nothing is free now (or
 * ever, for reserve), ENODEV when the graph could never hold the request.
 */
export function runMatch(m: Matcher, cmd: MatchCmd, jobid: bigint, jobspec: unknown, now: number): MatchOutcome {
  const req = parseJobspec(jobspec);
  const end = req.duration > 0 ? now + req.duration : Infinity;
  const t0 = performance.now();
  const sat = (): void => {
    if (!m.find(req.resources, 0, Infinity, true)) throw new FluxError(errno.ENODEV, 'Unsatisfiable request');
  };
  switch (cmd) {
    case 'satisfiability':
      sat();
      return { status: 'MATCHED', match: { vertices: [], nodes: new Map(), start: now, end } };
    case 'without_allocating': {
      const r = m.find(req.resources, now, end);
      if (!r) throw new FluxError(errno.EBUSY, 'Device or resource busy');
      return { status: 'MATCHED', match: r };
    }
    case 'without_allocating_future': {
      const r = m.findEarliest(req.resources, now, req.duration);
      if (!r) throw new FluxError(errno.EBUSY, 'Device or resource busy');
      return { status: 'MATCHED', match: r };
    }
    case 'allocate':
    case 'allocate_with_satisfiability': {
      const r = m.find(req.resources, now, end);
      if (!r) {
        if (cmd === 'allocate_with_satisfiability') {
          if (!m.find(req.resources, 0, Infinity, true)) throw new FluxError(errno.ENODEV, 'No such device');
        }
        throw new FluxError(errno.EBUSY, 'Device or resource busy');
      }
      m.commit(jobid, r, 'ALLOCATED', (performance.now() - t0) / 1000);
      return { status: 'ALLOCATED', match: r };
    }
    case 'allocate_orelse_reserve': {
      const r = m.findEarliest(req.resources, now, req.duration);
      if (!r) {
        sat();
        throw new FluxError(errno.EBUSY, 'Device or resource busy');
      }
      const state = r.start > now ? 'RESERVED' : 'ALLOCATED';
      m.commit(jobid, r, state, (performance.now() - t0) / 1000);
      return { status: state, match: r };
    }
    default:
      throw new FluxError(errno.EINVAL, `unknown match command: ${String(cmd)}`);
  }
}
