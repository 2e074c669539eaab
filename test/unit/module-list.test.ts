import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadVectors } from './vectors';
import { formatModuleList, formatParsed } from '../../broker/src/cmd/module';

test('flux module list prints a recorded module.list reply exactly as flux-core did', () => {
  const v = loadVectors().get('module-list.json')!;
  const reply = v.messages.find((m) => m.dir === 's2c')!;
  const { mods } = JSON.parse(reply.decoded.payload_text!) as { mods: Parameters<typeof formatModuleList>[0] };
  assert.equal(formatModuleList(mods, false), v.output);
});

test('long format: services cut to 8 characters with +, then the path; idle over 99 s reads idle', () => {
  const text = formatModuleList([
    { name: 'content-sqlite', path: '/x/content-sqlite.so', idle: 0, status: 1, services: ['content-sqlite', 'content-backing'], sendqueue: 0, recvqueue: 0 },
    { name: 'overlay', path: 'builtin', idle: 120, status: 2, services: ['overlay'], sendqueue: 3, recvqueue: 12 },
  ], true);
  assert.equal(text, [
    'Module                    Idle  S Sendq Recvq Service  Path',
    'content-sqlite               0  R     0     0 content+ /x/content-sqlite.so',
    'overlay                   idle  F     3    12          builtin',
    '',
  ].join('\n'));
});

test('flux module stats --parse prints values as flux-core does', () => {
  const r = { tx: { request: 3 }, cache: { 'size': 1.5 }, name: 'x' };
  assert.equal(formatParsed(r, 'tx.request'), '3');
  assert.equal(formatParsed(r, 'tx.request', undefined, 'double'), '3.000000');
  assert.equal(formatParsed(r, 'cache.size', 2, 'int'), '3');
  assert.equal(formatParsed(r, 'name'), 'x');
  assert.equal(formatParsed(r, 'tx'), '{\n "request": 3\n}');
  assert.throws(() => formatParsed(r, 'kvs.size'), /^Error: `kvs\.size' not found in response$/);
});
