/**
 * What the archive tests share: a 4-rank instance and a scratch directory for the whole file,
 * shell lines with stdout and stderr merged (as flux-core's recordings show them), directories
 * made under the scratch directory, and file digests to compare extracted bytes.
 */
import { after, before } from 'node:test';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { shell, startInstance, type Instance } from './helpers';

export interface ArchiveFixture {
  inst: Instance;
  /** The scratch directory, removed after the file's tests. */
  tmp: string;
  /** A shell line in the instance (`flux` on PATH), stdout and stderr merged. */
  sh(line: string, cwd?: string): Promise<{ out: string; status: number | null }>;
  /** Make (recursively) and return tmp/parts... */
  mkdirs(...parts: string[]): string;
}

/** Register the instance and scratch directory for this test file (filled in before its tests run). */
export function archiveFixture(prefix: string): ArchiveFixture {
  const fx: ArchiveFixture = {
    inst: undefined as unknown as Instance,
    tmp: '',
    async sh(line, cwd = fx.tmp) {
      const r = await shell(`exec 2>&1; ${line}`, fx.inst.env, { cwd, timeoutMs: 120_000 });
      return { out: r.stdout, status: r.status };
    },
    mkdirs(...parts) {
      const d = path.join(fx.tmp, ...parts);
      fs.mkdirSync(d, { recursive: true });
      return d;
    },
  };
  before(async () => {
    fx.tmp = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    fx.inst = await startInstance(4);
  });
  after(async () => {
    await fx.inst?.stop();
    fs.rmSync(fx.tmp, { recursive: true, force: true });
  });
  return fx;
}

/** SHA-256 of a file's bytes, hex. */
export const sha = (p: string): string => crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex');
