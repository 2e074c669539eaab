import { test } from 'node:test';
import assert from 'node:assert/strict';
import { routeRequest, serviceOf } from '../../broker/src/broker/route';
import { parseTopology } from '../../broker/src/broker/topology';
import { FLAG_UPSTREAM, NODEID_ANY } from '../../broker/src/common/libflux/message';

const t = parseTopology('kary:2', 8); // 0:[1,2] 1:[3,4] 2:[5,6] 3:[7]

test('ANY: local service, else climb, else ENOSYS with flux-core text at rank 0', () => {
  assert.deepEqual(routeRequest(3, t, NODEID_ANY, 0, 'kvs.get', true), { to: 'local' });
  assert.deepEqual(routeRequest(3, t, NODEID_ANY, 0, 'kvs.get', false), { to: 'parent' });
  assert.deepEqual(routeRequest(0, t, NODEID_ANY, 0, 'nosuch.ping', false), {
    to: 'error', errnum: 38, text: 'No service matching nosuch.ping is registered',
  });
});

test('a rank: down the right subtree, up when it is elsewhere, EHOSTUNREACH past the end', () => {
  assert.deepEqual(routeRequest(0, t, 7, 0, 'broker.ping', true), { to: 'child', rank: 1 });
  assert.deepEqual(routeRequest(1, t, 7, 0, 'broker.ping', true), { to: 'child', rank: 3 });
  assert.deepEqual(routeRequest(3, t, 7, 0, 'broker.ping', true), { to: 'child', rank: 7 });
  assert.deepEqual(routeRequest(4, t, 7, 0, 'broker.ping', true), { to: 'parent' });
  assert.deepEqual(routeRequest(7, t, 7, 0, 'broker.ping', true), { to: 'local' });
  assert.equal(routeRequest(7, t, 7, 0, 'nosuch.ping', false).to, 'error');
  assert.deepEqual(routeRequest(0, t, 8, 0, 'broker.ping', true), { to: 'error', errnum: 113 });
});

test('UPSTREAM skips the sender\'s own services', () => {
  assert.deepEqual(routeRequest(3, t, 3, FLAG_UPSTREAM, 'kvs.get', true), { to: 'parent' });
  assert.deepEqual(routeRequest(1, t, 3, FLAG_UPSTREAM, 'kvs.get', true), { to: 'local' });
  assert.deepEqual(routeRequest(0, t, 0, FLAG_UPSTREAM, 'broker.ping', true), { to: 'error', errnum: 113 });
});

test('service names are the topic up to the first dot', () => {
  assert.equal(serviceOf('kvs-watch.lookup'), 'kvs-watch');
  assert.equal(serviceOf('broker'), 'broker');
});
