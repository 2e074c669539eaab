/**
 * A `log.append` request carrying one RFC 5424 line, as flux_log() sends it:
 * how a module (or the module host speaking for a module that cannot) puts a
 * line in its broker's ring, under its own app name, so `flux dmesg` shows
 * `NAME.err[RANK]: text`.
 */
import { FLAG_NORESPONSE, MSGTYPE_REQUEST, newMessage, setRaw, type Message } from '../common/libflux/message';
import { encode, formatTimestamp, makePri } from '../common/libutil/stdlog';

export function logAppend(rank: number, severity: number, appname: string, text: string): Message {
  const line = encode({
    pri: makePri(severity),
    version: 1,
    timestamp: formatTimestamp(performance.timeOrigin + performance.now()),
    hostname: String(rank),
    appname,
    procid: String(process.pid),
    msgid: '-',
  }, text);
  const m = newMessage(MSGTYPE_REQUEST, 'log.append');
  m.flags |= FLAG_NORESPONSE;
  setRaw(m, Buffer.from(line, 'utf8'));
  return m;
}
