/**
 * The page every panel starts from: a strict Content-Security-Policy (nothing remote, scripts
 * only by nonce, styles and images only from the extension's own dist/webviews), the panel's
 * stylesheet and its script bundle around the body it gives.
 */
import * as crypto from 'node:crypto';
import * as path from 'node:path';
import * as vscode from 'vscode';

export function webviewRoot(extensionPath: string): vscode.Uri {
  return vscode.Uri.file(path.join(extensionPath, 'dist', 'webviews'));
}

export function panelOptions(extensionPath: string): vscode.WebviewPanelOptions & vscode.WebviewOptions {
  return { enableScripts: true, retainContextWhenHidden: false, localResourceRoots: [webviewRoot(extensionPath)] };
}

/** `bundle` names dist/webviews/BUNDLE.js and BUNDLE.css. */
export function panelHtml(webview: vscode.Webview, extensionPath: string, bundle: string, title: string, body: string): string {
  const base = webviewRoot(extensionPath);
  const script = webview.asWebviewUri(vscode.Uri.joinPath(base, `${bundle}.js`));
  const style = webview.asWebviewUri(vscode.Uri.joinPath(base, `${bundle}.css`));
  const nonce = crypto.randomBytes(16).toString('base64');
  const csp = [`default-src 'none'`, `style-src ${webview.cspSource}`, `script-src 'nonce-${nonce}'`, `img-src ${webview.cspSource}`].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${style.toString()}">
<title>${title}</title>
</head>
<body>
${body}
<script nonce="${nonce}" src="${script.toString()}"></script>
</body>
</html>`;
}
