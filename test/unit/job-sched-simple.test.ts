/**
 * sched-simple's allocator over R (worst/best/first fit, nodes, exclusive
 * nodes, GPUs, feasibility), the job R and annotation it writes (as in the
 * recorded job-info.txt), its module options, and job-exec's task placement.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rlist } from '../../broker/src/common/librlist/rlist';
import { jjGetCounts, jobspecFromCommandLine } from '../../broker/src/common/libjob/jobspec';
import { ResourcePool, allocationR, resourceSummary } from '../../broker/src/modules/sched-simple/alloc';
import { parseArgs } from '../../broker/src/modules/sched-simple/sched-simple';
import { placeTasks, taskExitCode, taskmap } from '../../broker/src/modules/job-exec/job-exec';

/** A 4-node instance of 2 cores each, as the recorded flux-core test instance. */
function instance(gpus = 0): Rlist {
  return new Rlist([0, 1, 2, 3].map((rank) => ({ rank, hostname: 'vm', cores: [0, 1], gpus: [...Array(gpus).keys()] })));
}

function request(args: Partial<Parameters<typeof jobspecFromCommandLine>[0]>): { jobspec: Record<string, unknown>; counts: ReturnType<typeof jjGetCounts> } {
  const { jobspec } = jobspecFromCommandLine({ command: ['true'], processCwd: '/', environ: {}, ...args });
  return { jobspec, counts: jjGetCounts(jobspec) };
}

test('flux run -n2: worst-fit keeps both slots on the first node (rank0/core[0-1], as recorded)', () => {
  const pool = new ResourcePool(instance());
  const a = pool.alloc(request({ ntasks: 2 }).counts)!;
  assert.equal(resourceSummary(a), 'rank0/core[0-1]');
  const R = allocationR(a, 1795542931.0846696, 0);
  assert.deepEqual(R, {
    version: 1,
    execution: { R_lite: [{ rank: '0', children: { core: '0-1' } }], starttime: 1795542931.0846696, expiration: 0, nslots: 2, nodelist: ['vm'] },
  });
  // the next single-core job goes to a node with the most free cores
  const b = pool.alloc(request({}).counts)!;
  assert.equal(resourceSummary(b), 'rank1/core0');
});

test('-N4 spreads over every node; -N4 without -n takes whole nodes', () => {
  const pool = new ResourcePool(instance());
  const a = pool.alloc(request({ nodes: 4, ntasks: 4 }).counts)!;
  assert.equal(resourceSummary(a), 'rank[0-3]/core0');
  pool.free(a.ranks);
  const x = pool.alloc(request({ nodes: 4 }).counts)!;
  assert.equal(resourceSummary(x), 'rank[0-3]/core[0-1]');
  assert.equal(pool.alloc(request({}).counts), undefined);
  pool.free(x.ranks);
  assert.ok(pool.alloc(request({}).counts));
});

test('best-fit and first-fit', () => {
  const best = new ResourcePool(instance());
  best.alloc(request({}).counts, 'first-fit'); // rank0 has 1 free core
  assert.equal(resourceSummary(best.alloc(request({}).counts, 'best-fit')!), 'rank0/core1');
  const first = new ResourcePool(instance());
  for (let i = 0; i < 3; i++) first.alloc(request({}).counts, 'first-fit');
  assert.equal(resourceSummary(first.alloc(request({}).counts, 'first-fit')!), 'rank1/core1');
});

test('a request bigger than free resources waits; bigger than the instance is infeasible', () => {
  const pool = new ResourcePool(instance());
  assert.ok(pool.alloc(request({ ntasks: 6 }).counts));
  assert.equal(pool.alloc(request({ ntasks: 3 }).counts), undefined);
  assert.equal(pool.infeasible(request({ ntasks: 3 }).counts), undefined);
  assert.equal(pool.infeasible(request({ ntasks: 9 }).counts), 'unsatisfiable request');
  assert.equal(pool.infeasible(request({ ntasks: 1, coresPerTask: 3 }).counts), 'unsatisfiable request');
  assert.equal(pool.infeasible(request({ nodes: 5, ntasks: 5 }).counts), 'unsatisfiable request');
  assert.equal(pool.infeasible(request({ gpusPerTask: 1 }).counts), 'unsatisfiable request');
});

test('GPUs are allocated with their slot and show in R', () => {
  const pool = new ResourcePool(instance(1));
  const a = pool.alloc(request({ ntasks: 2, gpusPerTask: 1 }).counts)!;
  assert.equal(resourceSummary(a), 'rank[0-1]/core0,gpu0');
  const R = allocationR(a, 0, 0) as { execution: { R_lite: unknown } };
  assert.deepEqual(R.execution.R_lite, [{ rank: '0-1', children: { core: '0', gpu: '0' } }]);
});

test('claim() keeps resources of running jobs busy after a scheduler reload', () => {
  const pool = new ResourcePool(instance());
  pool.claim([{ rank: 0, hostname: 'vm', cores: [0, 1], gpus: [] }, { rank: 1, hostname: 'vm', cores: [0, 1], gpus: [] }]);
  assert.equal(resourceSummary(pool.alloc(request({ ntasks: 4 }).counts)!), 'rank[2-3]/core[0-1]');
  assert.equal(pool.allocated().ncores, 8);
});

test('module options: queue-depth, alloc-mode, the older mode=', () => {
  assert.deepEqual(parseArgs([]), { queueDepth: 8, mode: 'worst-fit' });
  assert.deepEqual(parseArgs(['queue-depth=unlimited', 'alloc-mode=first-fit']), { queueDepth: 0, mode: 'first-fit' });
  assert.deepEqual(parseArgs(['mode=limited=2']), { queueDepth: 2, mode: 'worst-fit' });
  assert.throws(() => parseArgs(['alloc-mode=random']), /unknown alloc-mode/);
  assert.throws(() => parseArgs(['queue-depth=0']), /invalid queue-depth/);
  assert.throws(() => parseArgs(['bogus']), /unknown option/);
});

test('job-exec task placement: per-slot tasks on their ranks, -N with whole nodes, total counts', () => {
  const R = (ranks: [number, number[]][]): Rlist => new Rlist(ranks.map(([rank, cores]) => ({ rank, hostname: 'vm', cores, gpus: [] })));
  const two = placeTasks(request({ ntasks: 2 }).jobspec as never, R([[0, [0, 1]]]));
  assert.deepEqual(two, [{ rank: 0, id: 0, localid: 0 }, { rank: 0, id: 1, localid: 1 }]);
  const n4 = placeTasks(request({ nodes: 4 }).jobspec as never, R([[0, [0, 1]], [1, [0, 1]], [2, [0, 1]], [3, [0, 1]]]));
  assert.deepEqual(n4.map((t) => t.rank), [0, 1, 2, 3]);
  const uneven = placeTasks(request({ nodes: 2, ntasks: 3 }).jobspec as never, R([[0, [0, 1]], [1, [0, 1]]]));
  assert.deepEqual(uneven.map((t) => [t.rank, t.id, t.localid]), [[0, 0, 0], [0, 1, 1], [1, 2, 0]]);
  const c2 = placeTasks(request({ ntasks: 2, coresPerTask: 2 }).jobspec as never, R([[0, [0, 1]], [1, [0, 1]]]));
  assert.deepEqual(c2.map((t) => t.rank), [0, 1]);
  // RFC 34 taskmaps, as the recorded shell.start shows for -n2 on one node: [[0,1,2,1]]
  assert.deepEqual(taskmap(two, R([[0, [0, 1]]])), [[0, 1, 2, 1]]);
  assert.deepEqual(taskmap(n4, R([[0, [0, 1]], [1, [0, 1]], [2, [0, 1]], [3, [0, 1]]])), [[0, 4, 1, 1]]);
  assert.deepEqual(taskmap(uneven, R([[0, [0, 1]], [1, [0, 1]]])), [[0, 1, 2, 1], [1, 1, 1, 1]]);
  assert.equal(taskExitCode(0), 0);
  assert.equal(taskExitCode(3 << 8), 3);
  assert.equal(taskExitCode(15), 143);
});
