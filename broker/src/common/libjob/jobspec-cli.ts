/**
 * The v1 jobspec `flux run` / `flux submit` build from their options, as
 * flux-core's Python CLI does (flux.cli.base jobspec_create over
 * JobspecV1.from_command / per_resource), key order included, and the text
 * `flux run --dry-run` prints (Python json.dumps).
 *
 * Pure: the caller supplies the process environment, working directory and
 * resource limits (Node cannot read rlimits; the CLI gathers them).
 */
import { errno, FluxError } from '../libflux/errno';
import { parseFsd } from '../libutil/fsd';
import { jsonPathKey, stringifyJson } from './json';
import { isIdsetString } from './jobspec-py';

export interface CommandLineOptions {
  command: string[];
  /** -n/--ntasks, -N/--nodes, -c/--cores-per-task, -g/--gpus-per-task: number or the option's text. */
  ntasks?: number | string;
  nodes?: number | string;
  coresPerTask?: number | string;
  gpusPerTask?: number | string;
  /** -x/--exclusive */
  exclusive?: boolean;
  /** Per-resource options: --cores, --tasks-per-node, --tasks-per-core, --gpus-per-node. */
  cores?: number | string;
  tasksPerNode?: number | string;
  tasksPerCore?: number | string;
  gpusPerNode?: number | string;
  /** -t/--time-limit: minutes without units, else FSD. */
  timeLimit?: string;
  /** --cwd; defaults to `processCwd`. */
  cwd?: string;
  processCwd: string;
  /** The submitting process's environment, in its order (e.g. process.env). */
  environ: Record<string, string | undefined>;
  /** --env / --env-remove (as '-PATTERN') / --env-file (as '^FILE') rules, in command line order. */
  env?: string[];
  /** Reads an --env-file; without it '^FILE' rules are refused. */
  readFile?: (path: string) => string;
  /** Soft rlimits to propagate (flux-core's filtered set); omitted or empty: no rlimit shell option. */
  rlimit?: Record<string, number>;
  jobName?: string;
  queue?: string;
  /** -o/--setopt KEY[=VAL] and -S/--setattr KEY[=VAL]. */
  setopt?: string[];
  setattr?: string[];
  dependency?: string[];
  taskmap?: string;
  input?: string;
  output?: string;
  error?: string;
  labelIo?: boolean;
  unbuffered?: boolean;
}

export interface CommandLineJobspec {
  jobspec: Record<string, unknown>;
  /** Exactly what `flux run --dry-run` prints (without the newline). */
  text: string;
}

function bad(msg: string): never {
  throw new FluxError(errno.EINVAL, msg);
}

/** Python int() of an option value, with flux-core's message. Empty/absent stays undefined (Python's falsy test). */
function intOpt(v: number | string | undefined, opt: string): number | undefined {
  if (v === undefined || v === '') return undefined;
  if (typeof v === 'number') return v;
  if (!/^\s*[+-]?[0-9]+(?:_[0-9]+)*\s*$/.test(v)) bad(`--${opt}: invalid int value '${v}'`);
  return Number(v.replace(/[_\s]/g, ''));
}

type Obj = Record<string, unknown>;

/** flux.util.set_treedict: dotted key, intermediate dicts created. */
function setTree(root: Obj, key: string, val: unknown): void {
  const parts = key.split('.');
  let o = root;
  for (const p of parts.slice(0, -1)) {
    const next = o[p];
    if (next === undefined) o = o[p] = {};
    else if (typeof next === 'object' && next !== null && !Array.isArray(next)) o = next as Obj;
    else bad(`failed to set ${key} to ${JSON.stringify(val)}: '${typeof next}' object does not support item assignment`);
  }
  o[parts[parts.length - 1]] = val;
}

/** _attr_key_prepend: `x` means attributes.system.x, `user.x` attributes.user.x. */
function attrKey(key: string): string {
  if (key.startsWith('attributes.')) return key;
  return 'attributes.' + (key.startsWith('user.') || key.startsWith('system.') ? key : 'system.' + key);
}

/** parse_jobspec_keyval: KEY[=VAL], VAL as JSON when it parses, else a string; no VAL means 1. */
function keyval(label: string, kv: string, readFile?: (p: string) => string): [string, unknown] {
  const at = kv.indexOf('=');
  let key = at < 0 ? kv : kv.slice(0, at);
  const raw = at < 0 ? undefined : kv.slice(at + 1);
  if (raw === undefined) return [key.replace(/^\^+/, ''), 1];
  if (key.startsWith('^')) {
    key = key.replace(/^\^+/, '');
    if (!readFile) bad(`${label}: ${raw}: cannot read files here`);
    try {
      return [key, JSON.parse(readFile(raw))];
    } catch (err) {
      bad(`${label}: ${raw}: ${(err as Error).message}`);
    }
  }
  try {
    return [key, JSON.parse(raw)];
  } catch {
    return [key, raw];
  }
}

/** fnmatch.translate: a shell glob as an anchored regular expression. */
function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) re += '\\[';
      else {
        let cls = glob.slice(i + 1, end);
        if (cls.startsWith('!')) cls = '^' + cls.slice(1);
        re += `[${cls.replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^(?:${re})$`, 's');
}

/** A '-'-rule pattern: '/REGEX/' (matched at the start, as re.match does) or a glob. */
function envPattern(p: string): RegExp {
  if (p.startsWith('/')) return new RegExp('^(?:' + p.slice(1).replace(/\/+$/, '') + ')');
  return globToRegExp(p);
}

/** string.Template.substitute: $NAME, ${NAME}, $$. */
function substitute(tmpl: string, lookup: (k: string) => string | undefined, rule: string): string {
  return tmpl.replace(/\$(?:(\$)|([_a-zA-Z][_a-zA-Z0-9]*)|\{([_a-zA-Z][_a-zA-Z0-9]*)\}|())/g, (_m: string, dollar?: string, name?: string, braced?: string, invalid?: string) => {
    if (dollar) return '$';
    if (invalid !== undefined) bad(`--env: Unable to substitute ${rule}`);
    const k = (name ?? braced) as string;
    const v = lookup(k);
    if (v === undefined) bad(`--env: Variable '${k}' not found in ${rule}`);
    return v;
  });
}

/** get_filtered_environment: apply --env rules in order to a copy of the environment. */
export function filterEnvironment(
  environ: Record<string, string | undefined>,
  rules: string[] | undefined,
  readFile?: (path: string) => string,
): Record<string, string> {
  const base: Record<string, string> = {};
  for (const [k, v] of Object.entries(environ)) if (v !== undefined) base[k] = v;
  let env: Record<string, string> = { ...base };
  const apply = (list: string[]): void => {
    for (const rule of list) {
      if (rule.startsWith('-')) {
        const re = envPattern(rule.slice(1));
        env = Object.fromEntries(Object.entries(env).filter(([k]) => !re.test(k)));
      } else if (rule.startsWith('^')) {
        if (!readFile) bad(`--env-file: cannot read ${rule.slice(1)} here`);
        apply(readFile(rule.slice(1)).split('\n').map((l) => l.trim()));
      } else {
        const at = rule.indexOf('=');
        if (at < 0) {
          const re = globToRegExp(rule);
          for (const [k, v] of Object.entries(base)) if (re.test(k) && !(k in env)) env[k] = v;
        } else {
          const k = rule.slice(0, at);
          env[k] = substitute(rule.slice(at + 1), (n) => (n in env ? env[n] : base[n]), rule);
        }
      }
    }
  };
  if (rules) apply(rules);
  return env;
}

/** URIArg: `scheme:value[?k=v&…]` as an RFC 26 dependency / taskmap entry. */
function uriEntry(uri: string, name: string): Obj {
  const u = uri.includes(':') ? uri : uri + ':';
  const at = u.indexOf(':');
  const scheme = u.slice(0, at);
  let rest = u.slice(at + 1);
  let query = '';
  const q = rest.indexOf('?');
  if (q >= 0) {
    query = rest.slice(q + 1);
    rest = rest.slice(0, q);
  }
  if (!/^[A-Za-z][A-Za-z0-9+.-]*$/.test(scheme) || rest === '') bad(`Invalid ${name} URI "${u}"`);
  const entry: Obj = { scheme, value: rest };
  if (query) {
    const vals = new Map<string, string[]>();
    for (const part of query.split('&')) {
      const [k, v] = part.split('=', 2).map((x) => decodeURIComponent(x.replace(/\+/g, ' ')));
      if (!k || v === undefined || v === '') continue;
      vals.set(k, [...(vals.get(k) ?? []), v]);
    }
    const num = (x: string): unknown => (/^[+-]?\d+$/.test(x) ? Number(x) : Number.isFinite(Number(x)) && x.trim() !== '' ? Number(x) : x);
    for (const [k, v] of vals) entry[k] = v.length > 1 ? v.map(num) : num(v[0]);
  }
  return entry;
}

function resource(type: string, count: number, children?: Obj[], exclusive = false): Obj {
  if (!(count > 0)) bad('resource count must be > 0');
  const r: Obj = { type, count };
  if (exclusive) r.exclusive = true;
  if (children && children.length > 0) r.with = children;
  return r;
}

/** Build the jobspec and its dry-run text. Throws FluxError(EINVAL) with flux-core's messages. */
export function jobspecFromCommandLine(o: CommandLineOptions): CommandLineJobspec {
  if (!o.command || o.command.length === 0) bad('job command and arguments are missing');
  let ntasks = intOpt(o.ntasks, 'ntasks');
  const nodes = intOpt(o.nodes, 'nodes');
  const cores = intOpt(o.cores, 'cores');
  let coresPerTask = intOpt(o.coresPerTask, 'cores-per-task');
  const gpusPerTask = intOpt(o.gpusPerTask, 'gpus-per-task');
  const tasksPerNode = intOpt(o.tasksPerNode, 'tasks-per-node');
  const tasksPerCore = intOpt(o.tasksPerCore, 'tasks-per-core');
  const gpusPerNode = intOpt(o.gpusPerNode, 'gpus-per-node');
  let exclusive = !!o.exclusive;

  if (tasksPerNode !== undefined && tasksPerCore !== undefined) bad('Do not specify both the number of tasks per node and per core');
  let perResource: Obj | undefined;
  if (tasksPerNode !== undefined) {
    if (tasksPerNode < 1) bad('--tasks-per-node must be >= 1');
    perResource = { type: 'node', count: tasksPerNode };
  } else if (tasksPerCore !== undefined) {
    if (tasksPerCore < 1) bad('--tasks-per-core must be >= 1');
    perResource = { type: 'core', count: tasksPerCore };
  }
  if (gpusPerNode && !nodes) bad('--gpus-per-node requires --nodes');

  let resources: Obj[];
  let taskCount: Obj = { per_slot: 1 };
  if (perResource || gpusPerNode !== undefined || cores !== undefined) {
    if (ntasks !== undefined || coresPerTask !== undefined || gpusPerTask)
      bad("Per-resource options can't be used with per-task options. (See --help for details)");
    if (nodes && cores === undefined) exclusive = true;
    // JobspecV1.per_resource
    if (cores !== undefined && cores < 1) bad('ncores must be an integer >= 1');
    if (gpusPerNode !== undefined && gpusPerNode < 0) bad('gpus_per_node must be an integer >= 0');
    if (nodes !== undefined && nodes < 1) bad('nnodes must be an integer >= 1');
    if (nodes === undefined && exclusive) bad('exclusive can only be set with a node count');
    let nslots: number;
    let slotSize = 1;
    if (nodes && cores) {
      if (cores < nodes) bad('number of cores cannot be less than nnodes');
      if (cores % nodes !== 0) bad('number of cores must be evenly divisible by node count');
      nslots = 1;
      slotSize = cores / nodes;
    } else if (cores) {
      nslots = cores;
    } else if (nodes) {
      if (!exclusive) bad('Specifying nnodes also requires ncores or exclusive');
      nslots = 1;
    } else bad('must specify node or core count with per_resource');
    const children = [resource('core', slotSize)];
    if (gpusPerNode) children.push(resource('gpu', gpusPerNode));
    const slot = { ...resource('slot', nslots, children), label: 'task' };
    resources = [nodes ? resource('node', nodes, [slot], exclusive) : slot];
  } else {
    if (!ntasks && nodes) {
      ntasks = nodes;
      exclusive = true;
    }
    if (!ntasks) ntasks = 1;
    if (!coresPerTask) coresPerTask = 1;
    // JobspecV1.from_command
    if (ntasks < 1) bad('task count must be a integer >= 1');
    if (coresPerTask < 1) bad('cores per task must be an integer >= 1');
    if (gpusPerTask !== undefined && gpusPerTask < 0) bad('gpus per task must be an integer >= 0');
    if (nodes !== undefined) {
      if (nodes < 1) bad('node count must be an integer >= 1 (if set)');
      if (nodes > ntasks) bad('node count must not be greater than task count');
    } else if (exclusive) bad('exclusive can only be set with a node count');
    const children = [resource('core', coresPerTask)];
    if (gpusPerTask) children.push(resource('gpu', gpusPerTask));
    if (nodes !== undefined) {
      // An uneven split wastes slots: ceil(n/N) slots per node, and the task count becomes a total.
      if (ntasks % nodes !== 0) taskCount = { total: ntasks };
      const slot = { ...resource('slot', Math.ceil(ntasks / nodes), children), label: 'task' };
      resources = [resource('node', nodes, [slot], exclusive)];
    } else {
      resources = [{ ...resource('slot', ntasks, children), label: 'task' }];
    }
  }

  const system: Obj = { duration: 0 };
  const jobspec: Obj = {
    resources,
    tasks: [{ command: [...o.command], slot: 'task', count: taskCount }],
    attributes: { system },
    version: 1,
  };
  const floatPaths = new Set<string>();
  if (perResource) setTree(system, 'shell.options.per-resource', perResource);
  system.environment = filterEnvironment(o.environ, o.env, o.readFile);
  system.cwd = o.cwd ?? o.processCwd;
  const shellOpt = (k: string, v: unknown): void => setTree(jobspec, 'attributes.system.shell.options.' + k, v);
  if (o.rlimit && Object.keys(o.rlimit).length > 0) shellOpt('rlimit', { ...o.rlimit });
  if (o.taskmap !== undefined) shellOpt('taskmap', uriEntry(o.taskmap, 'taskmap'));
  if (o.dependency) setTree(jobspec, 'attributes.system.dependencies', o.dependency.map((d) => uriEntry(d, 'dependency')));
  if (o.timeLimit !== undefined) {
    const t = o.timeLimit.trim();
    // Python float() first (minutes), then FSD; either way a float, which json.dumps writes as 300.0.
    const asFloat = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$|^[+-]?(?:inf|infinity|nan)$/i.test(t) ? Number(t.replace(/inf(inity)?/i, 'Infinity')) * 60 : undefined;
    const secs = asFloat !== undefined ? asFloat : parseFsd(o.timeLimit);
    if (secs < 0) bad('duration must not be negative');
    if (!Number.isFinite(secs)) bad('duration must be a normal, finite value');
    system.duration = secs;
    floatPaths.add(jsonPathKey(['attributes', 'system', 'duration']));
  }
  if (o.jobName !== undefined) setTree(system, 'job.name', o.jobName);
  if (o.input !== undefined && !isIdsetString(o.input)) {
    shellOpt('input.stdin.type', 'file');
    shellOpt('input.stdin.path', o.input);
  }
  if (o.output !== undefined && o.output !== 'none' && o.output !== 'kvs') {
    shellOpt('output.stdout.type', 'file');
    shellOpt('output.stdout.path', o.output);
    if (o.labelIo) shellOpt('output.stdout.label', true);
  }
  if (o.error !== undefined) {
    shellOpt('output.stderr.type', 'file');
    shellOpt('output.stderr.path', o.error);
    if (o.labelIo) shellOpt('output.stderr.label', true);
  }
  if (o.unbuffered) {
    shellOpt('output.stdout.buffer.type', 'none');
    shellOpt('output.stderr.buffer.type', 'none');
    shellOpt('output.batch-timeout', 0.05);
  }
  for (const kv of o.setopt ?? []) {
    const [k, v] = keyval('--setopt', kv, o.readFile);
    shellOpt(k, v);
  }
  if (o.queue !== undefined) system.queue = o.queue;
  for (const kv of o.setattr ?? []) {
    const [key, v] = keyval('--setattr', kv, o.readFile);
    let k = key;
    if (!k.startsWith('.') && !k.startsWith('user.') && !k.startsWith('system.')) k = 'system.' + k;
    setTree(jobspec, attrKey(k.replace(/^\.+/, '')), v);
  }

  // No validation here: flux-core validates in the Jobspec constructor, before the
  // options above are applied, so --dry-run prints even a jobspec that ingest would refuse.
  return { jobspec, text: stringifyJson(jobspec, { layout: 'python', floatPaths }) };
}
