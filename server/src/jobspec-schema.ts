/**
 * What each place in a jobspec may hold, in our own words, with links to the RFCs: the keys of each
 * mapping, the values some keys take. Completion and hover read this.
 */
import { KNOWN_SHELL_OPTIONS, KNOWN_SYSTEM_ATTRIBUTES, type Path } from '../../broker/src/common/libjob/jobspec-validate';

export const RFC14 = 'https://flux-framework.readthedocs.io/projects/flux-rfc/en/latest/spec_14.html';
export const RFC25 = 'https://flux-framework.readthedocs.io/projects/flux-rfc/en/latest/spec_25.html';
export const RFC31 = 'https://flux-framework.readthedocs.io/projects/flux-rfc/en/latest/spec_31.html';
export const RFC23 = 'https://flux-framework.readthedocs.io/projects/flux-rfc/en/latest/spec_23.html';
export const SHELL_DOC = 'https://flux-framework.readthedocs.io/projects/flux-core/en/latest/man1/flux-shell.html';

export type Context =
  | 'top' | 'resource' | 'range' | 'task' | 'task-count' | 'attributes' | 'system' | 'job' | 'shell'
  | 'shell-options' | 'constraint' | 'dependency' | 'environment' | 'user' | 'unknown';

/** Which kind of mapping the path names. */
export function contextOf(path: Path): Context {
  const n = path.length;
  if (n === 0) return 'top';
  const last = path[n - 1];
  if (path[0] === 'resources') {
    if (typeof last === 'number') return 'resource';
    if (last === 'count' && typeof path[n - 2] === 'number') return 'range';
    return 'unknown';
  }
  if (path[0] === 'tasks') {
    if (n === 2 && typeof last === 'number') return 'task';
    if (n === 3 && last === 'count') return 'task-count';
    return 'unknown';
  }
  if (path[0] === 'attributes') {
    if (n === 1) return 'attributes';
    if (path[1] === 'user') return n === 2 ? 'user' : 'unknown';
    if (path[1] !== 'system') return 'unknown';
    if (n === 2) return 'system';
    if (n === 3 && last === 'job') return 'job';
    if (n === 3 && last === 'shell') return 'shell';
    if (n === 3 && last === 'environment') return 'environment';
    if (n === 4 && path[2] === 'shell' && last === 'options') return 'shell-options';
    if (path[2] === 'constraints') return typeof last === 'number' || n === 3 || ['and', 'or', 'not'].includes(String(path[n - 2])) ? 'constraint' : 'unknown';
    if (n === 4 && path[2] === 'dependencies' && typeof last === 'number') return 'dependency';
  }
  return 'unknown';
}

export interface KeyDoc {
  doc: string;
  /** Snippet inserted after `key:` (YAML); default a space. */
  yaml?: string;
  required?: boolean;
  link?: string;
}

export const KEYS: Partial<Record<Context, Record<string, KeyDoc>>> = {
  top: {
    version: { doc: 'Jobspec version. Flux accepts version 1 (RFC 25): one task, resources that start with a node or a slot, and a duration.', yaml: ' 1', required: true, link: RFC25 },
    resources: { doc: 'The resources the job asks for: a list of resource vertices (type, count, optional nested `with`). In version 1 the list starts with a `node` or a `slot`, and a `slot` groups what one task gets.', yaml: '\n  - type: ${1|slot,node|}\n    count: ${2:1}\n    label: ${3:task}\n    with:\n      - type: core\n        count: ${4:1}', required: true, link: RFC14 },
    tasks: { doc: 'What to run in the slots: a list with one task in version 1, each naming a slot label, a command and a task count.', yaml: '\n  - command: [${1:hostname}]\n    slot: ${2:task}\n    count:\n      per_slot: 1', required: true, link: RFC14 },
    attributes: { doc: 'Everything else about the job: `system` attributes that Flux reads (duration, cwd, environment, shell options…) and free-form `user` attributes.', yaml: '\n  system:\n    duration: ${1:0}', required: true, link: RFC14 },
  },
  resource: {
    type: { doc: 'The kind of resource. Version 1 knows `node`, `slot`, `core` and `gpu`; a `slot` is the group of resources one task runs in.', required: true, link: RFC25 },
    count: { doc: 'How many of this resource, per enclosing resource: a positive integer (version 1), or in RFC 14 a range `{min, max, operator, operand}` or a string such as `"2-8"` or `"4+"`.', required: true, link: RFC14 },
    with: { doc: 'The resources inside each one of this resource: a list of resource vertices (a node *with* slots, a slot *with* cores and GPUs).', yaml: '\n  - type: ${1|core,gpu,slot|}\n    count: ${2:1}', link: RFC14 },
    label: { doc: 'A name for this resource. Every `slot` needs one; the task refers to it with `slot:`.', link: RFC14 },
    exclusive: { doc: 'Ask for the resource whole: no other job shares it (for a node: the whole node). true or false.', link: RFC14 },
    unit: { doc: 'The unit of the count, for resources counted in amounts (such as memory).', link: RFC14 },
    id: { doc: 'A specific resource by name (rarely used).', link: RFC14 },
  },
  range: {
    min: { doc: 'The smallest count acceptable (required in a range).', required: true, link: RFC14 },
    max: { doc: 'The largest count wanted (at least `min`).', link: RFC14 },
    operator: { doc: 'How counts grow from `min` towards `max`: `+` (add), `*` (multiply) or `^` (power).', link: RFC14 },
    operand: { doc: 'The step used with `operator`; more than 1 for `*` and `^`.', link: RFC14 },
  },
  task: {
    command: { doc: 'The program and its arguments, as a list of strings (no shell).', yaml: ' [${1:hostname}]', required: true, link: RFC14 },
    slot: { doc: 'The label of the slot the tasks run in (a `label:` of a `type: slot` resource).', required: true, link: RFC14 },
    count: { doc: 'How many tasks: `per_slot: N` (N in each slot; version 1 wants 1) or `total: N` (spread over the slots).', yaml: '\n  per_slot: ${1:1}', required: true, link: RFC14 },
    attributes: { doc: 'Attributes of this task (free-form).', link: RFC14 },
  },
  'task-count': {
    per_slot: { doc: 'Tasks started in every slot (version 1: 1).', link: RFC25 },
    total: { doc: 'Tasks in all, spread over the slots.', link: RFC25 },
    per_resource: { doc: 'RFC 14: tasks per resource of a type (not in version 1).', link: RFC14 },
  },
  attributes: {
    system: { doc: 'Attributes Flux itself reads: `duration` (required in version 1), `cwd`, `environment`, `shell`, `queue`, `job.name`…', yaml: '\n  duration: ${1:0}', required: true, link: RFC25 },
    user: { doc: 'Free-form attributes for the user and their tools; Flux ignores them.', link: RFC14 },
  },
  system: {
    duration: { doc: 'Time limit in seconds (a number; 0 means no limit). Flux raises a `timeout` exception when it is reached. On the command line this is an FSD like `10m` (RFC 23); here it is seconds.', yaml: ' ${1:3600}', required: true, link: RFC25 },
    cwd: { doc: 'Working directory of the tasks.', link: RFC25 },
    environment: { doc: 'Environment variables of the tasks, a mapping NAME: value. Empty if omitted (`flux run` copies yours).', yaml: '\n  ${1:NAME}: ${2:value}', link: RFC25 },
    queue: { doc: 'The queue to submit to.', link: RFC25 },
    bank: { doc: 'The accounting bank to charge (flux-accounting).', link: RFC25 },
    project: { doc: 'The project to charge.', link: RFC25 },
    dependencies: { doc: 'Jobs this one waits for: a list of `{scheme, value}` (e.g. `afterok`, a job id).', yaml: '\n  - scheme: ${1|afterok,afterany,afternotok,after,begin-time|}\n    value: ${2}', link: RFC25 },
    constraints: { doc: 'RFC 31 constraints on the resources: `properties`, `hostlist`, `ranks`, combined with `and`, `or`, `not`.', yaml: '\n  properties: [${1}]', link: RFC31 },
    job: { doc: 'Job metadata such as `name` (what `flux jobs` shows).', yaml: '\n  name: ${1:myjob}', link: RFC25 },
    shell: { doc: 'Options for the job shell: `shell.options.NAME`, as `flux run -o NAME=VALUE` sets them.', yaml: '\n  options:\n    ${1:cpu-affinity}: ${2:on}', link: SHELL_DOC },
    files: { doc: 'Files the job shell writes into the job\'s working directory before the tasks start (`flux run --add-file`).', link: SHELL_DOC },
    exec: { doc: 'Options for the execution system (job-exec), such as `test` settings.', link: RFC25 },
    R: { doc: 'Resources given in advance (R, RFC 20), for instances that bypass the scheduler.', link: RFC25 },
    'alloc-bypass': { doc: 'Set by the alloc-bypass plugin: run on the resources in `R` without the scheduler (instance owner only).', link: RFC25 },
  },
  job: {
    name: { doc: 'The job name shown by `flux jobs` (default: the command\'s base name).', link: RFC25 },
  },
  shell: {
    options: { doc: 'Job shell options by name (`flux run -o NAME[=VALUE]`).', yaml: '\n  ${1:cpu-affinity}: ${2:on}', link: SHELL_DOC },
  },
  constraint: {
    properties: { doc: 'Resources must have all of these properties (a `^name` means must not).', yaml: ' [${1}]', link: RFC31 },
    hostlist: { doc: 'Resources must be on these hosts (hostlists such as `node[1-4]`).', yaml: ' [${1}]', link: RFC31 },
    ranks: { doc: 'Resources must be on these broker ranks (idsets such as `0-3`).', yaml: ' [${1}]', link: RFC31 },
    and: { doc: 'All of the constraints in the list.', link: RFC31 },
    or: { doc: 'Any one of the constraints in the list.', link: RFC31 },
    not: { doc: 'None of the constraints in the list.', link: RFC31 },
  },
  dependency: {
    scheme: { doc: 'The kind of dependency: `afterok`, `afterany`, `afternotok`, `after`, `begin-time`…', link: RFC25 },
    value: { doc: 'What the scheme depends on: a job id, or for `begin-time` a time.', link: RFC25 },
  },
};

const SHELL_OPTION_DOCS: Record<string, string> = {
  rlimit: 'Resource limits of the tasks: a mapping such as `{nofile: 1024}` (`flux run` copies yours).',
  signal: 'Signal the tasks some time before the time limit: `{signum, timeleft}`.',
  taskmap: 'How tasks are laid out over the nodes: `{scheme: block|cyclic|manual|hostfile, value}`.',
  'per-resource': 'Start tasks per resource rather than per slot: `{type, count}`.',
  output: 'Where task output goes: `{stdout: {type: file, path}, stderr: …}`; default the KVS (`flux job attach`).',
  input: 'Where task input comes from: `{stdin: {type: file, path}}`.',
  verbose: 'Job shell log level (1, 2…).',
  'cpu-affinity': 'Bind tasks to CPUs: `on` (the slot\'s cores), `per-task`, `off`, or a list of cpusets.',
  'gpu-affinity': 'Restrict tasks to GPUs with CUDA_VISIBLE_DEVICES: `on`, `per-task`, `off`.',
  'stop-tasks-in-exec': 'Stop tasks at exec for a debugger.',
  pty: 'Run tasks under a pseudo-terminal: `{ranks, interactive}`.',
  mpi: 'MPI personality such as `spectrum` or `none`.',
  pmi: 'PMI implementations offered to the tasks, e.g. `simple,cray-pals`.',
  'pmi-simple': 'Options of the simple PMI server.',
  hwloc: 'hwloc options: `{xmlfile: true}` writes the topology for the tasks.',
  'env-expand': 'Environment variables to expand with mustache templates.',
  nosetpgrp: 'Do not put each task in its own process group.',
  'exit-timeout': 'After the first task exits, how long to wait for the others (FSD or `none`).',
  'exit-on-error': 'End the job as soon as a task fails.',
  userrc: 'A Lua file with extra job shell setup.',
  tmpdir: 'Create a per-job temporary directory (FLUX_JOB_TMPDIR).',
  'stage-in': 'Copy archives (flux archive) into the job before it starts.',
  oom: 'Report tasks killed for using too much memory.',
  sdmon: 'Monitor the job\'s systemd unit.',
  'kill-timeout': 'Delay before SIGKILL after the job\'s termination signal.',
  batch: 'Used by `flux batch`: the batch script and its options.',
  nice: 'Nice value of the tasks.',
  'cray-pals': 'Cray PALS PMI options.',
  initrc: 'A Lua file replacing the job shell\'s initrc.',
  interactive: 'Run the job interactively (pty on rank 0).',
};

export function shellOptionKeys(): Record<string, KeyDoc> {
  const out: Record<string, KeyDoc> = {};
  for (const k of new Set<string>(KNOWN_SHELL_OPTIONS)) out[k] = { doc: SHELL_OPTION_DOCS[k] ?? 'A job shell option.', link: SHELL_DOC };
  return out;
}

export function keysFor(ctx: Context): Record<string, KeyDoc> {
  if (ctx === 'shell-options') return shellOptionKeys();
  const k = KEYS[ctx] ?? {};
  if (ctx === 'system') for (const a of KNOWN_SYSTEM_ATTRIBUTES) if (!(a in k)) k[a] = { doc: 'A system attribute.', link: RFC25 };
  return k;
}

export interface ValueChoice {
  label: string;
  doc: string;
  insert?: string;
}

export const RESOURCE_TYPES: ValueChoice[] = [
  { label: 'node', doc: 'A whole compute node (in version 1 the outermost resource, or none).' },
  { label: 'slot', doc: 'What one task gets: a labelled group of cores and GPUs.' },
  { label: 'core', doc: 'A CPU core, inside a slot.' },
  { label: 'gpu', doc: 'A GPU, inside a slot.' },
];

/** Value choices for the value at `path` (the last element is the key). */
export function valuesFor(path: Path, labels: string[]): ValueChoice[] {
  const key = path[path.length - 1];
  const ctx = contextOf(path.slice(0, -1));
  if (ctx === 'top' && key === 'version') return [{ label: '1', doc: 'RFC 25 version 1' }];
  if (ctx === 'resource' && key === 'type') return RESOURCE_TYPES;
  if (ctx === 'resource' && key === 'exclusive') return [{ label: 'true', doc: 'Nothing else shares it.' }, { label: 'false', doc: 'May be shared (default).' }];
  if (ctx === 'resource' && key === 'unit') return ['B', 'KB', 'MB', 'GB', 'TB', 'KiB', 'MiB', 'GiB', 'TiB'].map((u) => ({ label: u, doc: `count in ${u}` }));
  if (ctx === 'resource' && key === 'count') return [{ label: '1', doc: 'one' }, { label: '{min: 1, max: 4}', doc: 'a range (RFC 14, not version 1)', insert: '{min: ${1:1}, max: ${2:4}}' }];
  if (ctx === 'range' && key === 'operator') return ['+', '*', '^'].map((o) => ({ label: `'${o}'`, doc: `operator ${o}` }));
  if (ctx === 'task' && key === 'slot') return labels.map((l) => ({ label: l, doc: 'a slot label of this jobspec' }));
  if (ctx === 'task-count' && key === 'per_slot') return [{ label: '1', doc: 'one task per slot (version 1)' }];
  if (ctx === 'system' && key === 'duration')
    return [
      { label: '0', doc: 'no time limit' },
      { label: '60', doc: '1m (seconds)' },
      { label: '600', doc: '10m (seconds)' },
      { label: '3600', doc: '1h (seconds)' },
      { label: '86400', doc: '1d (seconds)' },
    ];
  if (ctx === 'shell-options' && (key === 'cpu-affinity' || key === 'gpu-affinity'))
    return ['on', 'per-task', 'off'].map((v) => ({ label: v, doc: `${key}=${v}` }));
  if (ctx === 'shell-options' && key === 'exit-timeout') return ['none', '30s', '1m'].map((v) => ({ label: v, doc: 'FSD (RFC 23)' }));
  if (ctx === 'dependency' && key === 'scheme')
    return ['afterok', 'afterany', 'afternotok', 'after', 'afterexcept', 'begin-time', 'singleton'].map((v) => ({ label: v, doc: `dependency scheme ${v}` }));
  return [];
}
