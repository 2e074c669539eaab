import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FluxError } from '../../broker/src/common/libflux/errno';
import { ROLE_LOCAL, ROLE_OWNER, ROLE_USER } from '../../broker/src/common/libflux/message';
import { applyDebugOp, formatDebugFlags, strtoul } from '../../broker/src/module/debug-flags';
import { DEBUG_OPTIONS, debugRequest } from '../../broker/src/cmd/module';
import { ExtraServices, checkServiceAdd } from '../../broker/src/broker/module-services';

const errnumOf = (f: () => unknown): number => {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof FluxError, String(e));
    return e.errnum;
  }
  assert.fail('did not throw');
};

test('debug ops as libflux/method.c: setbit, clrbit, set, clr; both keys required', () => {
  assert.equal(applyDebugOp(0, { op: 'setbit', flags: 0 }), 0, 'setbit 0 is the read-only query');
  assert.equal(applyDebugOp(1, { op: 'setbit', flags: 4 }), 5);
  assert.equal(applyDebugOp(5, { op: 'clrbit', flags: 1 }), 4);
  assert.equal(applyDebugOp(5, { op: 'set', flags: 0x10 }), 0x10);
  assert.equal(applyDebugOp(5, { op: 'clr', flags: 99 }), 0);
  assert.equal(applyDebugOp(0, { op: 'set', flags: 0xffffffff }), -1, 'a C int: 32 bits, signed');
  assert.equal(errnumOf(() => applyDebugOp(0, { flags: 1 })), 71);
  assert.equal(errnumOf(() => applyDebugOp(0, { op: 'setbit' })), 71);
  assert.equal(errnumOf(() => applyDebugOp(0, { op: 'toggle', flags: 1 })), 71);
  assert.equal(errnumOf(() => applyDebugOp(0, { op: 'set', flags: 1.5 })), 71);
});

test('flux module debug parses MASK/BIT like strtoul(s, NULL, 0) and prints 0x%x', () => {
  assert.deepEqual(['0x1f', '017', '12', '12abc', 'zz', '', '0x', '-1', '4294967295'].map(strtoul), [31, 15, 12, 12, 0, 0, 0, -1, -1]);
  assert.equal(formatDebugFlags(0), '0x0');
  assert.equal(formatDebugFlags(-1), '0xffffffff');
  assert.equal(formatDebugFlags(0xfffffffe | 0), '0xfffffffe');
});

test('flux module debug picks the op as flux-core: -C, then -S, then -c, then -s, else a read', () => {
  const req = (argv: string[]): { op: string; flags: number } => debugRequest(DEBUG_OPTIONS.parse([...argv, 'kvs']));
  assert.deepEqual(req([]), { op: 'setbit', flags: 0 });
  assert.deepEqual(req(['-s', '4']), { op: 'setbit', flags: 4 });
  assert.deepEqual(req(['-c', '0x2', '-s', '4']), { op: 'clrbit', flags: 2 });
  assert.deepEqual(req(['-S', '7', '-c', '1']), { op: 'set', flags: 7 });
  assert.deepEqual(req(['-C', '-S', '7']), { op: 'clr', flags: 0 });
  assert.equal(DEBUG_OPTIONS.usage(), [
    'Usage: flux-module debug [OPTIONS] module',
    'Get/set module debug flags',
    '  -h, --help             Display this message.',
    '  -C, --clear            Set debug flags to 0',
    '  -S, --set              Set debug flags to MASK',
    '  -s, --setbit           Set one debug flag to 1',
    '  -c, --clearbit         Set one debug flag to 0',
    '',
  ].join('\n'));
});

test('service.add rules: local peers only, guests only UID- names, one owner per name', () => {
  assert.equal(checkServiceAdd('foo', 1000, ROLE_OWNER | ROLE_LOCAL), 'foo');
  assert.equal(checkServiceAdd('1001-foo', 1001, ROLE_USER | ROLE_LOCAL), '1001-foo');
  assert.equal(errnumOf(() => checkServiceAdd('foo', 1001, ROLE_USER | ROLE_LOCAL)), 1);
  assert.equal(errnumOf(() => checkServiceAdd('1000-foo', 1001, ROLE_USER | ROLE_LOCAL)), 1);
  assert.equal(errnumOf(() => checkServiceAdd('foo', 1000, ROLE_OWNER)), 2, 'not local: arrived over the TBON');
  assert.equal(errnumOf(() => checkServiceAdd(3, 1000, ROLE_OWNER | ROLE_LOCAL)), 71);
  assert.equal(errnumOf(() => checkServiceAdd('a.b', 1000, ROLE_OWNER | ROLE_LOCAL)), 22);
  const x = new ExtraServices();
  x.add({ name: 'foo', owner: 'u1', kind: 'client' });
  x.add({ name: 'bar', owner: 'u1', kind: 'client' });
  assert.equal(errnumOf(() => x.add({ name: 'foo', owner: 'u2', kind: 'client' })), 17);
  assert.equal(errnumOf(() => x.remove('foo', 'u2')), 22);
  assert.equal(errnumOf(() => x.remove('nope', 'u1')), 2);
  assert.deepEqual(x.ownedBy('u1'), ['foo', 'bar']);
  x.remove('foo', 'u1');
  x.dropOwner('u1');
  assert.equal(x.get('bar'), undefined);
  assert.equal(x.isOwner('u1'), false);
});
