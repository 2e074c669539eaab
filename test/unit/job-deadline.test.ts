// A job's time limit (broker/src/common/libjob/deadline.ts): past Node's 24.8-day timer range it
// must wait in steps, not fire at once.
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { armDeadline } from '../../broker/src/common/libjob/deadline';

const DAY = 86_400_000;

test('a deadline 30 days away fires after 30 days, not at once; a near one on time; cancel holds it', () => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000_000_000 });
  try {
    const start = Date.now();
    let fired = 0;
    armDeadline((start + 30 * DAY) / 1000, () => fired++);
    mock.timers.tick(1);
    assert.equal(fired, 0, 'not taken for "now"');
    mock.timers.tick(25 * DAY);
    assert.equal(fired, 0);
    mock.timers.tick(5 * DAY);
    assert.equal(fired, 1);
    let near = 0;
    armDeadline((Date.now() + 1500) / 1000, () => near++);
    mock.timers.tick(1499);
    assert.equal(near, 0);
    mock.timers.tick(1);
    assert.equal(near, 1);
    let off = 0;
    const cancel = armDeadline((Date.now() + 1000) / 1000, () => off++);
    cancel();
    mock.timers.tick(2000);
    assert.equal(off, 0);
    let huge = 0;
    armDeadline(9223372036, () => huge++);
    mock.timers.tick(60 * DAY);
    assert.equal(huge, 0, "Fluxion's 'no limit' never fires");
  } finally {
    mock.timers.reset();
  }
});
