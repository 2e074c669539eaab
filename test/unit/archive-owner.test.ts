/**
 * Only the instance owner may create or remove archives. On a real instance a guest cannot even
 * reach the socket (the rundir is 0700), so the client-side check is exercised here with a
 * handle that reports another owner.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Flux } from '../../broker/src/common/libflux/handle';
import { Exit } from '../../broker/src/cmd/cli';
import { requireOwner } from '../../broker/src/cmd/archive';

function handle(owner: string): Flux {
  return { getattr: (name: string) => (name === 'security.owner' ? Promise.resolve(owner) : Promise.reject(new Error(name))) } as unknown as Flux;
}

async function stderrOf(fn: () => Promise<void>): Promise<{ err: string; status?: number }> {
  const write = process.stderr.write.bind(process.stderr);
  let err = '';
  process.stderr.write = ((s: string | Uint8Array): boolean => {
    err += s.toString();
    return true;
  }) as typeof process.stderr.write;
  try {
    await fn();
    return { err };
  } catch (e) {
    if (e instanceof Exit) return { err, status: e.status };
    throw e;
  } finally {
    process.stderr.write = write;
  }
}

test('the owner passes, anyone else is refused with EPERM', async () => {
  const uid = process.getuid?.() ?? 0;
  assert.deepEqual(await stderrOf(() => requireOwner(handle(String(uid)), 'flux-archive', 'create')), { err: '' });
  assert.deepEqual(await stderrOf(() => requireOwner(handle(String(uid + 1)), 'flux-archive', 'remove')), {
    err: 'flux-archive: remove: only the instance owner may do this: Operation not permitted\n',
    status: 1,
  });
});
