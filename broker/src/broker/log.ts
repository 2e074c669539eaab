/**
 * Broker log: RFC 5424-style entries kept in a ring buffer (what `flux dmesg`
 * reads), and echoed to stderr at or below `log-stderr-level`.
 */
export const LOG_EMERG = 0;
export const LOG_ALERT = 1;
export const LOG_CRIT = 2;
export const LOG_ERR = 3;
export const LOG_WARNING = 4;
export const LOG_NOTICE = 5;
export const LOG_INFO = 6;
export const LOG_DEBUG = 7;

const SEVERITY = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'];

export interface LogEntry {
  severity: number;
  timestamp: Date;
  rank: number;
  appname: string;
  message: string;
}

export class BrokerLog {
  private readonly ring: LogEntry[] = [];
  ringSize = 1024;
  stderrLevel = LOG_ERR;

  constructor(private readonly rank: number) {}

  log(severity: number, appname: string, message: string): void {
    for (const line of message.split('\n')) {
      const e: LogEntry = { severity, timestamp: new Date(), rank: this.rank, appname, message: line };
      this.ring.push(e);
      if (this.ring.length > this.ringSize) this.ring.shift();
      if (severity <= this.stderrLevel) {
        process.stderr.write(`flux-broker[${this.rank}]: ${appname}.${SEVERITY[severity] ?? severity}: ${line}\n`);
      }
    }
  }

  err(message: string): void {
    this.log(LOG_ERR, 'broker', message);
  }

  debug(message: string): void {
    this.log(LOG_DEBUG, 'broker', message);
  }

  entries(): readonly LogEntry[] {
    return this.ring;
  }
}
