/** Who may use the content module (access.ts): the owner role, whatever else the mask holds. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ROLE_ADMIN, ROLE_LOCAL, ROLE_NONE, ROLE_OWNER, ROLE_USER } from '../../broker/src/common/libflux/message';
import { errno } from '../../broker/src/common/libflux/errno';
import { ownerMay, requireOwnerRole } from '../../broker/src/modules/content/access';

test('the owner role passes, with or without LOCAL', () => {
  for (const m of [ROLE_OWNER, ROLE_OWNER | ROLE_LOCAL, ROLE_OWNER | ROLE_USER, 0xffffffff]) {
    assert.equal(ownerMay(m), true, `rolemask ${m}`);
    assert.doesNotThrow(() => requireOwnerRole(m));
  }
});

test('guests, admins without the owner bit and no role at all get EPERM without text', () => {
  for (const m of [ROLE_NONE, ROLE_USER, ROLE_USER | ROLE_LOCAL, ROLE_LOCAL, ROLE_ADMIN]) {
    assert.equal(ownerMay(m), false, `rolemask ${m}`);
    assert.throws(() => requireOwnerRole(m), (e: { errnum?: number; hasText?: boolean; message?: string }) =>
      e.errnum === errno.EPERM && e.hasText === false && e.message === 'Operation not permitted');
  }
});
