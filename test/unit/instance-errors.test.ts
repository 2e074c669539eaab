// Why a local instance did not start, or could not be attached, as the extension tells it (extension/src/instance/instance-errors.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attachFailure, startFailure } from '../../extension/src/instance/instance-errors';
import { FluxError } from '../../broker/src/common/libflux/errno';

test('the first error that names a cause is given, not the modules skipped because of it', () => {
  const errors = [
    'content-sqlite: /tmp/s/content.sqlite is in use by another Flux instance (database is locked): stop that instance first, or start this one with another -S statedir.',
    'flux-modprobe: load content-sqlite: Device or resource busy',
    'flux-modprobe: load kvs: skipped: content-sqlite failed',
    'rc1.0: flux modprobe rc1 Exited (rc=1) 5.1s',
  ];
  assert.equal(startFailure(1, errors), `flux start exited with status 1 before the instance was up: ${errors[0]}`);
  assert.equal(startFailure(1, errors.slice(2)), 'flux start exited with status 1 before the instance was up');
  assert.equal(startFailure(null, []), 'flux start exited with status signal before the instance was up');
});

test('attaching: a missing socket and a stale one are explained with what to do', () => {
  assert.match(attachFailure('local:///tmp/x/local-0', new FluxError(2)), /^\/tmp\/x\/local-0: No such file or directory: no broker socket there\. Is the instance running\?/);
  assert.match(attachFailure('local:///tmp/x/local-0', new FluxError(111)), /Connection refused: nothing listens on this socket any more.*remove \/tmp\/x if it is a leftover rundir/);
  assert.equal(attachFailure('ssh://h/p', new FluxError(111)), 'Connection refused');
});
