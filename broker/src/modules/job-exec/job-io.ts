/**
 * Where a job's standard streams go, from the shell options `flux run/submit --input/--output/
 * --error/-l` write into the jobspec (attributes.system.shell.options): output to files instead
 * of the job's guest.output eventlog (stderr follows stdout unless --error names its own), lines
 * labelled `TASKID: ` with --label-io, stdin from a file for every task. Paths take flux-core's
 * mustache templates `{{id}}` / `{{jobid}}` (F58) and `{{id.dec|hex|dothex|words|f58}}`, relative
 * to the job's cwd.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { encodeJobId, encodeF58, type JobId } from '../../common/libjob/jobid';
import type { JsonValue } from '../../common/libjob/json';

export interface StreamFile {
  path: string;
  label: boolean;
}

export interface JobIo {
  stdout?: StreamFile;
  stderr?: StreamFile;
  /** File read into every task's stdin. */
  stdin?: string;
}

function obj(v: JsonValue | undefined): Record<string, JsonValue> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? v : {};
}

/** `{{id}}`, `{{jobid}}`, `{{id.ENC}}` in a path. */
export function expandTemplate(p: string, id: JobId): string {
  return p.replace(/\{\{\s*(id|jobid)(?:\.([a-z0-9]+))?\s*\}\}/g, (_m, _k: string, enc?: string) => (enc ? encodeJobId(id, enc) : encodeF58(id)));
}

/** The redirections a jobspec asks for (none: everything through guest.output). */
export function jobIo(jobspec: Record<string, JsonValue>, id: JobId, cwd: string | undefined): JobIo {
  const opts = obj(obj(obj(obj(jobspec.attributes).system).shell).options);
  const out = obj(opts.output);
  const resolve = (p: string): string => path.resolve(cwd ?? '/', expandTemplate(p, id));
  const file = (s: Record<string, JsonValue>): StreamFile | undefined =>
    s.type === 'file' && typeof s.path === 'string' ? { path: resolve(s.path), label: s.label === true } : undefined;
  const stdout = file(obj(out.stdout));
  // flux-core: --output alone takes stderr too
  const stderr = file(obj(out.stderr)) ?? (stdout ? { ...stdout } : undefined);
  const inp = obj(obj(opts.input).stdin);
  const stdin = inp.type === 'file' && typeof inp.path === 'string' ? resolve(inp.path) : undefined;
  return { stdout, stderr, stdin };
}

/**
 * One output file, written in the order data arrives (appends chained), truncated when opened,
 * shared by the streams that name the same path; each task's lines labelled when asked.
 */
export class OutputFile {
  private tail: Promise<void>;
  private fh: fs.promises.FileHandle | undefined;
  private readonly lineStart = new Map<string, boolean>();
  failed: string | undefined;

  constructor(readonly path: string) {
    this.tail = fs.promises.open(path, 'w').then((fh) => {
      this.fh = fh;
    }, (e: unknown) => {
      this.failed = `${path}: ${e instanceof Error ? e.message : String(e)}`;
    });
  }

  write(task: number, stream: string, data: Buffer, label: boolean): void {
    let chunk = data;
    if (label) {
      const key = `${task}:${stream}`;
      const s = data.toString('utf8');
      let text = '';
      let start = 0;
      while (start < s.length) {
        if (this.lineStart.get(key) !== false) text += `${task}: `;
        const nl = s.indexOf('\n', start);
        const end = nl < 0 ? s.length : nl + 1;
        text += s.slice(start, end);
        this.lineStart.set(key, nl >= 0);
        start = end;
      }
      chunk = Buffer.from(text, 'utf8');
    }
    this.tail = this.tail.then(async () => {
      if (this.fh) await this.fh.write(chunk);
    }).catch((e: unknown) => {
      this.failed ??= `${this.path}: ${e instanceof Error ? e.message : String(e)}`;
    });
  }

  /** Everything written, the file closed. */
  async close(): Promise<void> {
    await this.tail;
    await this.fh?.close();
    this.fh = undefined;
  }
}
