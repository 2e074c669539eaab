/**
 * Where an archive entry may be written: the lexical half of extraction's safety rules, pure so
 * that every hostile shape is unit tested. (The on-disk half — no symlink in the way, O_NOFOLLOW,
 * O_EXCL — is in cmd/archive-write.ts.)
 *
 * flux-core 0.88 hands entries to libarchive without its SECURE_* flags, so a crafted archive can
 * write anywhere the user can (`../x`, `/etc/x`, or a symlink `d -> /` followed by `d/x`). flux-core
 * never creates such entries itself (it strips leading `/` and walks real directories), so
 * refusing them costs a legitimate archive nothing.
 */
import type { Entry } from './fileref';

export class UnsafePathError extends Error {
  constructor(readonly entry: string, reason: string) {
    super(`${entry}: refusing to extract ${reason}`);
  }
}

/**
 * The components of an entry path, `.` and empty ones dropped. Throws UnsafePathError for an
 * absolute path, a `..` component or a NUL byte. An empty result is the extraction directory.
 */
export function entryComponents(path: string): string[] {
  if (path.includes('\0')) throw new UnsafePathError(JSON.stringify(path), 'a path containing a NUL byte');
  if (path.startsWith('/')) throw new UnsafePathError(path, 'an absolute path');
  const parts = path.split('/').filter((c) => c !== '' && c !== '.');
  if (parts.includes('..')) throw new UnsafePathError(path, "a path containing '..'");
  return parts;
}

/** A validated entry: where it goes, relative to the extraction directory. */
export interface PlacedEntry {
  entry: Entry;
  /** Normalized relative path ('' = the extraction directory itself). */
  rel: string;
  parts: string[];
}

/**
 * Check a whole archive before anything is written: every path lexically safe, only a directory
 * may name the extraction directory itself, and no entry lies under a path the archive makes a
 * symlink (whatever the order: a later symlink could replace a directory an earlier file used,
 * and with --overwrite a symlink may replace one that was there before).
 */
export function placeEntries(entries: Entry[]): PlacedEntry[] {
  const placed = entries.map((entry) => {
    const parts = entryComponents(entry.path);
    if (parts.length === 0 && entry.kind !== 'dir') throw new UnsafePathError(entry.path, 'a non-directory onto the extraction directory');
    return { entry, parts, rel: parts.join('/') };
  });
  const links = new Set(placed.filter((p) => p.entry.kind === 'symlink').map((p) => p.rel));
  if (links.size > 0) {
    for (const p of placed) {
      for (let i = 1; i < p.parts.length; i++) {
        const prefix = p.parts.slice(0, i).join('/');
        if (links.has(prefix)) throw new UnsafePathError(p.entry.path, `through symlink ${prefix}`);
      }
    }
  }
  return placed;
}

/**
 * fnmatch(3) with no flags, as `flux archive list/extract PATTERN` uses it: `*` and `?` also
 * match `/`, `[...]` classes with `!`/`^` negation and ranges, `\` quotes the next character.
 */
export function fnmatch(pattern: string, s: string): boolean {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*') re += '[\\s\\S]*';
    else if (c === '?') re += '[\\s\\S]';
    else if (c === '\\' && i + 1 < pattern.length) re += escapeRe(pattern[++i]);
    else if (c === '[') {
      let j = i + 1;
      if (pattern[j] === '!' || pattern[j] === '^') j++;
      if (pattern[j] === ']') j++;
      const end = pattern.indexOf(']', j);
      if (end < 0) {
        re += '\\[';
        continue;
      }
      let body = pattern.slice(i + 1, end);
      const neg = body.startsWith('!') || body.startsWith('^');
      if (neg) body = body.slice(1);
      re += `[${neg ? '^' : ''}${body.replace(/[\\\]^]/g, (m) => `\\${m}`)}]`;
      i = end;
    } else re += escapeRe(c);
  }
  return new RegExp(re + '$', 'u').test(s);
}

function escapeRe(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, (m) => `\\${m}`);
}
