/**
 * The `flux` command: one table from subcommand name to implementation, and
 * flux-core's top-level help and errors.
 */
import { Exit, errln, out, type Command } from './cli';

// Every command is imported when it runs: a `flux kvs get` should not load what `flux start` needs.

interface Entry {
  run: Command;
  summary: string;
  section: string;
}

const COMMANDS: Record<string, Entry> = {
  start: { run: async (argv) => (await import('./start.js')).start(argv), summary: 'bootstrap a local Flux instance', section: 'other useful commands' },
  shutdown: { run: async (argv) => (await import('./shutdown.js')).shutdown(argv), summary: 'Shut down the Flux instance', section: 'other useful commands' },
  version: { run: async (argv) => (await import('./version.js')).version(argv), summary: 'Display flux version information', section: 'other useful commands' },
  uri: { run: async (argv) => (await import('./uri.js')).uri(argv), summary: 'resolve a target to a Flux URI', section: 'other useful commands' },
  getattr: { run: async (argv) => (await import('./attr.js')).getattr(argv), summary: 'get a broker attribute', section: 'get resource, queue and other instance information' },
  setattr: { run: async (argv) => (await import('./attr.js')).setattr(argv), summary: 'set a broker attribute', section: 'get resource, queue and other instance information' },
  lsattr: { run: async (argv) => (await import('./attr.js')).lsattr(argv), summary: 'list broker attributes', section: 'get resource, queue and other instance information' },
  startlog: { run: async (argv) => (await import('./startlog.js')).startlog(argv), summary: 'List Flux instance startlog', section: 'other useful commands' },
  config: { run: async (argv) => (await import('./config.js')).config(argv), summary: 'Manage configuration', section: 'other useful commands' },
  module: { run: async (argv) => (await import('./module.js')).module(argv), summary: 'manage broker modules', section: 'other useful commands' },
  modprobe: { run: async (argv) => (await import('./modprobe.js')).modprobe(argv), summary: 'load and remove modules with their dependencies (rc1/rc3)', section: 'other useful commands' },
  event: { run: async (argv) => (await import('./event.js')).event(argv), summary: 'publish and subscribe to Flux events', section: 'other useful commands' },
  dmesg: { run: async (argv) => (await import('./dmesg.js')).dmesg(argv), summary: 'manipulate broker log ring buffer', section: 'other useful commands' },
  logger: { run: async (argv) => (await import('./logger.js')).logger(argv), summary: 'create a Flux log entry', section: 'other useful commands' },
  overlay: { run: async (argv) => (await import('./overlay.js')).overlay(argv), summary: 'Show flux overlay network status', section: 'get resource, queue and other instance information' },
  ping: { run: async (argv) => (await import('./ping.js')).ping(argv), summary: 'measure round-trip latency to a service', section: 'get resource, queue and other instance information' },
  exec: { run: async (argv) => (await import('./exec.js')).exec(argv), summary: 'Execute processes across flux ranks', section: 'other useful commands' },
  kvs: { run: async (argv) => (await import('./kvs.js')).kvs(argv), summary: 'Flux key-value store utility', section: 'other useful commands' },
  archive: { run: async (argv) => (await import('./archive.js')).archive(argv), summary: 'Flux KVS file archive utility', section: 'other useful commands' },
  filemap: { run: async (argv) => (await import('./archive.js')).filemap(argv), summary: 'deprecated name of flux archive', section: 'other useful commands' },
  relay: { run: async (argv) => (await import('./relay.js')).relay(argv), summary: 'relay a local broker connection over stdin/stdout (ssh://)', section: 'other useful commands' },
  // jobs (issue 8)
  submit: { run: async (argv) => (await import('./submit.js')).submit(argv), summary: 'submit a job to a Flux instance', section: 'run and submit jobs, allocate resources' },
  run: { run: async (argv) => (await import('./submit.js')).run(argv), summary: 'run a Flux job interactively', section: 'run and submit jobs, allocate resources' },
  jobs: { run: async (argv) => (await import('./jobs.js')).jobs(argv), summary: 'list jobs submitted to Flux', section: 'list and interact with jobs' },
  cancel: { run: async (argv) => (await import('./cancel.js')).cancel(argv), summary: 'cancel one or more jobs', section: 'list and interact with jobs' },
  job: { run: async (argv) => (await import('./job.js')).job(argv), summary: 'get job status, info, etc (see: flux help job)', section: 'list and interact with jobs' },
  queue: { run: async (argv) => (await import('./queue.js')).queue(argv), summary: 'list and manipulate flux queues', section: 'get resource, queue and other instance information' },
  pstree: { run: async (argv) => (await import('./pstree.js')).pstree(argv), summary: 'display job hierarchies', section: 'list and interact with jobs' },
  resource: { run: async (argv) => (await import('./resource.js')).resource(argv), summary: 'list/manipulate Flux resource status', section: 'get resource, queue and other instance information' },
  'ion-resource': { run: async (argv) => (await import('./ion-resource.js')).ionResource(argv), summary: 'front end of the sched-fluxion-resource module (match, info, find, stats, params)', section: 'get resource, queue and other instance information' },
};

function help(): string {
  const lines = [
    'Usage: flux [OPTIONS] COMMAND ARGS',
    '  -h, --help             Display this message.',
    '  -V, --version          Display command and component versions',
    '',
    'For general Flux documentation, please visit',
    '    https://flux-framework.readthedocs.io',
  ];
  const sections = new Map<string, string[]>();
  for (const [name, e] of Object.entries(COMMANDS)) {
    sections.set(e.section, [...(sections.get(e.section) ?? []), `   ${name.padEnd(18)} ${e.summary}`]);
  }
  for (const [s, cmds] of sections) lines.push('', s, ...cmds);
  lines.push('', "See 'flux help COMMAND' for more information about a specific command.");
  return lines.join('\n') + '\n';
}

async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === '-h' || cmd === '--help' || (cmd === 'help' && rest.length === 0)) {
    out.write(help());
    if (cmd === undefined) throw new Exit(1);
    return;
  }
  if (cmd === '-V' || cmd === '--version') return COMMANDS.version.run(rest);
  if (cmd === 'help') return main([rest[0], '--help']);
  const e = COMMANDS[cmd];
  if (!e) {
    errln(`flux: \`${cmd}' is not a flux command.  See 'flux --help'`);
    throw new Exit(1);
  }
  await e.run(rest);
}

main(process.argv.slice(2))
  .then(() => out.flush())
  .then(() => process.exit(0))
  .catch(async (e: unknown) => {
    await out.flush();
    if (e instanceof Exit) process.exit(e.status);
    errln(`flux: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
    process.exit(1);
  });
