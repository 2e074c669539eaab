/**
 * RFC 37 filerefs as `flux archive` writes and reads them: flux-core's key order and encodings
 * (the recorded `flux kvs get archive.myarchive` text), decoding checks and messages, `list -l`
 * lines, and the size/fnmatch helpers behind --chunksize and PATTERN.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  decodeFileref, encodeSize, filerefBlobvec, filerefDir, filerefEmpty, filerefSmall, filerefSymlink,
  isInlineUtf8, parseSize, prettyPrint, relativePath,
} from '../../broker/src/common/libfilemap/fileref';
import { janssonDumps, type JsonValue } from '../../broker/src/common/libkvs/jansson';
import { FluxError } from '../../broker/src/common/libflux/errno';

const REF = path.resolve(__dirname, '../../../shared/reference/flux-core-behaviour');
const st = { mode: 0o100644, size: 12, mtime: 1795542918, ctime: 1795542918 };

test('a small text file encodes to the recorded archive text byte for byte', () => {
  const rec = fs.readFileSync(path.join(REF, 'archive-create.txt'), 'utf8');
  const want = /^\$ flux kvs get archive\.myarchive\n(.*)\n/m.exec(rec)?.[1];
  assert.ok(want);
  const got = janssonDumps([filerefSmall('file', Buffer.from('hello world\n'), st) as JsonValue], { compact: true });
  assert.equal(got, want);
});

test('encodings: utf-8 when valid and NUL-free, base64 otherwise', () => {
  assert.equal(filerefSmall('a', Buffer.from('🧀️ brie\n'), st).encoding, 'utf-8');
  assert.equal(filerefSmall('a', Buffer.from([0xff, 0xfe]), st).encoding, 'base64');
  // a NUL would be cut by flux-core's strlen() on extraction
  const nul = filerefSmall('a', Buffer.from('a\0b'), st);
  assert.equal(nul.encoding, 'base64');
  assert.equal(nul.data, Buffer.from('a\0b').toString('base64'));
  assert.equal(isInlineUtf8(Buffer.from([0xc3])), false);
});

test('key order of each kind follows flux-core', () => {
  assert.deepEqual(Object.keys(filerefDir('sub', { ...st, mode: 0o40755 })), ['path', 'mtime', 'ctime', 'mode']);
  assert.deepEqual(Object.keys(filerefSymlink('l', 'file', { ...st, mode: 0o120777 })), ['path', 'data', 'mtime', 'ctime', 'mode']);
  assert.deepEqual(Object.keys(filerefEmpty('e', { ...st, size: 0 })), ['path', 'size', 'mtime', 'ctime', 'mode']);
  assert.deepEqual(Object.keys(filerefBlobvec('b', [[0, 5, 'sha1-' + '0'.repeat(40)]], st)), ['path', 'encoding', 'data', 'size', 'mtime', 'ctime', 'mode']);
  assert.equal(relativePath('/abs/x'), 'abs/x');
  assert.equal(relativePath('/'), '.');
});

test('decode round trips each kind', () => {
  const f = decodeFileref(filerefSmall('f', Buffer.from([1, 2, 0, 3]), { ...st, size: 4 }));
  assert.equal(f.kind, 'file');
  assert.deepEqual([...(f.inline ?? [])], [1, 2, 0, 3]);
  assert.equal(decodeFileref(filerefSmall('t', Buffer.from('hé\n'), st)).inline?.toString(), 'hé\n');
  const l = decodeFileref(filerefSymlink('l', '../x', { ...st, mode: 0o120777 }));
  assert.equal(l.kind, 'symlink');
  assert.equal(l.target, '../x');
  assert.equal(decodeFileref(filerefDir('d', { ...st, mode: 0o40700 })).kind, 'dir');
  const b = decodeFileref(filerefBlobvec('b', [[4096, 10, 'sha1-' + 'a'.repeat(40)]], { ...st, size: 8192 }));
  assert.deepEqual(b.blobs, [[4096, 10, 'sha1-' + 'a'.repeat(40)]]);
  const e = decodeFileref(filerefEmpty('s', { ...st, size: 1 << 20 }));
  assert.equal(e.size, 1 << 20);
  assert.equal(e.inline, undefined);
  // RFC 37 dictionary form: the key is the path; JSON content without encoding is written compact
  const j = decodeFileref({ mode: 0o100644, data: { a: [1, 2] } }, 'conf.json');
  assert.equal(j.path, 'conf.json');
  assert.equal(j.inline?.toString(), '{"a":[1,2]}');
});

test('decode refuses malformed entries with flux-core wording', () => {
  const bad = (o: unknown, re: RegExp): void => {
    assert.throws(() => decodeFileref(o), (e: unknown) => e instanceof FluxError && e.errnum === 22 && re.test(e.message));
  };
  bad('x', /error decoding fileref object/);
  bad({ path: 'a' }, /error decoding fileref object/);
  bad({ path: 'l', mode: 0o120777 }, /^l: missing symlink data$/);
  bad({ path: 'p', mode: 0o10644 }, /^p: unknown file type \(mode=010644\)$/);
  bad({ path: 'f', mode: 0o100644, encoding: 'rot13', data: 'x' }, /^f: unknown RFC 37 encoding rot13$/);
  bad({ path: 'f', mode: 0o100644, encoding: 'utf-8', data: 5 }, /^f: unexpected data type for utf8$/);
  bad({ path: 'f', mode: 0o100644, encoding: 'base64', data: '!!' }, /^f: could not decode base64 file data$/);
  bad({ path: 'f', mode: 0o100644, encoding: 'blobvec', data: [[0, 1, 'nope']] }, /^f: error decoding blobvec entry$/);
  bad({ path: 'f', mode: 0o100644, size: 4, encoding: 'blobvec', data: [[2, 5, 'sha1-' + 'a'.repeat(40)]] }, /exceeds file size/);
});

test('list -l lines are the recorded ones', () => {
  const rec = fs.readFileSync(path.join(REF, 'archive-list-l.txt'), 'utf8');
  assert.ok(rec.includes(`${prettyPrint({ path: 'file', mode: 0o100644, size: 12 }, true)}\n`));
  assert.ok(rec.includes(`${prettyPrint({ path: 'sub/nested.txt', mode: 0o100644, size: 7 }, true)}\n`));
  assert.ok(rec.includes(`${prettyPrint({ path: 'sub', mode: 0o40755 }, true)}\n`));
  assert.equal(prettyPrint({ path: 'l', mode: 0o120777, data: 'x' }, true), 'l 0777        0 l');
  assert.equal(prettyPrint({ path: 'sub', mode: 0o40755 }, false), 'sub');
  assert.equal(prettyPrint({ mode: 1 }, true), 'invalid fileref');
});

test('parse_size and encode_size', () => {
  assert.equal(parseSize('1M'), 1 << 20);
  assert.equal(parseSize('1K'), 1024);
  assert.equal(parseSize('4k'), 4096);
  assert.equal(parseSize('0'), 0);
  assert.equal(parseSize('0x10'), 16);
  assert.equal(parseSize('1.5K'), 1536);
  assert.equal(parseSize('2G'), 2 ** 31);
  for (const s of ['', '-1', '1X', 'K', 'abc', '1MB']) assert.throws(() => parseSize(s), FluxError, s);
  assert.equal(encodeSize(2 ** 31), '2G');
  assert.equal(encodeSize(1536), '1.5K');
});
