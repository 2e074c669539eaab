/**
 * Job commands: Cancel (one job or the selection), Show Output, Show Eventlog, Resubmit, and
 * `Flux: Run Command as Job…`. Everything goes through flux-core 0.88's RPCs:
 * job-manager.raise (cancel), job-info.lookup (J, for resubmit), job-ingest.submit.
 */
import * as os from 'node:os';
import * as vscode from 'vscode';
import { submitJobspec } from '../../../broker/src/cmd/job-common';
import { jobspecFromCommandLine } from '../../../broker/src/common/libjob/jobspec-cli';
import { encodeF58, parseJobId, type JobId } from '../../../broker/src/common/libjob/jobid';
import { idJson, jsonPayload, payloadJson } from '../../../broker/src/common/libjob/rpc-json';
import { unwrapSigned } from '../../../broker/src/common/libjob/sign';
import type { CommandContext, Handler } from '../commands/context';
import { reported, withProgress } from '../util/report';
import type { JobEntry } from './jobs-journal';
import { JobNode } from './jobs-tree';
import { parseRunLine } from './run-line';

/** The command-line helpers live in run-line.ts (no `vscode` there); re-exported for other views. */
export { parseRunLine, splitWords } from './run-line';

/** A job from a command argument: a tree node, an entry, an id (any encoding) or `{id}`. */
function argJobId(a: unknown): JobId | undefined {
  if (a instanceof JobNode) return a.job.id;
  if (typeof a === 'bigint') return a;
  if (typeof a === 'string') return parseJobId(a);
  if (typeof a === 'object' && a !== null && 'id' in a) {
    const id = (a as { id: unknown }).id;
    if (typeof id === 'bigint') return id;
    if (typeof id === 'string' || typeof id === 'number') return parseJobId(String(id));
  }
  return undefined;
}

/** The jobs a command acts on: VS Code passes (clicked, selection) from a multi-select tree. */
function argJobIds(args: unknown[]): JobId[] {
  const [first, second] = args;
  const list = Array.isArray(second) && second.length > 0 ? second : Array.isArray(first) ? first : first === undefined ? [] : [first];
  const ids = list.map(argJobId).filter((x): x is JobId => x !== undefined);
  return [...new Set(ids)];
}

/** The environment a job gets from VS Code: the extension host's, without VS Code's own variables. */
function jobEnvironment(): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('VSCODE_') || k === 'ELECTRON_RUN_AS_NODE') continue;
    env[k] = v;
  }
  return env;
}

export interface RunResult {
  id: string;
  document: vscode.TextDocument;
}

export function jobCommands(ctx: CommandContext): Record<string, Handler> {
  const { instance, log, jobs } = ctx;

  const pickJobs = async (args: unknown[], filter: (j: JobEntry) => boolean, title: string, many: boolean): Promise<JobId[]> => {
    const ids = argJobIds(args);
    if (ids.length > 0) return ids;
    instance.requireFlux();
    const candidates = jobs.journal.all().filter(filter).sort((a, b) => b.sm.t_submit - a.sm.t_submit);
    if (candidates.length === 0) {
      void vscode.window.showInformationMessage(`Flux: no job to ${title.toLowerCase()}`);
      return [];
    }
    const items = candidates.map((j) => ({ label: j.f58, description: `${j.name} · ${j.group}`, id: j.id }));
    if (many) return ((await vscode.window.showQuickPick(items, { title, canPickMany: true })) ?? []).map((i) => i.id);
    const one = await vscode.window.showQuickPick(items, { title });
    return one ? [one.id] : [];
  };

  const cancel = async (...args: unknown[]): Promise<string[]> => {
    const ids = await pickJobs(args, (j) => j.group !== 'inactive', 'Cancel Jobs', true);
    if (ids.length === 0) return [];
    const h = instance.requireFlux();
    const what = ids.length === 1 ? `cancel ${encodeF58(ids[0])}` : `cancel ${ids.length} jobs`;
    return reported(log, what, () => withProgress(`Flux: canceling ${ids.length} job(s)…`, async () => {
      const results = await Promise.allSettled(ids.map((id) =>
        h.rpc('job-manager.raise', jsonPayload({ id: idJson(id), type: 'cancel', severity: 0, note: '' })).response()));
      const failed = results.map((r, i) => (r.status === 'rejected' ? `${encodeF58(ids[i])}: ${r.reason instanceof Error ? r.reason.message : String(r.reason)}` : undefined))
        .filter((s): s is string => s !== undefined);
      if (failed.length > 0) throw new Error(failed.join('; '));
      log.info(`canceled ${ids.map((id) => encodeF58(id)).join(' ')}`);
      return ids.map((id) => encodeF58(id));
    }));
  };

  const show = (kind: 'output' | 'eventlog') => async (...args: unknown[]): Promise<vscode.TextDocument | undefined> => {
    const [id] = await pickJobs(args.slice(0, 1), () => true, kind === 'output' ? 'Show Job Output' : 'Show Job Eventlog', false);
    if (id === undefined) return undefined;
    return reported(log, `${encodeF58(id)}: show ${kind}`, () => jobs.documents.open(id, kind));
  };

  const resubmit = async (...args: unknown[]): Promise<string | undefined> => {
    const [id] = await pickJobs(args.slice(0, 1), () => true, 'Resubmit Job', false);
    if (id === undefined) return undefined;
    const h = instance.requireFlux();
    return reported(log, `resubmit ${encodeF58(id)}`, async () => {
      // J holds the jobspec as submitted (with its environment); the KVS jobspec does not.
      const r = payloadJson<{ J?: unknown }>(await h.rpc('job-info.lookup', jsonPayload({ id: idJson(id), keys: ['J'], flags: 0 })).response());
      if (typeof r.J !== 'string') throw new Error('no J in the job-info.lookup answer');
      const text = unwrapSigned(r.J).payload.toString('utf8');
      const urgency = jobs.journal.get(id)?.sm.urgency ?? 16;
      const newId = await submitJobspec(h, text, urgency, 0);
      const f58 = encodeF58(newId);
      log.info(`resubmitted ${encodeF58(id)} as ${f58}`);
      void vscode.window.showInformationMessage(`Flux: ${encodeF58(id)} resubmitted as ${f58}`, 'Show Output').then((a) => {
        if (a === 'Show Output') void jobs.documents.open(newId, 'output');
      });
      return f58;
    });
  };

  const runCommand = async (line?: unknown): Promise<RunResult | undefined> => {
    instance.requireFlux();
    const text = typeof line === 'string' ? line : await vscode.window.showInputBox({
      title: 'Flux: Run Command as Job',
      prompt: 'Command line, optionally after flux run options: -n N, -N N, -c N, -g N, -t FSD, --job-name NAME (shell syntax runs under sh -c)',
      placeHolder: '-N2 -n4 hostname',
      validateInput: (v) => {
        try {
          parseRunLine(v);
          return undefined;
        } catch (e) {
          return e instanceof Error ? e.message : String(e);
        }
      },
    });
    if (text === undefined || text.trim() === '') return undefined;
    const h = instance.requireFlux();
    return reported(log, 'run command as job', async () => {
      const parsed = parseRunLine(text);
      const cwd = vscode.workspace.workspaceFolders?.find((f) => f.uri.scheme === 'file')?.uri.fsPath ?? os.homedir();
      const { text: jobspec } = jobspecFromCommandLine({ ...parsed, processCwd: cwd, environ: jobEnvironment() });
      const id = await submitJobspec(h, jobspec, 16, 0);
      log.info(`submitted ${encodeF58(id)}: ${parsed.command.join(' ')}`);
      const document = await jobs.documents.open(id, 'output');
      return { id: encodeF58(id), document };
    });
  };

  return {
    'flux.jobs.cancel': cancel,
    'flux.jobs.showOutput': show('output'),
    'flux.jobs.showEventlog': show('eventlog'),
    'flux.jobs.resubmit': resubmit,
    'flux.jobs.runCommand': runCommand,
  };
}
