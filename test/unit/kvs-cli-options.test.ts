/**
 * `flux kvs` option handling: help texts byte for byte against the flux-core 0.88 recordings,
 * getopt_long_only's treatment of `-word`, the lookup flags each get option sends, put's
 * key=value parsing, the terminal width rules, and the client's flag validation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { KvsUsageError, kvsGetopt, optparser, windowWidth } from '../../broker/src/cmd/kvs-common';
import { GET, PUT, getFlags, putTxn } from '../../broker/src/cmd/kvs-get';
import { DIR, LS } from '../../broker/src/cmd/kvs-ls';
import { strtoul } from '../../broker/src/cmd/kvs-root';
import { parseFSD } from '../../broker/src/cmd/kvs-eventlog';
import { kvsUsage } from '../../broker/src/cmd/kvs';
import { Exit } from '../../broker/src/cmd/cli';
import * as kvs from '../../broker/src/common/libkvs/client';

const REF = path.resolve(__dirname, '../../../shared/reference/flux-core-behaviour');

function recorded(file: string): string {
  const text = fs.readFileSync(path.join(REF, file), 'utf8');
  const m = /^\$ .*\n([\s\S]*?)^\[exit status/m.exec(text);
  assert.ok(m, file);
  return m[1];
}

test('subcommand help texts are the recorded ones, byte for byte', () => {
  assert.equal(optparser(GET).usage(), recorded('kvs-get-help.txt'));
  assert.equal(optparser(PUT).usage(), recorded('kvs-put-help.txt'));
  assert.equal(optparser(DIR).usage(), recorded('kvs-dir-help.txt'));
  assert.equal(optparser(LS).usage(), recorded('kvs-ls-help.txt'));
  assert.equal(kvsUsage(), recorded('kvs-help.txt'));
  assert.equal(kvsUsage(), recorded('kvs-noargs.txt'));
});

test('options parse as liboptparse\'s getopt_long: permuted, prefixes, its one error wording', () => {
  const ls = optparser(LS);
  const err = (argv: string[], p = ls): string => {
    try {
      kvsGetopt(p, argv);
    } catch (e) {
      if (e instanceof KvsUsageError) return e.message;
      throw e;
    }
    return 'no error';
  };
  // the recorded one: an unknown short option
  assert.equal(err(['-l', 'a.b']), "flux-kvs ls: unrecognized option '-l'");
  assert.equal(new KvsUsageError('flux-kvs ls', '-l').hint, "Try `flux-kvs ls --help' for more information.");
  // getopt runs silent; liboptparse names the option's key for any error getopt attaches one to
  assert.equal(err(['-Rl']), "flux-kvs ls: unrecognized option '-l'");
  assert.equal(err(['-w']), "flux-kvs ls: unrecognized option '-w'", 'missing argument');
  assert.equal(err(['--width']), "flux-kvs ls: unrecognized option '-w'", 'missing argument, long');
  assert.equal(err(['--recursive=yes']), "flux-kvs ls: unrecognized option '-R'", 'argument to a flag');
  assert.equal(err(['--bogus']), "flux-kvs ls: unrecognized option '--bogus'");
  assert.equal(err(['--w', 'k'], optparser(GET)), "flux-kvs get: unrecognized option '--w'", 'ambiguous: waitcreate, watch');
  assert.equal(err(['--d', 'k']), 'no error', 'a unique prefix: --directory');
  const parse = (argv: string[]): [Record<string, string[]>, string[]] => {
    const r = kvsGetopt(ls, argv);
    return [Object.fromEntries(r.values), r.args];
  };
  // options after arguments count (GNU permutation); -- ends them
  assert.deepEqual(parse(['a', '-R', 'b']), [{ recursive: [''] }, ['a', 'b']]);
  assert.deepEqual(parse(['-R1', '--', '-F']), [{ recursive: [''], '1': [''] }, ['-F']]);
  assert.deepEqual(parse(['-w40', '--wid=7', '-N', '-R', '-']), [{ width: ['40', '7'], namespace: ['-R'] }, ['-']]);
  assert.deepEqual(parse(['--rec', 'x']), [{ recursive: [''] }, ['x']]);
  const prev = process.env.POSIXLY_CORRECT;
  process.env.POSIXLY_CORRECT = '1';
  try {
    assert.deepEqual(parse(['a', '-R']), [{}, ['a', '-R']]);
  } finally {
    if (prev === undefined) delete process.env.POSIXLY_CORRECT;
    else process.env.POSIXLY_CORRECT = prev;
  }
});

test('get options map to flux-core\'s lookup flags', () => {
  const flags = (argv: string[]): number => getFlags(kvsGetopt(optparser(GET), argv));
  assert.equal(flags([]), 0);
  assert.equal(flags(['-t']), kvs.FLUX_KVS_TREEOBJ);
  assert.equal(flags(['-w']), kvs.FLUX_KVS_WATCH);
  assert.equal(flags(['-w', '-u', '-A', '-f']), 4 | 128 | 256 | 64);
  // the watch modifiers mean nothing without --watch, as in cmd_get_one()
  assert.equal(flags(['-u', '-A', '-f']), 0);
  assert.equal(flags(['-W']), kvs.FLUX_KVS_WAITCREATE);
  assert.equal(flags(['-S']), kvs.FLUX_KVS_STREAM);
});

test('put builds one transaction of every key=value; a missing = exits 1', () => {
  const ops = (argv: string[]): unknown => {
    const o = kvsGetopt(optparser(PUT), argv);
    return putTxn(o, o.args, () => Buffer.from('from stdin')).toOps();
  };
  assert.deepEqual(ops(['a.b.c=1', 'x=a=b', 'e=']), [
    { key: 'a.b.c', flags: 0, dirent: { ver: 1, type: 'val', data: 'MQ==' } },
    { key: 'x', flags: 0, dirent: { ver: 1, type: 'val', data: Buffer.from('a=b').toString('base64') } },
    { key: 'e', flags: 0, dirent: { ver: 1, type: 'val', data: '' } },
  ]);
  assert.deepEqual(ops(['-A', 'log=x']), [{ key: 'log', flags: kvs.FLUX_KVS_APPEND, dirent: { ver: 1, type: 'val', data: 'eA==' } }]);
  assert.deepEqual(ops(['-r', 'r=-']), [{ key: 'r', flags: 0, dirent: { ver: 1, type: 'val', data: Buffer.from('from stdin').toString('base64') } }]);
  // without -r, "-" is just a one-character value
  assert.deepEqual(ops(['v=-']), [{ key: 'v', flags: 0, dirent: { ver: 1, type: 'val', data: 'LQ==' } }]);
  assert.deepEqual(ops(['-t', 't={"data":"aGk=","type":"val","ver":1}']), [{ key: 't', flags: 0, dirent: { ver: 1, type: 'val', data: 'aGk=' } }]);
  const stderr = process.stderr.write;
  const said: string[] = [];
  process.stderr.write = ((s: string) => said.push(s) > 0) as typeof process.stderr.write;
  try {
    assert.throws(() => ops(['a=1', 'novalue']), (e: unknown) => e instanceof Exit && e.status === 1);
    assert.throws(() => ops(['-t', 'bad={"data":1}']), (e: unknown) => e instanceof Exit && e.status === 1);
  } finally {
    process.stderr.write = stderr;
  }
  assert.deepEqual(said, ['flux-kvs: put: you must specify a value as key=value\n', 'flux-kvs: bad: Protocol error\n']);
});

test('window width: -w wins, then the tty, then $COLUMNS (strtol), else 80', () => {
  assert.equal(windowWidth(0, true, 120, { COLUMNS: '50' }), 0);
  assert.equal(windowWidth(33, true, 120, {}), 33);
  assert.equal(windowWidth(-1, true, 120, { COLUMNS: '50' }), 120);
  assert.equal(windowWidth(-1, false, undefined, { COLUMNS: '50' }), 50);
  assert.equal(windowWidth(-1, false, undefined, { COLUMNS: 'wide' }), 0);
  assert.equal(windowWidth(-1, false, undefined, { COLUMNS: '-5' }), 80);
  assert.equal(windowWidth(-1, false, undefined, {}), 80);
});

test('wait VERSION is read with strtoul; wait-event -t takes an FSD', () => {
  assert.equal(strtoul('12'), 12);
  assert.equal(strtoul('12abc'), 12);
  assert.equal(strtoul('abc'), 0);
  assert.equal(parseFSD('1.5'), 1.5);
  assert.equal(parseFSD('2m'), 120);
  assert.equal(parseFSD('250ms'), 0.25);
  assert.equal(parseFSD('soon'), undefined);
});

test('client flag validation follows validate_lookup_flags()', () => {
  const ok = kvs.validateLookupFlags;
  assert.equal(ok(0, false), true);
  assert.equal(ok(kvs.FLUX_KVS_READDIR | kvs.FLUX_KVS_TREEOBJ, false), true);
  assert.equal(ok(kvs.FLUX_KVS_READDIR | kvs.FLUX_KVS_READLINK, true), false);
  assert.equal(ok(kvs.FLUX_KVS_WATCH, false), false, 'no watching a snapshot');
  assert.equal(ok(kvs.FLUX_KVS_WATCH | kvs.FLUX_KVS_WATCH_UNIQ, true), true);
  assert.equal(ok(kvs.FLUX_KVS_WATCH_UNIQ, true), false, 'modifiers need WATCH');
  assert.equal(ok(kvs.FLUX_KVS_WAITCREATE, false), false);
  assert.equal(ok(kvs.FLUX_KVS_WAITCREATE | kvs.FLUX_KVS_TREEOBJ, true), true);
  assert.equal(ok(1024, true), false);
  assert.equal(kvs.keyAt('.', 'a'), 'a');
  assert.equal(kvs.keyAt('a.b', 'c'), 'a.b.c');
  assert.equal(kvs.keyAt('a.', 'c'), 'a.c');
  assert.equal(kvs.rootTreeobj('sha1-c0a9faf907dda6216fd73bf81d0b3b21a1a8cb91'),
    '{"data":["sha1-c0a9faf907dda6216fd73bf81d0b3b21a1a8cb91"],"type":"dirref","ver":1}');
});

test('FLUX_KVS_NAMESPACE picks the default namespace', () => {
  const prev = process.env.FLUX_KVS_NAMESPACE;
  try {
    delete process.env.FLUX_KVS_NAMESPACE;
    assert.equal(kvs.defaultNamespace(), 'primary');
    process.env.FLUX_KVS_NAMESPACE = 'job-42';
    assert.equal(kvs.defaultNamespace(), 'job-42');
  } finally {
    if (prev === undefined) delete process.env.FLUX_KVS_NAMESPACE;
    else process.env.FLUX_KVS_NAMESPACE = prev;
  }
});
