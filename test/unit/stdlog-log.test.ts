import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decode,
  encode,
  formatTimestamp,
  makePri,
  parseTimestamp,
  severityFromName,
  severityName,
  severityOf,
} from '../../broker/src/common/libutil/stdlog';
import { BrokerLog, LogRing, formatStderr } from '../../broker/src/broker/log';
import { splitLines } from '../../broker/src/broker/log-service';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { last } from '../../broker/src/common/liboptparse/optparse';
import { DMESG_OPTIONS, DmesgPrinter, isoTimestamp, tzOffset } from '../../broker/src/cmd/dmesg';
import { loadVectors } from './vectors';

/** The RFC 5424 lines real flux-core 0.88 put on the wire (log.dmesg replies, log.append). */
function recordedLines(): string[] {
  const v = loadVectors();
  const lines: string[] = [];
  for (const f of ['dmesg.json', 'logger.json']) {
    for (const m of v.get(f)!.messages) {
      if (m.decoded.topic === 'log.dmesg' && m.dir === 's2c' && m.decoded.payload_text) lines.push(m.decoded.payload_text);
      if (m.decoded.topic === 'log.append') lines.push(m.decoded.payload_text!);
    }
  }
  return lines;
}

test('stdlog decodes every recorded line and re-encodes it byte for byte', () => {
  const lines = recordedLines();
  assert.ok(lines.length >= 5, 'recorded lines found');
  for (const line of lines) {
    const e = decode(line);
    assert.ok(e, line);
    assert.equal(e.version, 1);
    assert.equal(e.hostname, '0');
    assert.equal(e.msgid, '-');
    assert.equal(e.sd, '-');
    assert.match(e.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    assert.equal(encode(e, e.msg, e.sd), line);
  }
  const logger = decode(lines.find((l) => l.includes(' logger '))!)!;
  assert.deepEqual([logger.pri, severityOf(logger.pri), logger.appname, logger.procid, logger.msg], [40, 5, 'logger', '12862', 'hi']);
  const insmod = decode(lines[0])!;
  assert.deepEqual([insmod.pri, severityName(severityOf(insmod.pri)), insmod.appname, insmod.msg], [56, 'debug', 'broker', 'insmod config']);
});

test('stdlog: flux-core quirks (PRI = sev<<3, µs UTC timestamps, ASCII, trailing newlines, bad input)', () => {
  assert.equal(makePri(5), 40);
  assert.equal(makePri(7, 1), 57);
  assert.equal(severityFromName('WARNING'), 4);
  assert.equal(severityFromName('bogus'), -1);
  assert.equal(severityName(9), '-');
  const ms = Date.UTC(2026, 10, 24, 19, 42, 21, 399) + 0.725;
  assert.equal(formatTimestamp(ms), '2026-11-24T19:42:21.399725Z');
  assert.deepEqual(parseTimestamp('2026-11-24T19:42:21.399725Z'), { sec: Date.UTC(2026, 10, 24, 19, 42, 21) / 1000, usec: 399725 });
  assert.equal(parseTimestamp('-'), undefined);
  const hdr = { pri: 40, version: 1, timestamp: 'T', hostname: '3', appname: 'a', procid: '1', msgid: '-' };
  assert.equal(encode(hdr, 'caf\u00e9\r\n\n'), '<40>1 T 3 a 1 - - caf' + String.fromCharCode(0xc3 & 0x7f, 0xa9 & 0x7f));
  assert.equal(decode('not a log line'), undefined);
  assert.equal(decode('<40>1 T 3 a 1 - -'), undefined, 'no structured-data terminator');
  const sd = decode('<40>1 T 3 a 1 - [x a="b c"] msg with  spaces')!;
  assert.deepEqual([sd.sd, sd.msg], ['[x a="b c"]', 'msg with  spaces']);
  assert.deepEqual(splitLines('<40>1 T 3 a 1 - - one\ntwo\n'), ['<40>1 T 3 a 1 - - one', '<40>1 T 3 a 1 - - two']);
});

class FakeAttrs {
  readonly m = new Map<string, string>();
  get(n: string): string | undefined {
    return this.m.get(n);
  }
  setDefault(n: string, v: string): void {
    if (!this.m.has(n)) this.m.set(n, v);
  }
}

test('ring buffer: capacity, resize, zero size', () => {
  const r = new LogRing();
  for (let i = 0; i < 5; i++) r.push(`l${i}`, 3);
  assert.deepEqual(r.entries(), ['l2', 'l3', 'l4']);
  assert.equal(r.count, 5);
  r.trim(1);
  assert.deepEqual(r.entries(), ['l4']);
  r.push('x', 0);
  assert.equal(r.size, 0);
});

test('BrokerLog: levels, ring size, forwarding and followers follow the attributes', () => {
  const attrs = new FakeAttrs();
  attrs.m.set('log-ring-size', '4');
  const errs: string[] = [];
  const log = new BrokerLog(2, attrs, (s) => errs.push(s));
  assert.equal(attrs.get('log-level'), '7');
  assert.equal(attrs.get('log-forward-level'), '3');
  assert.equal(attrs.get('log-stderr-level'), '3');
  assert.equal(attrs.get('log-ring-size'), '4', 'a -S value is not overridden');
  const fwd: string[] = [];
  log.forward = (l) => fwd.push(l);
  const seen: string[] = [];
  const unsub = log.subscribe((l) => seen.push(l));
  log.debug('d1');
  log.err('e1\ne2');
  assert.equal(log.entries().length, 3);
  assert.match(log.entries()[0], /^<56>1 \S+Z 2 broker \d+ - - d1$/);
  assert.equal(fwd.length, 2, 'err lines go to the parent');
  assert.match(fwd[1], /^<24>1 \S+ 2 broker \d+ - - e2$/);
  assert.deepEqual(seen, log.entries());
  assert.deepEqual(errs, [], 'rank 2 echoes only critical lines');
  log.log(2, 'x', 'crit');
  assert.equal(errs.length, 1);
  assert.match(errs[0], /^\w{3} \d\d \d\d:\d\d:\d\d\.\d{6} \S+ \d{4} x\.crit\[2\]: crit\n$/);
  for (let i = 0; i < 10; i++) log.info(`i${i}`);
  assert.equal(log.entries().length, 4);
  attrs.m.set('log-level', '5');
  log.info('dropped');
  assert.ok(!log.entries().some((l) => l.endsWith(' dropped')));
  // A line of another rank is passed on, not kept, except on rank 0.
  log.append('<24>1 2026-11-24T19:42:21.399725Z 5 app 1 - - from five');
  assert.ok(fwd.at(-1)!.endsWith('from five'));
  assert.ok(!log.entries().some((l) => l.endsWith('from five')));
  unsub();
  log.err('after');
  assert.equal(seen.at(-1)!.endsWith('after'), false);

  const rootErrs: string[] = [];
  const root = new BrokerLog(0, new FakeAttrs(), (s) => rootErrs.push(s));
  root.forward = () => assert.fail('rank 0 has no parent');
  root.append('<24>1 2026-11-24T19:42:21.399725Z 5 app 1 - - from five');
  assert.ok(root.entries()[0].endsWith('from five'), 'rank 0 keeps forwarded lines');
  assert.match(rootErrs.at(-1)!, /app\.err\[5\]: from five\n$/);
});

test('BrokerLog: an entry logged while followers are notified is kept but not streamed (no loops)', () => {
  const log = new BrokerLog(0, new FakeAttrs(), () => {});
  let calls = 0;
  log.subscribe(() => {
    calls++;
    log.debug('logged from inside a follower');
  });
  log.debug('one');
  assert.equal(calls, 1);
  assert.equal(log.entries().length, 2);
});

test('dmesg formats: ISO local time with offset, Z as recorded, -H and -d', () => {
  const line = '<56>1 2026-11-24T17:55:17.350918Z 0 broker 12510 - - insmod config';
  const utc = tzOffset(new Date(Date.UTC(2026, 10, 24))) === 'Z';
  if (utc) assert.equal(new DmesgPrinter(false, false, false).format(line), '2026-11-24T17:55:17.350918Z broker.debug[0]: insmod config');
  else assert.match(isoTimestamp('2026-11-24T17:55:17.350918Z'), /^2026-11-2\dT\d\d:\d\d:17\.350918[+-]\d\d:\d\d$/);
  const h = new DmesgPrinter(true, false, false);
  const at = (t: string, msg: string): string => `<56>1 2026-11-24T17:55:${t}Z 0 broker 1 - - ${msg}`;
  const first = h.format(at('17.350918', 'a'));
  assert.match(first, /^\[Nov2\d \d\d:\d5\] broker\.debug\[0\]: a$/);
  assert.equal(h.format(at('17.351051', 'b')), '[  +0.000133] broker.debug[0]: b');
  assert.equal(h.format(at('17.351150', 'c')), '[  +0.000232] broker.debug[0]: c');
  const d = new DmesgPrinter(true, true, false);
  d.format(at('17.350918', 'a'));
  d.format(at('17.351051', 'b'));
  assert.equal(d.format(at('17.351150', 'c')), '[  +0.000099] broker.debug[0]: c');
  const c = new DmesgPrinter(false, false, true).format('<24>1 2026-11-24T17:55:17.350918Z 1 x 1 - - boom').replaceAll('\x1b', 'ESC');
  assert.match(c, /^ESC\[32m\S+ESC\[0m ESC\[33mx\.err\[1\]ESC\[0m: ESC\[31mboomESC\[0m$/);
  assert.equal(new DmesgPrinter(false, false, false).format('garbage'), 'garbage');
  assert.equal(formatStderr(line, false), 'broker.debug[0]: insmod config');
});

test('flux dmesg --help is the recorded text; -L takes an optional argument', () => {
  const file = path.resolve(__dirname, '../../../shared/reference/flux-core-behaviour/dmesg-help.txt');
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const recorded = lines.slice(1, lines.findIndex((l) => l.startsWith('[exit status'))).join('\n') + '\n';
  assert.equal(DMESG_OPTIONS.usage(), recorded);
  assert.equal(last(DMESG_OPTIONS.parse(['-L']), 'color'), '');
  assert.equal(last(DMESG_OPTIONS.parse(['-Lnever']), 'color'), 'never');
  assert.equal(last(DMESG_OPTIONS.parse(['--color=auto']), 'color'), 'auto');
  assert.deepEqual(DMESG_OPTIONS.parse(['--color', 'never']).args, ['never'], 'the long form needs `=`');
  const o = DMESG_OPTIONS.parse(['-Hdf']);
  assert.deepEqual([...o.values.keys()], ['human', 'delta', 'follow']);
});
