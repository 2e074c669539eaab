import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UsageError, last } from '../../broker/src/common/liboptparse/optparse';
import { PING_OPTIONS } from '../../broker/src/cmd/ping';
import { STATS_OPTIONS } from '../../broker/src/cmd/module';

const BEHAVIOUR = path.resolve(__dirname, '../../../shared/reference/flux-core-behaviour');

/** The printed part of a recording: between the `$` line and `[exit status: N]`. */
function recorded(file: string): string {
  const lines = fs.readFileSync(path.join(BEHAVIOUR, file), 'utf8').split('\n');
  return lines.slice(1, lines.findIndex((l) => l.startsWith('[exit status'))).join('\n') + '\n';
}

const ping = PING_OPTIONS;

test('usage text is laid out exactly as flux-core prints it (flux ping --help)', () => {
  assert.equal(ping.usage(), recorded('ping-help.txt'));
});

test('long, short, bundled and attached option forms', () => {
  const o = ping.parse(['-c5', '--pad', '3', '-bu', '--interval=0.5', '-r', '2', 'kvs', '-c', '9']);
  assert.equal(last(o, 'count'), '5');
  assert.equal(last(o, 'pad'), '3');
  assert.equal(last(o, 'interval'), '0.5');
  assert.equal(last(o, 'rank'), '2');
  assert.ok(o.values.has('batch') && o.values.has('userid'));
  assert.deepEqual(o.args, ['kvs', '-c', '9'], 'options stop at the first argument');
  assert.deepEqual(ping.parse(['--', '-c']).args, ['-c']);
  assert.equal(last(ping.parse(['--cou=4', 'x']), 'count'), '4', 'unique prefixes are accepted');
});

test('errors use getopt wording and the Try hint', () => {
  const err = (argv: string[]): [string, string] => {
    try {
      ping.parse(argv);
    } catch (e) {
      assert.ok(e instanceof UsageError);
      return [e.message, e.hint];
    }
    assert.fail('expected a usage error');
  };
  assert.deepEqual(err(['--bogus']), ["flux-ping: unrecognized option '--bogus'", "Try `flux-ping --help' for more information."]);
  assert.equal(err(['-z'])[0], "flux-ping: invalid option -- 'z'");
  assert.equal(err(['--count'])[0], "flux-ping: option '--count' requires an argument");
  assert.equal(err(['-c'])[0], "flux-ping: option requires an argument -- 'c'");
  assert.equal(err(['--batch=1'])[0], "flux-ping: option '--batch' doesn't allow an argument");
});

test('subcommand help with a description line matches flux module stats --help', () => {
  assert.equal(STATS_OPTIONS.usage(), recorded('module-stats-help.txt'));
});
