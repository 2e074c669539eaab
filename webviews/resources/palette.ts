/**
 * The resource graph's colours, all theme colours (--vscode-*: light, dark and high contrast
 * read), the same variables the legend in style.css uses. The canvas cannot use CSS variables,
 * so the page reads them (`cssVar`) whenever a snapshot comes.
 */
export interface Palette {
  free: string; allocated: string; reserved: string; down: string; drained: string; offline: string; placed: string;
  line: string; text: string; match: string;
}

export function makePalette(cssVar: (name: string, fallback: string) => string): Palette {
  return {
    free: cssVar('--vscode-charts-green', '#3c3'),
    allocated: cssVar('--vscode-charts-blue', '#39f'),
    reserved: cssVar('--vscode-charts-purple', '#a6f'),
    down: cssVar('--vscode-charts-red', '#d33'),
    drained: cssVar('--vscode-charts-orange', '#e90'),
    offline: cssVar('--vscode-disabledForeground', '#888'),
    // The placement is drawn over the state colours: the text colour stands out from all of them, in any theme.
    placed: cssVar('--vscode-editor-foreground', cssVar('--vscode-foreground', '#ccc')),
    line: cssVar('--vscode-editorIndentGuide-activeBackground1', cssVar('--vscode-foreground', '#888')),
    text: cssVar('--vscode-foreground', '#ccc'),
    match: cssVar('--vscode-focusBorder', '#fc0'),
  };
}
