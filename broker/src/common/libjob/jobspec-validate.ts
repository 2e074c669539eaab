/**
 * Jobspec validation as flux-core's job-ingest does it: its default validator
 * plugin ("jobspec", `--require-version=1`) runs flux.job.validate_jobspec,
 * which checks the top-level keys, then builds a canonical RFC 14 Jobspec
 * (resources depth-first, tasks, attributes, system attributes) and then the
 * RFC 25 version 1 rules. Python stops at the first problem and job-ingest
 * answers with that one message (validator errnum 1).
 *
 * We run the same checks in the same order, but keep going after a problem
 * where it is safe, so the language server can show every problem at once;
 * `errors[0]` is always the message flux-core would answer with. Each
 * diagnostic carries the path of the JSON node it is about.
 *
 * Beyond flux-core, `warnings` notes things the validator lets through but
 * that will not do what the author meant (unknown system attributes, shell
 * options nobody reads, task slots naming no slot, RFC 25 shapes the
 * schedulers do not take). Warnings never make a jobspec invalid.
 */
import { errno, FluxError } from '../libflux/errno';
import {
  isIdsetString,
  isMapping,
  isPyBoolLike,
  isPyInt,
  isPyNumber,
  isSequence,
  Path,
  pyIntFromStr,
  pyNum,
  pyTypeName,
  PyValueError,
  seqItems,
} from './jobspec-py';

export type { Path } from './jobspec-py';

/** The errnum job-ingest returns for a validator rejection (the validator's exit code; EPERM's value). */
export const JOBSPEC_VALIDATOR_ERRNUM = 1;

export interface JobspecDiagnostic {
  /** Path of the JSON node: `['resources', 0, 'with', 1, 'count']`; `[]` is the document. */
  path: Path;
  /** 'key' when the diagnostic is about the key itself (extraneous key), else the value at path. */
  on: 'key' | 'value';
  message: string;
  severity: 'error' | 'warning';
}

export interface JobspecValidation {
  valid: boolean;
  /** In flux-core's order: errors[0] is the message job-ingest would reject with. */
  errors: JobspecDiagnostic[];
  warnings: JobspecDiagnostic[];
}

export interface ValidateOptions {
  /** 1 (job-ingest's default) applies the RFC 25 v1 rules; 'any' only the canonical RFC 14 ones unless version is 1. */
  requireVersion?: 1 | 'any';
}

export const TOP_LEVEL_KEYS = ['resources', 'tasks', 'version', 'attributes'] as const;

/** attributes.system keys something in flux-core reads (others only warn). */
export const KNOWN_SYSTEM_ATTRIBUTES = [
  'duration', 'cwd', 'environment', 'queue', 'bank', 'project', 'dependencies', 'constraints',
  'job', 'shell', 'files', 'exec', 'R', 'alloc-bypass',
] as const;

/** Shell options of flux-core's job shell and its built-in plugins. */
export const KNOWN_SHELL_OPTIONS = [
  'rlimit', 'signal', 'taskmap', 'per-resource', 'output', 'input', 'verbose', 'cpu-affinity',
  'gpu-affinity', 'stop-tasks-in-exec', 'pty', 'mpi', 'pmi', 'pmi-simple', 'hwloc', 'env-expand',
  'nosetpgrp', 'exit-timeout', 'exit-on-error', 'userrc', 'tmpdir', 'stage-in', 'oom', 'sdmon',
  'kill-timeout', 'batch', 'nice', 'cray-pals', 'gpu-affinity', 'initrc', 'interactive',
] as const;

class Collector {
  readonly errors: JobspecDiagnostic[] = [];
  readonly warnings: JobspecDiagnostic[] = [];
  error(path: Path, message: string, on: 'key' | 'value' = 'value'): void {
    this.errors.push({ path: [...path], on, message, severity: 'error' });
  }
  warn(path: Path, message: string, on: 'key' | 'value' = 'value'): void {
    this.warnings.push({ path: [...path], on, message, severity: 'warning' });
  }
}

/**
 * flux-core's _validate_keys: each missing required key, then each key not
 * expected. Python walks sets, so which of several missing keys flux-core
 * names first is not fixed; we name them in the order listed.
 */
function validateKeys(
  c: Collector,
  path: Path,
  expected: readonly string[],
  given: Record<string, unknown>,
  { optional = false, allowAdditional = false } = {},
): boolean {
  const before = c.errors.length;
  if (!optional) for (const k of expected) if (!(k in given)) c.error(path, `Missing key (${k})`);
  if (!allowAdditional) for (const k of Object.keys(given)) if (!expected.includes(k)) c.error([...path, k], `Extraneous key (${k})`, 'key');
  return c.errors.length === before;
}

/** Validate a parsed jobspec document. */
export function validateJobspec(doc: unknown, opts: ValidateOptions = {}): JobspecValidation {
  const c = new Collector();
  const requireV1 = (opts.requireVersion ?? 1) === 1;
  if (!isMapping(doc)) {
    // flux-core's validator fails on .keys() of a non-object (an uncaught AttributeError); our wording.
    c.error([], 'jobspec must be a mapping');
    return finish(c);
  }
  validateKeys(c, [], TOP_LEVEL_KEYS, doc);
  const version = doc.version;
  const v1 = requireV1 || version === 1 || version === true;
  if (v1 && 'version' in doc && !(version === 1 || version === true)) c.error(['version'], 'version must be 1');

  // Canonical RFC 14 (Jobspec.__init__)
  const resOk = 'resources' in doc && isSequence(doc.resources);
  if ('resources' in doc && !resOk) c.error(['resources'], 'resources must be a sequence');
  const tasksOk = 'tasks' in doc && isSequence(doc.tasks);
  if ('tasks' in doc && !tasksOk) c.error(['tasks'], 'tasks must be a sequence');
  const attrsOk = 'attributes' in doc && isMapping(doc.attributes);
  if ('attributes' in doc && !attrsOk) c.error(['attributes'], 'attributes must be a mapping');
  if ('version' in doc && !v1) {
    if (!isPyInt(version)) c.error(['version'], 'version must be an integer');
    else if (pyNum(version) < 1) c.error(['version'], 'version must be >= 1');
  }
  // A string is a Python sequence of characters, none of them a mapping: the error goes on the string.
  if (resOk && typeof doc.resources === 'string') {
    if (doc.resources !== '') c.error(['resources'], 'resource must be a mapping');
  } else if (resOk) walkResources(c, doc.resources as unknown[], ['resources']);
  if (tasksOk && typeof doc.tasks === 'string') {
    if (doc.tasks !== '') c.error(['tasks'], 'task must be a mapping');
  } else if (tasksOk) (doc.tasks as unknown[]).forEach((t, i) => validateTask(c, t, ['tasks', i]));
  const attributes = attrsOk ? (doc.attributes as Record<string, unknown>) : undefined;
  if (attributes) {
    validateKeys(c, ['attributes'], ['system', 'user'], attributes, { optional: true });
    if ('system' in attributes) validateSystem(c, attributes.system, ['attributes', 'system']);
  }

  // RFC 25 version 1 (JobspecV1._v1_validate)
  if (v1) {
    if (attributes) {
      const system = attributes.system;
      if (!('system' in attributes)) c.error(['attributes'], 'attributes.system is a required key');
      else if (!isMapping(system)) c.error(['attributes', 'system'], 'attributes.system must be a mapping');
      else if (!('duration' in system)) c.error(['attributes', 'system'], 'attributes.system.duration is a required key');
      else if (!isPyNumber(system.duration)) c.error(['attributes', 'system', 'duration'], 'attributes.system.duration must be a number');
    }
    if (tasksOk && Array.isArray(doc.tasks)) {
      doc.tasks.forEach((t, i) => {
        if (isMapping(t) && isMapping(t.count) && !('per_slot' in t.count) && !('total' in t.count))
          c.error(['tasks', i, 'count'], 'count per_slot or total must be set');
      });
    }
    if (resOk && Array.isArray(doc.resources)) validateCounts(c, doc.resources, ['resources']);
  }

  semanticWarnings(c, doc, v1);
  return finish(c);
}

function finish(c: Collector): JobspecValidation {
  return { valid: c.errors.length === 0, errors: c.errors, warnings: c.warnings };
}

/** Pre-order walk (flux-core's Jobspec.__iter__): a vertex is checked before its children. */
function walkResources(c: Collector, list: unknown[], path: Path): void {
  list.forEach((res, i) => {
    const p = [...path, i];
    validateResource(c, res, p);
    if (!isMapping(res) || !('with' in res)) return;
    const w = res.with;
    if (typeof w === 'string') {
      if (w !== '') c.error([...p, 'with'], 'resource must be a mapping');
    } else if (Array.isArray(w)) walkResources(c, w, [...p, 'with']);
    // Iterating a dict yields its keys (strings, so "resource must be a mapping"); point at each key.
    else if (isMapping(w)) for (const k of Object.keys(w)) c.error([...p, 'with', k], 'resource must be a mapping', 'key');
    else c.error([...p, 'with'], `'${pyTypeName(w)}' object is not iterable`);
  });
}

function validateResource(c: Collector, res: unknown, path: Path): void {
  if (!isMapping(res)) return c.error(path, 'resource must be a mapping');
  if (!('type' in res)) return c.error(path, 'type is a required key for resources');
  if (typeof res.type !== 'string') return c.error([...path, 'type'], 'type must be a string');
  if (!('count' in res)) return c.error(path, 'count is a required key for resources');
  const count = res.count;
  const cp = [...path, 'count'];
  if (isMapping(count)) validateComplexRange(c, count, cp);
  else if (typeof count === 'string') validateCountString(c, count, cp);
  else if (!isPyInt(count)) c.error(cp, 'count must be an int or mapping');
  else if (['node', 'slot', 'core'].includes(res.type) && pyNum(count) < 1) c.error(cp, 'node, slot, or core count must be > 0');
  else if (pyNum(count) < 0) c.error(cp, 'count must be >= 0');
  for (const k of ['id', 'unit', 'label']) if (k in res && typeof res[k] !== 'string') c.error([...path, k], `${k} must be a string`);
  if ('exclusive' in res && !isPyBoolLike(res.exclusive)) c.error([...path, 'exclusive'], 'exclusive must be a boolean');
  if (res.type === 'slot' && !('label' in res)) c.error(path, 'slots must have labels');
}

/** RFC 14 range count `{min, max?, operator?, operand?}`; checks stop at the first problem, as in flux-core. */
function validateComplexRange(c: Collector, r: Record<string, unknown>, path: Path): void {
  const fail = (msg: string, p: Path = path): void => c.error(p, msg);
  if (!('min' in r)) return fail('min must be in range');
  for (const k of Object.keys(r))
    if (!['min', 'max', 'operand', 'operator'].includes(k)) return fail(`Extraneous key (${k})`, [...path, k]);
  for (const k of ['min', 'max', 'operand']) {
    if (!(k in r)) continue;
    if (!isPyInt(r[k])) return fail(`${k} must be an int`, [...path, k]);
    if (pyNum(r[k]) < 1) return fail(`${k} must be > 0`, [...path, k]);
  }
  if ('max' in r && pyNum(r.max) < pyNum(r.min)) return fail('max must be >= min', [...path, 'max']);
  if ('operand' in r !== 'operator' in r) return fail('operand and operator must both be in range if either is');
  if ('operator' in r) {
    const op = r.operator;
    if (typeof op !== 'string' || [...op].length !== 1) return fail('operator must be a single character str', [...path, 'operator']);
    if (!['+', '*', '^'].includes(op)) return fail("operator must be one of ['+', '*', '^']", [...path, 'operator']);
    if ((op === '*' || op === '^') && pyNum(r.operand) < 2) return fail("operand must be > 1 for '*' or '^' operator", [...path, 'operand']);
    if (op === '^' && pyNum(r.min) < 2) return fail("min must be > 1 for '^' operator", [...path, 'min']);
  }
}

/** A count string: an idset (`"1-4"`, `"2,4"`) or a range `MIN+[:OPERAND[:OPERATOR]]`, `MIN-MAX[:…]`. */
function validateCountString(c: Collector, s: string, path: Path): void {
  if (isIdsetString(s)) return;
  const values = s.split(':');
  if (values.length > 3 || (!values[0].includes('-') && !values[0].includes('+')))
    return c.error(path, 'count string must be a valid idset or range');
  const r: Record<string, unknown> = {};
  try {
    let rmin: string;
    if (values[0].includes('-')) {
      const at = values[0].indexOf('-');
      rmin = values[0].slice(0, at);
      r.max = pyIntFromStr(values[0].slice(at + 1));
    } else {
      rmin = values[0].replace(/\++$/, '');
    }
    r.min = pyIntFromStr(rmin);
    if (values.length > 1) {
      r.operand = pyIntFromStr(values[1]);
      r.operator = '+';
    }
    if (values.length > 2) r.operator = values[2];
  } catch (err) {
    if (err instanceof PyValueError) return c.error(path, err.message);
    throw err;
  }
  // Problems inside a string range are reported on the string itself.
  const sub = new Collector();
  validateComplexRange(sub, r, path);
  for (const e of sub.errors) c.error(path, e.message);
}

function validateTask(c: Collector, task: unknown, path: Path): void {
  if (!isMapping(task)) return c.error(path, 'task must be a mapping');
  if (!validateKeys(c, path, ['command', 'slot', 'count'], task, { allowAdditional: true })) return;
  const count = task.count;
  const cp = [...path, 'count'];
  if (!isMapping(count)) return c.error(cp, 'count must be a mapping');
  const keys = Object.keys(count);
  if (keys.length !== 1) return c.error(cp, 'count must have exactly one key set');
  if (!['per_slot', 'per_resource', 'total'].some((k) => k in count)) return c.error(cp, 'count per_slot, per_resource, or total must be set');
  for (const k of ['total', 'per_slot']) {
    if (!(k in count)) continue;
    if (!isPyInt(count[k])) return c.error([...cp, k], `count ${k} must be an int`);
    if (pyNum(count[k]) <= 0) return c.error([...cp, k], `count ${k} must be > 0`);
  }
  if (typeof task.slot !== 'string') return c.error([...path, 'slot'], 'slot must be a string');
  if ('attributes' in task && !isMapping(task.attributes)) return c.error([...path, 'attributes'], 'attributes must be a mapping');
  const cmd = task.command;
  const cmdPath = [...path, 'command'];
  if (typeof cmd === 'number' || typeof cmd === 'boolean' || typeof cmd === 'bigint' || cmd === null)
    return c.error(cmdPath, `object of type '${pyTypeName(cmd)}' has no len()`);
  const len = typeof cmd === 'string' ? [...cmd].length : Array.isArray(cmd) ? cmd.length : Object.keys(cmd as object).length;
  if (len === 0) return c.error(cmdPath, 'command array cannot have length of zero');
  if (!Array.isArray(cmd) || !cmd.every((a) => typeof a === 'string')) return c.error(cmdPath, 'command must be a list of strings');
}

function validateSystem(c: Collector, system: unknown, path: Path): void {
  if (typeof system === 'number' || typeof system === 'boolean' || typeof system === 'bigint' || system === null)
    return c.error(path, `argument of type '${pyTypeName(system)}' is not iterable`);
  if (!isMapping(system)) return;
  if ('dependencies' in system) {
    const deps = system.dependencies;
    const dp = [...path, 'dependencies'];
    if (!Array.isArray(deps)) c.error(dp, 'attributes.system.dependencies must be a list');
    else
      deps.forEach((d, i) => {
        // A non-mapping entry crashes flux-core's validator (AttributeError); our wording.
        if (!isMapping(d)) return c.error([...dp, i], 'dependency must be a mapping');
        if (!validateKeys(c, [...dp, i], ['scheme', 'value'], d, { allowAdditional: true })) return;
        if (typeof d.scheme !== 'string') return c.error([...dp, i, 'scheme'], 'dependency scheme must be a string');
        if (typeof d.value !== 'string') return c.error([...dp, i, 'value'], 'dependency value must be a string');
      });
  }
  if ('constraints' in system) validateConstraint(c, system.constraints, [...path, 'constraints']);
}

/** RFC 31 constraint object; flux-core also checks hostlist hosts against the instance, which needs a handle. */
function validateConstraint(c: Collector, con: unknown, path: Path): void {
  if (!isMapping(con)) return c.error(path, 'constraints must be a mapping');
  for (const [op, args] of Object.entries(con)) {
    const p = [...path, op];
    if (!isSequence(args)) return c.error(p, `argument to constraint ${op} must be a sequence`);
    const items = seqItems(args);
    if (op === 'and' || op === 'or' || op === 'not') {
      items.forEach((sub, i) => validateConstraint(c, sub, [...p, i]));
    } else if (op === 'properties') {
      items.forEach((name, i) => {
        if (typeof name === 'string' && /[&'"`|()]/.test(name)) c.error([...p, i], `invalid character in property '${name}'`);
      });
    } else if (op === 'ranks') {
      items.forEach((r, i) => {
        if (typeof r !== 'string' || !isIdsetString(r)) c.error([...p, i], `invalid idset '${String(r)}'`); // our wording
      });
    } else if (op !== 'hostlist') {
      return c.error(p, `unknown constraint operator '${op}'`, 'key');
    }
  }
}

/** flux-core's v1 validate_counts: every count must be an int, recursively through `with`. */
function validateCounts(c: Collector, list: unknown[], path: Path): void {
  list.forEach((res, i) => {
    if (!isMapping(res)) return;
    const p = [...path, i];
    if ('count' in res && !isPyInt(res.count))
      c.error([...p, 'count'], `resource count must be an integer for type '${String(res.type)}' (got '${pyTypeName(res.count)}')`);
    if (Array.isArray(res.with)) validateCounts(c, res.with, [...p, 'with']);
  });
}

function semanticWarnings(c: Collector, doc: Record<string, unknown>, v1: boolean): void {
  const labels = new Set<string>();
  const collectLabels = (list: unknown, path: Path, depth: number): void => {
    if (!Array.isArray(list)) return;
    list.forEach((r, i) => {
      if (!isMapping(r)) return;
      const p = [...path, i];
      if (r.type === 'slot' && typeof r.label === 'string') labels.add(r.label);
      if (v1 && typeof r.type === 'string' && !['node', 'slot', 'core', 'gpu'].includes(r.type))
        c.warn([...p, 'type'], `resource type '${r.type}' is not one of node, slot, core, gpu (RFC 25); schedulers may ignore or reject it`);
      if (v1 && depth === 0 && (r.type === 'core' || r.type === 'gpu'))
        c.warn([...p, 'type'], `RFC 25 resources start with a node or a slot, not a ${r.type}`);
      collectLabels(r.with, [...p, 'with'], depth + 1);
    });
  };
  collectLabels(doc.resources, ['resources'], 0);
  if (Array.isArray(doc.tasks)) {
    if (v1 && doc.tasks.length > 1) c.warn(['tasks'], 'RFC 25 jobspec has exactly one task; only the first is run');
    doc.tasks.forEach((t, i) => {
      if (!isMapping(t)) return;
      if (typeof t.slot === 'string' && !labels.has(t.slot)) c.warn([...['tasks', i], 'slot'], `task slot '${t.slot}' does not name a slot label`);
      if (isMapping(t.count) && isPyInt(t.count.per_slot) && pyNum(t.count.per_slot) !== 1 && v1)
        c.warn(['tasks', i, 'count', 'per_slot'], 'RFC 25 requires count.per_slot to be 1');
    });
  }
  const attrs = doc.attributes;
  if (!isMapping(attrs) || !isMapping(attrs.system)) return;
  const sys = attrs.system;
  const sp = ['attributes', 'system'];
  for (const k of Object.keys(sys))
    if (!(KNOWN_SYSTEM_ATTRIBUTES as readonly string[]).includes(k)) c.warn([...sp, k], `unknown system attribute '${k}'`, 'key');
  if (isPyNumber(sys.duration) && typeof sys.duration !== 'boolean' && pyNum(sys.duration) < 0)
    c.warn([...sp, 'duration'], 'duration must not be negative');
  if ('cwd' in sys && typeof sys.cwd !== 'string') c.warn([...sp, 'cwd'], 'cwd must be a string');
  if ('queue' in sys && typeof sys.queue !== 'string') c.warn([...sp, 'queue'], 'queue must be a string');
  if ('bank' in sys && typeof sys.bank !== 'string') c.warn([...sp, 'bank'], 'bank must be a string');
  if ('environment' in sys) {
    const env = sys.environment;
    if (!isMapping(env)) c.warn([...sp, 'environment'], 'environment must be a mapping');
    else
      for (const [k, v] of Object.entries(env))
        if (typeof v !== 'string' && v !== null) c.warn([...sp, 'environment', k], `environment variable ${k} must be a string`);
  }
  if ('job' in sys) {
    if (!isMapping(sys.job)) c.warn([...sp, 'job'], 'job must be a mapping');
    else if ('name' in sys.job && typeof sys.job.name !== 'string') c.warn([...sp, 'job', 'name'], 'job name must be a string');
  }
  if ('shell' in sys) {
    const shell = sys.shell;
    if (!isMapping(shell)) c.warn([...sp, 'shell'], 'shell must be a mapping');
    else if ('options' in shell) {
      if (!isMapping(shell.options)) c.warn([...sp, 'shell', 'options'], 'shell options must be a mapping');
      else
        for (const k of Object.keys(shell.options))
          if (!(KNOWN_SHELL_OPTIONS as readonly string[]).includes(k)) c.warn([...sp, 'shell', 'options', k], `unknown shell option '${k}'`, 'key');
    }
  }
  if ('files' in sys && !isMapping(sys.files)) c.warn([...sp, 'files'], 'files must be a mapping');
}

/** job-ingest's view: throw FluxError(errnum 1, flux-core's message) unless the jobspec is valid. */
export function checkJobspec(doc: unknown, opts: ValidateOptions = {}): void {
  const r = validateJobspec(doc, opts);
  if (!r.valid) throw new FluxError(JOBSPEC_VALIDATOR_ERRNUM, r.errors[0].message);
}

/** errno for callers that want a named one: the validator's 1 is numerically EPERM. */
export const JOBSPEC_ERRNO = errno.EPERM;

/** A path for people: `resources[0].with[1].count` (keys that are not identifiers quoted: `options["per-resource"]`). */
export function formatJsonPath(path: Path): string {
  let out = '';
  for (const k of path) {
    if (typeof k === 'number') out += `[${k}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) out += (out === '' ? '' : '.') + k;
    else out += `[${JSON.stringify(k)}]`;
  }
  return out;
}
