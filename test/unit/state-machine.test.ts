import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatFsd, formatG } from '../../broker/src/common/libutil/fsd';
import { StateMachine, formatElapsed, stateIndex, type StateMachineHost, type StateName } from '../../broker/src/broker/state-machine';

/** A scripted host: rc results are controlled by the test, everything else recorded. */
function harness(opts: { rank: number; parent?: boolean; rc1?: number | undefined; rc2?: boolean; children?: boolean }) {
  const log: string[] = [];
  const calls: string[] = [];
  let exitStatus: number | undefined;
  let finishProgram: ((s: number) => void) | undefined;
  let children = opts.children ?? false;
  const host: StateMachineHost = {
    rank: opts.rank,
    hasParent: opts.parent ?? false,
    rc1: () => Promise.resolve(opts.rc1),
    rc3: () => Promise.resolve(0),
    rc2: opts.rc2 ? () => new Promise<number>((r) => (finishProgram = r)) : undefined,
    watchParent: () => calls.push('watchParent'),
    online: () => calls.push('online'),
    childrenConnected: () => children,
    info: (s) => log.push(s.replace(/ [\d.]+m?s$/, '')),
    err: (s) => log.push(`ERR ${s}`),
    exit: (s) => (exitStatus = s),
  };
  const sm = new StateMachine(host);
  const states: StateName[] = [];
  sm.onState((s) => states.push(s));
  const settle = () => new Promise((r) => setTimeout(r, 0));
  return {
    sm, log, calls, states, settle,
    get exit() { return exitStatus; },
    finish: (s: number) => finishProgram?.(s),
    childrenGone: () => {
      children = false;
      sm.childGone();
    },
  };
}

test('rank 0 without children: rc1, quorum once online, run the program, rc3, exit with its status', async () => {
  const h = harness({ rank: 0, rc1: 0, rc2: true });
  h.sm.kickoff();
  await h.settle();
  assert.equal(h.sm.state, 'quorum');
  assert.deepEqual(h.calls, ['online']);
  h.sm.quorumFull();
  assert.equal(h.sm.state, 'run');
  h.finish(3);
  await h.settle();
  await h.settle();
  assert.equal(h.sm.state, 'exit');
  assert.equal(h.exit, 3);
  assert.deepEqual(h.log, [
    'builtins-success: load-builtins->join', 'parent-none: join->config-sync', 'sync-none: config-sync->init',
    'rc1-success: init->quorum', 'quorum-full: quorum->run', 'rc2-fail: run->cleanup', 'cleanup-none: cleanup->shutdown',
    'children-none: shutdown->finalize', 'rc3-success: finalize->goodbye', 'goodbye: goodbye->unload-builtins', 'builtins-done: unload-builtins->exit',
  ]);
});

test('a follower waits for its parent: init at quorum, run at run, shutdown when the parent shuts down', async () => {
  const h = harness({ rank: 1, parent: true, rc1: 0, children: true });
  h.sm.kickoff();
  assert.deepEqual(h.calls, ['watchParent']);
  assert.equal(h.sm.state, 'join');
  h.sm.parentState(stateIndex('init'));
  assert.equal(h.sm.state, 'join');
  h.sm.parentState(stateIndex('quorum'));
  await h.settle();
  assert.equal(h.sm.state, 'quorum');
  h.sm.parentState(stateIndex('run'));
  assert.equal(h.sm.state, 'run');
  h.sm.parentState(stateIndex('shutdown'));
  assert.equal(h.sm.state, 'shutdown', 'waits for its children');
  h.childrenGone();
  await h.settle();
  await h.settle();
  assert.equal(h.sm.state, 'exit');
  assert.equal(h.exit, 0);
});

test('rc1 failure goes straight to shutdown with rc1\'s status; no run', async () => {
  const h = harness({ rank: 0, rc1: 5, rc2: true });
  h.sm.kickoff();
  await h.settle();
  await h.settle();
  assert.ok(!h.states.includes('run'));
  assert.ok(h.log.includes('rc1-fail: init->shutdown'));
  assert.equal(h.exit, 5);
});

test('a shutdown requested during rc1 takes effect when rc1 ends; lost parent in join exits 1', async () => {
  const h = harness({ rank: 0, rc1: 0 });
  h.sm.kickoff();
  assert.equal(h.sm.state, 'init');
  h.sm.abort('shutdown');
  await h.settle();
  await h.settle();
  assert.ok(!h.states.includes('run'));
  assert.equal(h.sm.state, 'exit');
  const f = harness({ rank: 2, parent: true });
  f.sm.kickoff();
  f.sm.parentLost();
  await f.settle();
  assert.ok(f.log.includes('parent-fail: join->shutdown'));
  assert.equal(f.exit, 1);
});

test('elapsed times print as flux-core logs them', () => {
  assert.equal(formatElapsed(0.0135554), '13.5554ms');
  assert.equal(formatElapsed(0.000014988), '0.014988ms');
  assert.equal(formatElapsed(0.24681), '0.24681s');
  assert.equal(formatElapsed(1.5), '1.5s');
});

test('fsd_format_duration_ex style: %g with the given precision and a unit', () => {
  assert.equal(formatG(19.4321, 2), '19');
  assert.equal(formatG(0.000012345, 6), '1.2345e-05');
  assert.equal(formatFsd(0.43, 2), '0.43s');
  assert.equal(formatFsd(90, 2), '1.5m');
  assert.equal(formatFsd(7200, 2), '2h');
  assert.equal(formatFsd(0.0621), '62.1ms');
  assert.equal(formatFsd(Infinity), 'infinity');
});
