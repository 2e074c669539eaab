/** dist/server.js: the jobspec language server process (VS Code starts it with --node-ipc). */
import { createConnection, ProposedFeatures } from 'vscode-languageserver/node';
import { startServer } from './server';

startServer(createConnection(ProposedFeatures.all));
