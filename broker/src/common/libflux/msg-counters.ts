/**
 * Messages sent and received by type: what every service's default
 * `<name>.stats-get` reports (`{"tx":{request,response,event,control},"rx":{...}}`).
 */
import { MSGTYPE_EVENT, MSGTYPE_REQUEST, MSGTYPE_RESPONSE } from './message';

export interface TypeCounts {
  request: number;
  response: number;
  event: number;
  control: number;
}

const zero = (): TypeCounts => ({ request: 0, response: 0, event: 0, control: 0 });

function bump(c: TypeCounts, type: number): void {
  if (type === MSGTYPE_REQUEST) c.request++;
  else if (type === MSGTYPE_RESPONSE) c.response++;
  else if (type === MSGTYPE_EVENT) c.event++;
  else c.control++;
}

export class MsgCounters {
  tx = zero();
  rx = zero();

  sent(type: number): void {
    bump(this.tx, type);
  }

  received(type: number): void {
    bump(this.rx, type);
  }

  clear(): void {
    this.tx = zero();
    this.rx = zero();
  }

  toJSON(): { tx: TypeCounts; rx: TypeCounts } {
    return { tx: { ...this.tx }, rx: { ...this.rx } };
  }
}

/** `<name>.rusage {"who"}`: getrusage(2) fields, as flux-core reports them. */
export function rusage(): Record<string, number> {
  const u = process.resourceUsage();
  return {
    utime: u.userCPUTime / 1e6,
    stime: u.systemCPUTime / 1e6,
    maxrss: u.maxRSS,
    ixrss: u.sharedMemorySize,
    idrss: u.unsharedDataSize,
    isrss: u.unsharedStackSize,
    minflt: u.minorPageFault,
    majflt: u.majorPageFault,
    nswap: u.swappedOut,
    inblock: u.fsRead,
    oublock: u.fsWrite,
    msgsnd: u.ipcSent,
    msgrcv: u.ipcReceived,
    nsignals: u.signalsCount,
    nvcsw: u.voluntaryContextSwitches,
    nivcsw: u.involuntaryContextSwitches,
  };
}
