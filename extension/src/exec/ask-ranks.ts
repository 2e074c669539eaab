/** The input box for an idset of ranks ("all", "1-3", "0,2"), checked as the user types. */
import * as vscode from 'vscode';
import { parseRanks } from './run-session';

/** Resolves to the text typed (undefined if dismissed); parse it with parseRanks. */
export function askRanks(title: string, prompt: string, size: number): Thenable<string | undefined> {
  return vscode.window.showInputBox({
    title,
    prompt: `${prompt} (this instance: 0-${size - 1})`,
    value: size > 1 ? `1-${size - 1}` : '0',
    validateInput: (v) => {
      try {
        parseRanks(v, size);
        return undefined;
      } catch (e) {
        return e instanceof Error ? e.message : String(e);
      }
    },
  });
}
