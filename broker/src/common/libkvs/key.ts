/**
 * KVS key normalization and path splitting.
 *
 * Why: flux-core normalizes every key before it walks the tree (kvs_util_normalize_key()), and the
 * normalized form is also what goes into the setroot event's "keys", so watchers match on it. The
 * rules are quirky and must be reproduced exactly, not "improved":
 *  - runs of '.' collapse to one ("a..b" -> "a.b", ".." -> ".");
 *  - one leading '.' is dropped, then one trailing '.', each only if the key is longer than one
 *    character, so "." stays "." (the root) and ".a." becomes "a";
 *  - a trailing '.' (or the root itself) marks the key as naming a directory.
 * The empty key stays empty; rejecting it is the caller's business (the client-side txn does).
 */

export interface NormalizedKey {
  key: string;
  /** The key had a trailing separator, or is the root. */
  wantDirectory: boolean;
}

export function normalizeKeyEx(key: string): NormalizedKey {
  // Already normal (the usual case: every op of a commit is normalized twice): no regex, no copy.
  if (key.length > 0 && key.charCodeAt(0) !== 0x2e && key.charCodeAt(key.length - 1) !== 0x2e && !key.includes('..')) {
    return { key, wantDirectory: false };
  }
  let k = key.replace(/\.{2,}/g, '.');
  let wantDirectory = false;
  if (k.length > 1 && k.startsWith('.')) k = k.slice(1);
  if (k.length > 1 && k.endsWith('.')) {
    k = k.slice(0, -1);
    wantDirectory = true;
  }
  if (k.startsWith('.')) wantDirectory = true;
  return { key: k, wantDirectory };
}

export function normalizeKey(key: string): string {
  return normalizeKeyEx(key).key;
}

export function isRootKey(key: string): boolean {
  return normalizeKey(key) === '.';
}

/**
 * Path components of a normalized key, split on '.' as flux-core's lookup walk splits them
 * (no further cleanup: a symlink target "a..b" yields an empty component, as it does there).
 */
export function splitKey(key: string): string[] {
  return key.split('.');
}

/** Join components back into a key. */
export function joinKey(parts: readonly string[]): string {
  return parts.join('.');
}
