/**
 * The lexical safety rules of `flux archive extract`: every hostile path shape is refused with a
 * message naming the entry, before anything is written; legitimate shapes (what flux-core's
 * create produces) pass. Also fnmatch(3) without flags, as PATTERN uses it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeFileref, type Entry } from '../../broker/src/common/libfilemap/fileref';
import { UnsafePathError, entryComponents, fnmatch, placeEntries } from '../../broker/src/common/libfilemap/pathsafe';

const file = (p: string): Entry => decodeFileref({ path: p, mode: 0o100644, encoding: 'utf-8', data: 'x', size: 1 });
const dir = (p: string): Entry => decodeFileref({ path: p, mode: 0o40755 });
const link = (p: string, t: string): Entry => decodeFileref({ path: p, mode: 0o120777, data: t });

function refused(entries: Entry[], message: string): void {
  assert.throws(() => placeEntries(entries), (e: unknown) => e instanceof UnsafePathError && e.message === message);
}

test('legitimate paths are normalized, not refused', () => {
  assert.deepEqual(entryComponents('a/b'), ['a', 'b']);
  assert.deepEqual(entryComponents('./a//b/.'), ['a', 'b']);
  assert.deepEqual(entryComponents('.'), []);
  assert.deepEqual(entryComponents('..foo/x..'), ['..foo', 'x..']);
  const placed = placeEntries([file('file'), file('sub/nested.txt'), dir('sub'), link('link', '/etc/passwd'), dir('.')]);
  assert.deepEqual(placed.map((p) => p.rel), ['file', 'sub/nested.txt', 'sub', 'link', '']);
});

test('absolute paths are refused', () => {
  refused([file('ok'), file('/etc/evil')], '/etc/evil: refusing to extract an absolute path');
  refused([dir('//tmp')], '//tmp: refusing to extract an absolute path');
});

test('.. components are refused wherever they are', () => {
  refused([file('../evil')], "../evil: refusing to extract a path containing '..'");
  refused([file('a/../../evil')], "a/../../evil: refusing to extract a path containing '..'");
  refused([file('a/..')], "a/..: refusing to extract a path containing '..'");
  refused([link('..', 'x')], "..: refusing to extract a path containing '..'");
});

test('a path through a symlink of the archive is refused, in either order', () => {
  refused([link('d', '/tmp'), file('d/evil')], 'd/evil: refusing to extract through symlink d');
  refused([file('d/e/evil'), link('d', '/')], 'd/e/evil: refusing to extract through symlink d');
  refused([link('./a/b', '..'), dir('a'), file('a/b/c')], 'a/b/c: refusing to extract through symlink a/b');
  // a symlink next to a file of a similar name is fine
  assert.equal(placeEntries([link('d', '/tmp'), file('dd/x'), file('d.txt')]).length, 3);
});

test('a non-directory cannot be the extraction directory itself; NUL is refused', () => {
  refused([file('.')], '.: refusing to extract a non-directory onto the extraction directory');
  refused([link('./', 'x')], './: refusing to extract a non-directory onto the extraction directory');
  refused([file('a\0b')], '"a\\u0000b": refusing to extract a path containing a NUL byte');
});

test('fnmatch without flags', () => {
  assert.ok(fnmatch('sub', 'sub'));
  assert.ok(!fnmatch('sub', 'sub/nested.txt'));
  assert.ok(fnmatch('sub*', 'sub/nested.txt')); // no FNM_PATHNAME: * crosses /
  assert.ok(fnmatch('*.txt', 'a/b.txt'));
  assert.ok(fnmatch('f?le', 'file'));
  assert.ok(fnmatch('[a-c]x', 'bx'));
  assert.ok(!fnmatch('[!a-c]x', 'bx'));
  assert.ok(fnmatch('\\*', '*'));
  assert.ok(!fnmatch('\\*', 'a'));
  assert.ok(fnmatch('a.b', 'a.b'));
  assert.ok(!fnmatch('a.b', 'axb'));
  assert.ok(fnmatch('[', '['));
  assert.ok(fnmatch('🧀*', '🧀️.txt'));
});
