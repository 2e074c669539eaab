/**
 * Command-line options the way flux-core's liboptparse presents them: the same
 * usage layout (`  -c, --count=N   text`, wrapped at 80 columns), the same
 * getopt error wording, stopping at the first non-option (so `flux start CMD
 * ARGS` keeps CMD's options), and `--` ending options.
 */

export interface OptionSpec {
  name: string;
  key?: string;
  /** 0 = flag, 1 = required argument, 2 = optional argument (`--name=VAL` only). */
  hasArg?: 0 | 1 | 2;
  arginfo?: string;
  usage: string;
  /** Printed under this heading in --help (e.g. "Options useful for testing:"). */
  group?: string;
  /** Hidden from --help. */
  hidden?: boolean;
}

export interface ParsedOptions {
  /** Every occurrence, in order, by option name; flags get ''. */
  values: Map<string, string[]>;
  args: string[];
}

/** Thrown for bad usage; `message` is the first line, exit code 1 as getopt's callers do. */
export class UsageError extends Error {
  constructor(message: string, readonly hint: string) {
    super(message);
  }
}

export class Optparse {
  readonly options: OptionSpec[];

  constructor(
    readonly prog: string,
    options: OptionSpec[],
    readonly usageLine = '[OPTIONS]',
    readonly optionWidth = 25,
    /** A line printed under the usage line (liboptparse subcommands have one). */
    readonly description?: string,
  ) {
    this.options = [{ name: 'help', key: 'h', usage: 'Display this message.' }, ...options];
  }

  private byName(n: string): OptionSpec | undefined {
    return this.options.find((o) => o.name === n);
  }

  private byKey(k: string): OptionSpec | undefined {
    return this.options.find((o) => o.key === k);
  }

  private tryHelp(): string {
    return `Try \`${this.prog} --help' for more information.`;
  }

  parse(argv: string[]): ParsedOptions {
    const values = new Map<string, string[]>();
    const add = (o: OptionSpec, v: string): void => {
      const l = values.get(o.name) ?? [];
      l.push(v);
      values.set(o.name, l);
    };
    let i = 0;
    for (; i < argv.length; i++) {
      const a = argv[i];
      if (a === '--') {
        i++;
        break;
      }
      if (a.startsWith('--')) {
        const eq = a.indexOf('=');
        const name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
        const o = this.byName(name) ?? this.uniquePrefix(name, a);
        if (!o) throw new UsageError(`${this.prog}: unrecognized option '${a}'`, this.tryHelp());
        const has = o.hasArg ?? 0;
        if (has === 0) {
          if (eq >= 0) throw new UsageError(`${this.prog}: option '--${o.name}' doesn't allow an argument`, this.tryHelp());
          add(o, '');
        } else if (eq >= 0) {
          add(o, a.slice(eq + 1));
        } else if (has === 1) {
          if (i + 1 >= argv.length) throw new UsageError(`${this.prog}: option '--${o.name}' requires an argument`, this.tryHelp());
          add(o, argv[++i]);
        } else {
          add(o, '');
        }
        continue;
      }
      if (a.startsWith('-') && a.length > 1) {
        for (let j = 1; j < a.length; j++) {
          const k = a[j];
          const o = this.byKey(k);
          if (!o) throw new UsageError(`${this.prog}: invalid option -- '${k}'`, this.tryHelp());
          const has = o.hasArg ?? 0;
          if (has === 0) {
            add(o, '');
            continue;
          }
          const rest = a.slice(j + 1);
          if (rest.length > 0) add(o, rest);
          else if (has === 1) {
            if (i + 1 >= argv.length) throw new UsageError(`${this.prog}: option requires an argument -- '${k}'`, this.tryHelp());
            add(o, argv[++i]);
          } else add(o, '');
          break;
        }
        continue;
      }
      break; // first non-option: the rest are arguments
    }
    return { values, args: argv.slice(i) };
  }

  private uniquePrefix(name: string, arg: string): OptionSpec | undefined {
    const hits = this.options.filter((o) => o.name.startsWith(name));
    if (hits.length > 1) throw new UsageError(`${this.prog}: option '${arg}' is ambiguous`, this.tryHelp());
    return hits[0];
  }

  /** The --help text, liboptparse layout. */
  usage(): string {
    const lines = [`Usage: ${this.prog} ${this.usageLine}`];
    if (this.description) lines.push(this.description);
    const groups = new Map<string, OptionSpec[]>();
    for (const o of this.options) {
      if (o.hidden) continue;
      const g = o.group ?? '';
      groups.set(g, [...(groups.get(g) ?? []), o]);
    }
    for (const [g, opts] of groups) {
      if (g) lines.push('', g);
      for (const o of opts) lines.push(...this.optionLines(o));
    }
    return lines.join('\n') + '\n';
  }

  private optionLines(o: OptionSpec): string[] {
    const key = o.key ? `-${o.key}, ` : '    ';
    let left = `  ${key}--${o.name}`;
    const has = o.hasArg ?? 0;
    // arginfo '' = none given: liboptparse then prints the bare option name.
    if (has === 1) left += o.arginfo === '' ? '' : `=${o.arginfo ?? 'ARG'}`;
    else if (has === 2) left += `=[${o.arginfo ?? 'ARG'}]`;
    // optionWidth is the column where the description starts.
    const width = this.optionWidth;
    const textWidth = 80 - width;
    const words = o.usage.split(/\s+/);
    const wrapped: string[] = [];
    let cur = '';
    for (const w of words) {
      if (cur && cur.length + 1 + w.length > textWidth) {
        wrapped.push(cur);
        cur = w;
      } else cur = cur ? `${cur} ${w}` : w;
    }
    if (cur) wrapped.push(cur);
    const out: string[] = [];
    if (left.length >= width) {
      out.push(left);
      for (const w of wrapped) out.push(' '.repeat(width) + w);
    } else {
      out.push(left.padEnd(width) + (wrapped[0] ?? ''));
      for (const w of wrapped.slice(1)) out.push(' '.repeat(width) + w);
    }
    return out;
  }
}

/** Helpers for reading parsed values. */
export function last(p: ParsedOptions, name: string): string | undefined {
  const l = p.values.get(name);
  return l ? l[l.length - 1] : undefined;
}

export function has(p: ParsedOptions, name: string): boolean {
  return p.values.has(name);
}
