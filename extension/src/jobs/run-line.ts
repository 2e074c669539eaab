/**
 * The command line of `Flux: Run Command as Job…`: a few of flux run's options, then the
 * command (under `sh -c` when it has shell syntax). No `vscode` import (unit-tested).
 */
import type { CommandLineOptions } from '../../../broker/src/common/libjob/jobspec-cli';

/** Shell-like words: quotes and backslashes as sh reads them (no expansion). */
export function splitWords(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let has = false;
  let q: '"' | "'" | undefined;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (q) {
      if (ch === q) q = undefined;
      else if (ch === '\\' && q === '"' && i + 1 < line.length) cur += line[++i];
      else cur += ch;
    } else if (ch === '"' || ch === "'") {
      q = ch;
      has = true;
    } else if (ch === '\\' && i + 1 < line.length) {
      cur += line[++i];
      has = true;
    } else if (/\s/.test(ch)) {
      if (has || cur) out.push(cur);
      cur = '';
      has = false;
    } else {
      cur += ch;
      has = true;
    }
  }
  if (q) throw new Error('unterminated quote');
  if (has || cur) out.push(cur);
  return out;
}

const SHELL_SYNTAX = /[|&;<>()$`*?[\]~{}]/;

/**
 * `[-n N] [-N N] [-c N] [-g N] [-t FSD] [--job-name NAME] COMMAND...` as flux run reads those
 * options; a command with shell syntax (pipes, `;`, `$VAR`...) runs under `sh -c`.
 */
export function parseRunLine(line: string): Pick<CommandLineOptions, 'command' | 'ntasks' | 'nodes' | 'coresPerTask' | 'gpusPerTask' | 'timeLimit' | 'jobName'> {
  const words = splitWords(line.trim());
  const o: ReturnType<typeof parseRunLine> = { command: [] };
  const opts: Record<string, 'ntasks' | 'nodes' | 'coresPerTask' | 'gpusPerTask' | 'timeLimit' | 'jobName'> = {
    '-n': 'ntasks', '--ntasks': 'ntasks', '-N': 'nodes', '--nodes': 'nodes', '-c': 'coresPerTask', '--cores-per-task': 'coresPerTask',
    '-g': 'gpusPerTask', '--gpus-per-task': 'gpusPerTask', '-t': 'timeLimit', '--time-limit': 'timeLimit', '--job-name': 'jobName',
  };
  let i = 0;
  for (; i < words.length; i++) {
    const w = words[i];
    if (w === '--') {
      i++;
      break;
    }
    const long = /^(--[a-z-]+)=(.*)$/.exec(w);
    const short = /^(-[nNcgt])(.+)$/.exec(w);
    if (long && opts[long[1]]) o[opts[long[1]]] = long[2];
    else if (short) o[opts[short[1]]] = short[2];
    else if (opts[w]) {
      if (i + 1 >= words.length) throw new Error(`${w}: missing argument`);
      o[opts[w]] = words[++i];
    } else break;
  }
  const rest = words.slice(i);
  if (rest.length === 0) throw new Error('job command and arguments are missing');
  // the command's own text, under sh -c, when it has shell syntax outside quotes (`a; b`, `$HOME`, `a | b`)
  const text = line.slice(optionPrefixLength(line, words.length - rest.length)).trim();
  if (unquotedShellSyntax(text)) {
    o.command = ['sh', '-c', text];
    o.jobName ??= rest[0];
  } else o.command = rest;
  return o;
}

/** Whether `text` has a shell metacharacter outside quotes (and not escaped). */
function unquotedShellSyntax(text: string): boolean {
  let q: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (q) {
      if (ch === q) q = undefined;
      else if (q === '"' && (ch === '$' || ch === '`')) return true; // expanded inside double quotes
      else if (q === '"' && ch === '\\') i++;
    } else if (ch === '"' || ch === "'") q = ch;
    else if (ch === '\\') i++;
    else if (SHELL_SYNTAX.test(ch)) return true;
  }
  return false;
}

/** Where the n-th word ends in `line` (for keeping the command's own text). */
function optionPrefixLength(line: string, nWords: number): number {
  let pos = 0;
  for (let k = 0; k < nWords; k++) {
    while (pos < line.length && /\s/.test(line[pos])) pos++;
    let q: string | undefined;
    while (pos < line.length && (q || !/\s/.test(line[pos]))) {
      const ch = line[pos];
      if (q) {
        if (ch === q) q = undefined;
      } else if (ch === '"' || ch === "'") q = ch;
      else if (ch === '\\') pos++;
      pos++;
    }
  }
  return pos;
}
