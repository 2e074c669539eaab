/**
 * Jobspec editor commands: New Jobspec (from the bundled snippets), Submit / Run / Dry run of the
 * jobspec in the editor (code lenses and editor-title buttons), and Jobspec from Command Line
 * (`flux run --dry-run ARGS` of the bundled CLI, as a YAML document).
 */
import { fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { stringify } from 'yaml';
import { submitJobspec } from '../../../broker/src/cmd/job-common';
import { encodeF58 } from '../../../broker/src/common/libjob/jobid';
import { jjGetCounts } from '../../../broker/src/common/libjob/jobspec-jj';
import { validateJobspec } from '../../../broker/src/common/libjob/jobspec-validate';
import { isJsonUri, parseJobspec } from '../../../server/src/jobspec-doc';
import type { CommandContext, Handler } from '../commands/context';
import { reported } from '../util/report';
import { checkFeasibility, JOBSPEC_LANGUAGE } from './jobspec-client';

/** Shell-like words: single and double quotes and backslashes as sh reads them (no expansion). */
export function splitWords(line: string): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let q: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (q) {
      if (ch === q) q = undefined;
      else if (ch === '\\' && q === '"' && i + 1 < line.length && '"\\$`'.includes(line[i + 1])) cur += line[++i];
      else cur += ch;
    } else if (ch === "'" || ch === '"') {
      q = ch;
      inWord = true;
    } else if (ch === '\\' && i + 1 < line.length) {
      cur += line[++i];
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += ch;
      inWord = true;
    }
  }
  if (q) throw new Error(`unterminated ${q} quote`);
  if (inWord) words.push(cur);
  return words;
}

interface Snippet {
  prefix: string;
  description: string;
  body: string[];
}

function readSnippets(extensionPath: string): Record<string, Snippet> {
  return JSON.parse(fs.readFileSync(path.join(extensionPath, 'snippets', 'flux-jobspec.json'), 'utf8')) as Record<string, Snippet>;
}

function documentOf(arg: unknown): vscode.TextDocument | undefined {
  const uri = typeof arg === 'string' ? arg : arg instanceof vscode.Uri ? arg.toString() : undefined;
  if (uri) return vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri);
  const ed = vscode.window.activeTextEditor;
  return ed?.document.languageId === JOBSPEC_LANGUAGE ? ed.document : undefined;
}

/** The document's jobspec as JSON text for job-ingest; a readable error when it does not parse. */
export function jobspecJson(doc: vscode.TextDocument): { value: unknown; json: string } {
  const p = parseJobspec(doc.getText(), isJsonUri(doc.uri.path));
  const err = p.syntaxErrors.find((e) => e.severity === 'error');
  if (err) {
    const pos = doc.positionAt(err.start);
    throw new Error(`${path.basename(doc.uri.path)}:${pos.line + 1}:${pos.character + 1}: ${err.message}`);
  }
  return { value: p.value, json: JSON.stringify(p.value) };
}

export interface DryRunResult {
  /** job-ingest's answer: undefined when it would accept the jobspec. */
  rejected?: string;
  feasibility: 'ok' | 'infeasible' | 'unknown';
  message: string;
}

/** `flux run --dry-run ARGS` of the bundled CLI: the jobspec it prints. */
function dryRunCli(fluxJs: string, args: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = fork(fluxJs, ['run', '--dry-run', ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe', 'ipc'], execArgv: [] });
    let out = '';
    let err = '';
    child.stdout?.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr?.on('data', (b: Buffer) => (err += b.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(err.trim() || `flux run --dry-run exited with ${String(code)}`))));
  });
}

export function jobspecCommands(ctx: CommandContext): Record<string, Handler> {
  const { instance, log, jobs, extensionPath } = ctx;

  const newJobspec = async (name?: unknown): Promise<vscode.TextEditor | undefined> => {
    const snippets = readSnippets(extensionPath);
    let key = typeof name === 'string' && name in snippets ? name : undefined;
    if (!key) {
      const pick = await vscode.window.showQuickPick(Object.entries(snippets).map(([k, s]) => ({ label: k, description: s.description, key: k })), { title: 'Flux: New Jobspec' });
      if (!pick) return undefined;
      key = pick.key;
    }
    const doc = await vscode.workspace.openTextDocument({ language: JOBSPEC_LANGUAGE, content: '' });
    const ed = await vscode.window.showTextDocument(doc);
    await ed.insertSnippet(new vscode.SnippetString(snippets[key].body.join('\n') + '\n'));
    return ed;
  };

  const submit = async (arg?: unknown, follow = false): Promise<string | undefined> => {
    const doc = documentOf(arg);
    if (!doc) throw new Error('no jobspec document to submit');
    return reported(log, `submit ${path.basename(doc.uri.path)}`, async () => {
      const h = instance.requireFlux();
      const { json } = jobspecJson(doc);
      const id = await submitJobspec(h, json, 16, 0);
      const f58 = encodeF58(id);
      log.info(`submitted ${f58} from ${doc.uri.toString()}`);
      if (follow) {
        // Run: `flux job attach ID` in a terminal, as `flux run` would show it
        const term = vscode.window.createTerminal({
          name: `flux job attach ${f58}`,
          shellPath: process.execPath,
          shellArgs: [instance.fluxJs, 'job', 'attach', f58],
          env: { FLUX_URI: instance.uri, ELECTRON_RUN_AS_NODE: '1' },
        });
        term.show(true);
      } else
        void vscode.window.showInformationMessage(`Flux: submitted ${f58}`, 'Show Output').then((a) => {
          if (a === 'Show Output') void jobs.documents.open(id, 'output');
        });
      return f58;
    });
  };

  const dryRun = async (arg?: unknown): Promise<DryRunResult | undefined> => {
    const doc = documentOf(arg);
    if (!doc) throw new Error('no jobspec document');
    return reported(log, `dry run of ${path.basename(doc.uri.path)}`, async () => {
      const { value } = jobspecJson(doc);
      const v = validateJobspec(value);
      let r: DryRunResult;
      if (!v.valid) r = { rejected: v.errors[0].message, feasibility: 'unknown', message: `job-ingest would reject it: ${v.errors[0].message}` };
      else {
        const f = await checkFeasibility(instance, value);
        let need: string;
        try {
          const c = jjGetCounts(value);
          need = `${c.nslots} slot(s) of ${c.slot_size} core(s)${c.slot_gpus ? ` and ${c.slot_gpus} GPU(s)` : ''}${c.nnodes ? ` on ${c.nnodes} node(s)` : ''}${c.exclusive ? ', exclusive' : ''}, ${c.duration ? `${c.duration} s` : 'no time limit'}`;
        } catch (e) {
          need = e instanceof Error ? e.message : String(e);
        }
        const where = f.state === 'ok' ? 'the instance can run it' : f.state === 'infeasible' ? `the instance cannot run it: ${f.message ?? ''}` : 'no instance attached to check it against';
        r = { feasibility: f.state, message: `valid jobspec: ${need}; ${where}` };
      }
      log.info(`dry run: ${r.message}`);
      if (r.rejected || r.feasibility === 'infeasible') void vscode.window.showWarningMessage(`Flux: ${r.message}`);
      else void vscode.window.showInformationMessage(`Flux: ${r.message}`);
      return r;
    });
  };

  const fromCommandLine = async (line?: unknown): Promise<vscode.TextDocument | undefined> => {
    const text = typeof line === 'string' ? line : await vscode.window.showInputBox({
      title: 'Flux: Jobspec from Command Line',
      prompt: 'flux run options and command (as `flux run --dry-run` takes them)',
      placeHolder: '-N2 -n4 -t 10m hostname',
    });
    if (text === undefined || text.trim() === '') return undefined;
    return reported(log, 'jobspec from command line', async () => {
      const cwd = vscode.workspace.workspaceFolders?.find((f) => f.uri.scheme === 'file')?.uri.fsPath ?? os.homedir();
      const out = await dryRunCli(instance.fluxJs, splitWords(text), cwd);
      const value = JSON.parse(out) as unknown;
      const content = `# flux run --dry-run ${text.trim()}\n${stringify(value, { indent: 2, lineWidth: 0 })}`;
      const doc = await vscode.workspace.openTextDocument({ language: JOBSPEC_LANGUAGE, content });
      await vscode.window.showTextDocument(doc);
      return doc;
    });
  };

  return {
    'flux.jobspec.new': newJobspec,
    'flux.jobspec.submit': (arg?: unknown) => submit(arg, false),
    'flux.jobspec.run': (arg?: unknown) => submit(arg, true),
    'flux.jobspec.dryRun': dryRun,
    'flux.jobspec.fromCommandLine': fromCommandLine,
  };
}
