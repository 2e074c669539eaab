import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadVectors } from './vectors';
import { formatModuleList } from '../../broker/src/cmd/module';

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
