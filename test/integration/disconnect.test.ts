import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { flux, startInstance, type Instance } from './helpers';
import { Flux } from '../../broker/src/common/libflux/handle';
import { FLAG_STREAMING } from '../../broker/src/common/libflux/message';

let inst: Instance;
before(async () => {
  inst = await startInstance(2);
});
after(async () => {
  assert.equal(await inst.stop(), 0);
});

test('a client that goes away is disconnected from every service it used, even on another rank', async () => {
  const rank1 = inst.uri.replace(/local-0$/, 'local-1');
  const h = await Flux.open(rank1);
  // Follow rank 0's log from a client attached to rank 1, then vanish without cancelling.
  const rpc = h.rpc('log.dmesg', { follow: true, nobacklog: true }, { nodeid: 0, flags: FLAG_STREAMING });
  await flux(['logger', 'before-disconnect'], inst.env);
  for await (const m of rpc) {
    if (m.payload?.toString().includes('before-disconnect')) break;
  }
  h.close();
  // Give the disconnect a moment to travel, then log on rank 0 again: with the follower
  // still registered, its response would be routed to the gone client and dropped on rank 1.
  const deadline = Date.now() + 5000;
  let dropped = '';
  for (let i = 0; Date.now() < deadline && i < 10; i++) {
    await flux(['logger', `after-disconnect-${i}`], inst.env);
    const d = await flux(['dmesg'], { ...process.env, FLUX_URI: rank1 });
    dropped = d.stdout.split('\n').filter((l) => /log\.dmesg.*dropped/.test(l)).join('\n');
    if (dropped) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(dropped, '', 'rank 0 kept streaming to a client that had disconnected');
});
