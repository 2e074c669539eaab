/**
 * Flux configuration files (flux-config(5)): a directory of `*.toml` files
 * whose tables merge into one object, or a single `.toml` / `.json` file.
 * Used by the broker (`--config-path`, `config.reload`) and by `flux start
 * --conf`, which also takes `KEY=VALUE` TOML lines and JSON objects.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';

export type ConfObject = Record<string, unknown>;

export class ConfError extends Error {}

function isObject(v: unknown): v is ConfObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Merge `src` into `dst`: tables merge, a key set twice to non-tables is an error (as across TOML files). */
export function mergeConf(dst: ConfObject, src: ConfObject, where: string, replace = false): ConfObject {
  for (const [k, v] of Object.entries(src)) {
    const cur = dst[k];
    if (isObject(cur) && isObject(v)) mergeConf(cur, v, where, replace);
    else if (cur !== undefined && !replace) throw new ConfError(`${where}: duplicate key '${k}'`);
    else dst[k] = v;
  }
  return dst;
}

async function parseToml(text: string, where: string): Promise<ConfObject> {
  // smol-toml is an ES module: loaded only when there is TOML to read.
  const { parse } = await import('smol-toml');
  try {
    return parse(text) as ConfObject;
  } catch (e) {
    const msg = e instanceof Error ? e.message.split('\n')[0] : String(e);
    const line = (e as { line?: unknown }).line;
    throw new ConfError(typeof line === 'number' ? `${where}:${line}: ${msg}` : `${where}: ${msg}`, { cause: e });
  }
}

function parseJson(text: string, where: string): ConfObject {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new ConfError(`${where}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  if (!isObject(v)) throw new ConfError(`${where}: config must be a JSON object`);
  return v;
}

/** Load a config file or directory. */
export async function loadConfPath(p: string): Promise<ConfObject> {
  let st;
  try {
    st = await fs.stat(p);
  } catch (e) {
    throw new ConfError(`${p}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'No such file or directory' : String(e)}`, { cause: e });
  }
  if (st.isDirectory()) {
    const out: ConfObject = {};
    const names = (await fs.readdir(p)).filter((n) => n.endsWith('.toml')).sort();
    for (const n of names) {
      const f = path.join(p, n);
      mergeConf(out, await parseToml(await fs.readFile(f, 'utf8'), f), f);
    }
    return out;
  }
  const text = await fs.readFile(p, 'utf8');
  return p.endsWith('.json') ? parseJson(text, p) : parseToml(text, p);
}

/** One `--conf` value: a file, a JSON object, or TOML text such as `resource.noverify=true`. */
export async function parseConfArg(value: string): Promise<ConfObject> {
  const trimmed = value.trim();
  if (trimmed.startsWith('{')) return parseJson(trimmed, '--conf');
  if (!trimmed.includes('=') && !trimmed.includes('\n')) {
    try {
      await fs.access(trimmed);
    } catch {
      throw new ConfError(`--conf=${value}: not a file, JSON object or KEY=VALUE`);
    }
    return loadConfPath(trimmed);
  }
  return parseToml(trimmed, '--conf');
}

/** `flux config get` paths: `a.b.c` into nested tables. */
export function confLookup(o: unknown, dotted: string): unknown {
  let cur = o;
  for (const part of dotted.split('.')) {
    if (!isObject(cur) || !(part in cur)) return undefined;
    cur = cur[part];
  }
  return cur;
}
