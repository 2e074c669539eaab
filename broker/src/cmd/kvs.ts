/**
 * `flux kvs`: flux-core's flux-kvs(1). This file is the subcommand table and the top-level
 * usage; each group of subcommands lives in its own kvs-*.ts file and is loaded only when run,
 * so `flux kvs get` evaluates nothing of `ls`, `dir` or `eventlog`.
 */
import { Exit } from './cli';
import type { Command } from './cli';

interface SubEntry {
  doc: string;
  run: Command;
}

const SUBCOMMANDS: Record<string, SubEntry> = {
  namespace: { doc: 'Perform KVS namespace operations', run: async (a) => (await import('./kvs-namespace.js')).cmdNamespace(a) },
  get: { doc: 'Get value stored under key', run: async (a) => (await import('./kvs-get.js')).cmdGet(a) },
  put: { doc: 'Store value under key', run: async (a) => (await import('./kvs-get.js')).cmdPut(a) },
  dir: { doc: 'Display all keys under directory', run: async (a) => (await import('./kvs-ls.js')).cmdDir(a) },
  ls: { doc: 'List directory', run: async (a) => (await import('./kvs-ls.js')).cmdLs(a) },
  unlink: { doc: 'Remove key', run: async (a) => (await import('./kvs-write.js')).cmdUnlink(a) },
  link: { doc: 'Create a new name for target', run: async (a) => (await import('./kvs-write.js')).cmdLink(a) },
  readlink: { doc: 'Retrieve the key a link refers to', run: async (a) => (await import('./kvs-write.js')).cmdReadlink(a) },
  mkdir: { doc: 'Create a directory', run: async (a) => (await import('./kvs-write.js')).cmdMkdir(a) },
  copy: { doc: 'Copy source key to destination key', run: async (a) => (await import('./kvs-write.js')).cmdCopy(a, false) },
  move: { doc: 'Move source key to destination key', run: async (a) => (await import('./kvs-write.js')).cmdCopy(a, true) },
  version: { doc: 'Display current KVS version', run: async (a) => (await import('./kvs-root.js')).cmdVersion(a) },
  wait: { doc: 'Block until the KVS reaches version', run: async (a) => (await import('./kvs-root.js')).cmdWait(a) },
  getroot: { doc: 'Get KVS root treeobj', run: async (a) => (await import('./kvs-root.js')).cmdGetroot(a) },
  sync: { doc: 'sync content and checkpoint to disk', run: async (a) => (await import('./kvs-root.js')).cmdSync(a) },
  eventlog: { doc: 'Manipulate a KVS eventlog', run: async (a) => (await import('./kvs-eventlog.js')).cmdEventlog(a) },
};

/** flux-kvs's usage(): printed on stderr, exit 1, for no command, an unknown one, or --help. */
export function kvsUsage(): string {
  const lines = [
    'Usage: flux-kvs [OPTIONS] COMMAND ARGS',
    '  -h, --help             Display this message.',
    '',
    'Common commands from flux-kvs:',
  ];
  for (const [name, e] of Object.entries(SUBCOMMANDS)) lines.push(`   ${name.padEnd(15)} ${e.doc}`);
  return lines.join('\n') + '\n';
}

export async function kvs(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  if (cmd === '--') return kvs(rest);
  if (cmd !== undefined && cmd.startsWith('-') && cmd !== '-h' && cmd !== '--help' && !'--help'.startsWith(cmd)) {
    process.stderr.write(`flux-kvs: unrecognized option '${cmd}'\nTry \`flux-kvs --help' for more information.\n`);
    throw new Exit(1);
  }
  const e = cmd !== undefined ? SUBCOMMANDS[cmd] : undefined;
  if (!e) {
    process.stderr.write(kvsUsage());
    throw new Exit(1);
  }
  await e.run(rest);
}
