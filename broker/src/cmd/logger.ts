/**
 * `flux logger [--severity LEVEL] [--appname NAME] message ...`: add an entry
 * to the broker's log. Like flux-core: the words are joined with spaces (stdin
 * is read when there are none), the rank comes from `attr.get rank`, and each
 * line goes out as a `log.append` request carrying the raw RFC 5424 line, with
 * matchtag 0 and no reply expected.
 */
import * as fs from 'node:fs';
import { FLAG_ROUTE, MSGTYPE_REQUEST, NODEID_ANY, newMessage, setRaw } from '../common/libflux/message';
import { encode, formatTimestamp, makePri, severityFromName } from '../common/libutil/stdlog';
import { Exit, die, errText, errln, open } from './cli';

const PROG = 'flux-logger';
const USAGE = 'Usage: flux-logger [--severity LEVEL] [--appname NAME] message ...';

function usage(): never {
  errln(USAGE);
  throw new Exit(1);
}

/** getopt_long for `hs:n:` / --help --severity --appname, stopping at the first non-option. */
function parse(argv: string[]): { severity: string | undefined; appname: string; words: string[] } {
  let severity: string | undefined;
  let appname = 'logger';
  let i = 0;
  const value = (flag: string, inline: string | undefined): string => {
    if (inline !== undefined) return inline;
    if (i + 1 >= argv.length) {
      errln(flag.startsWith('--') ? `${PROG}: option '${flag}' requires an argument` : `${PROG}: option requires an argument -- '${flag.slice(1)}'`);
      usage();
    }
    return argv[++i];
  };
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      i++;
      break;
    }
    const long = /^--([^=]+)(?:=(.*))?$/.exec(a);
    if (long) {
      const names = ['help', 'severity', 'appname'].filter((n) => n.startsWith(long[1]));
      const name = names.length === 1 || names.includes(long[1]) ? (names.includes(long[1]) ? long[1] : names[0]) : undefined;
      if (!name) {
        errln(`${PROG}: unrecognized option '${a}'`);
        usage();
      }
      if (name === 'help') usage();
      if (name === 'severity') severity = value(`--${name}`, long[2]);
      else appname = value(`--${name}`, long[2]);
      continue;
    }
    if (a.startsWith('-') && a.length > 1) {
      const k = a[1];
      const rest = a.length > 2 ? a.slice(2) : undefined;
      if (k === 'h') usage();
      if (k === 's') severity = value('-s', rest);
      else if (k === 'n') appname = value('-n', rest);
      else {
        errln(`${PROG}: invalid option -- '${k}'`);
        usage();
      }
      continue;
    }
    break;
  }
  return { severity, appname, words: argv.slice(i) };
}

export async function logger(argv: string[]): Promise<void> {
  const o = parse(argv);
  let severity = 5; // notice
  if (o.severity !== undefined) {
    severity = severityFromName(o.severity);
    if (severity < 0) die(PROG, 'invalid severity: Use emerg|alert|crit|err|warning|notice|info|debug');
  }
  const message = o.words.length > 0 ? o.words.join(' ') : fs.readFileSync(0, 'utf8');
  const h = await open(PROG);
  try {
    let rank: string;
    try {
      rank = String(await h.getRank());
    } catch (e) {
      die(PROG, `flux_log: ${errText(e)}`);
    }
    const lines = message.split(/[\r\n]+/).filter((l) => l.length > 0);
    for (const msg of lines.length > 0 ? lines : ['']) {
      const line = encode(
        {
          pri: makePri(severity),
          version: 1,
          timestamp: formatTimestamp(performance.timeOrigin + performance.now()),
          hostname: rank,
          appname: o.appname,
          procid: String(process.pid),
          msgid: '-',
        },
        msg,
      );
      const m = newMessage(MSGTYPE_REQUEST, 'log.append');
      m.flags |= FLAG_ROUTE;
      m.aux1 = NODEID_ANY;
      m.aux2 = 0; // no reply wanted (and, as flux-core, no NORESPONSE flag)
      setRaw(m, Buffer.from(line, 'utf8'));
      try {
        h.send(m);
      } catch (e) {
        die(PROG, `flux_log: ${errText(e)}`);
      }
    }
  } finally {
    h.close();
  }
}
