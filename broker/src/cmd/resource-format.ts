/**
 * The part of flux-core's Python `flux.util.OutputFormat` that `flux
 * resource status` and `flux resource drain` use: `{field[!conv][:spec]}`
 * fields with Python format specs, `?:` (drop the column when every value is
 * empty), `+:` (widen the column to its longest value), a trailing `+` in the
 * spec (cut to the precision, `+` marking the cut), the `!d` conversion of a
 * timestamp (`{timestamp!d:%b%d %R::<12}`: strftime part, then the spec), and
 * removing fields with the text before them (how color fields go when color is
 * off: `{state:>12} {color_up}{up:>2}` becomes `{state:>12}{up:>2}`).
 */

import { FormatError, parseOutputFormat, padValue, type FormatField } from '../common/libutil/output-format';

export { FormatError };

export type Row = Record<string, string | number>;

type Field = FormatField;

interface Spec {
  fill: string;
  align?: string;
  width: number;
  precision?: number;
  plus: boolean;
}

function parseSpec(spec: string): Spec {
  let s = spec;
  const plus = s.endsWith('+');
  if (plus) s = s.slice(0, -1);
  const m = /^(?:(.)?([<>^=]))?(\d+)?(?:\.(\d+))?[sd]?$/.exec(s);
  if (!m) throw new FormatError(`Invalid format specifier '${spec}'`);
  return { fill: m[1] ?? ' ', align: m[2], width: m[3] ? Number(m[3]) : 0, precision: m[4] !== undefined ? Number(m[4]) : undefined, plus };
}

function pad(s: string, sp: Spec, numeric: boolean, width = sp.width): string {
  return padValue(s, width, sp.fill, sp.align, numeric);
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number): string => String(n).padStart(2, '0');

/** strftime for the conversions flux-resource's formats use, in local time. */
export function strftime(fmt: string, t: Date): string {
  return fmt.replace(/%([a-zA-Z%])/g, (_, c: string) => {
    switch (c) {
      case 'b': return MONTHS[t.getMonth()];
      case 'd': return two(t.getDate());
      case 'm': return two(t.getMonth() + 1);
      case 'Y': return String(t.getFullYear());
      case 'H': return two(t.getHours());
      case 'M': return two(t.getMinutes());
      case 'S': return two(t.getSeconds());
      case 'R': return `${two(t.getHours())}:${two(t.getMinutes())}`;
      case 'T': return `${two(t.getHours())}:${two(t.getMinutes())}:${two(t.getSeconds())}`;
      case 'F': return `${t.getFullYear()}-${two(t.getMonth() + 1)}-${two(t.getDate())}`;
      case '%': return '%';
      default: return `%${c}`;
    }
  });
}

export class OutputFormat {
  private fields: Field[] = [];
  private tail = '';

  constructor(fmt: string, private readonly headings: Record<string, string>) {
    ({ fields: this.fields, tail: this.tail } = parseOutputFormat(fmt, (name) => name in headings));
  }

  get names(): string[] {
    return this.fields.map((f) => f.name);
  }

  /** A copy without these fields, each taking the literal text before it along. */
  without(names: string[]): OutputFormat {
    const copy = Object.create(OutputFormat.prototype) as OutputFormat;
    Object.assign(copy, { headings: this.headings, tail: this.tail, fields: this.fields.filter((f) => !names.includes(f.name)) });
    return copy;
  }

  /** One field of a row as text, before padding; `spec` is what is left to apply. */
  private value(f: Field, row: Row): { s: string; spec: Spec; numeric: boolean } {
    const v = row[f.name];
    let spec = f.spec;
    let s: string;
    if (f.conv === 'd') {
      const sep = spec.indexOf('::');
      const tfmt = sep < 0 ? spec : spec.slice(0, sep);
      spec = sep < 0 ? '' : spec.slice(sep + 2);
      s = typeof v === 'number' ? strftime(tfmt, new Date(v * 1000)) : '';
    } else {
      s = v === undefined ? '' : String(v);
    }
    const sp = parseSpec(spec);
    if (sp.precision !== undefined && s.length > sp.precision) s = sp.plus && sp.precision > 0 ? `${s.slice(0, sp.precision - 1)}+` : s.slice(0, sp.precision);
    return { s, spec: sp, numeric: typeof v === 'number' && f.conv === undefined };
  }

  /** The line of one row, as the dedup key and for printing (no column widening). */
  format(row: Row): string {
    return this.fields.map((f) => {
      const { s, spec, numeric } = this.value(f, row);
      return f.pre + pad(s, spec, numeric);
    }).join('') + this.tail;
  }

  /** Header (unless noHeader) and one line per row, with `?:` and `+:` applied over all rows. */
  lines(rows: Row[], noHeader: boolean): string[] {
    const cells = rows.map((row) => this.fields.map((f) => this.value(f, row)));
    const keep = this.fields.map((f, i) => !f.dropEmpty || cells.some((c) => c[i].s !== '' && c[i].s !== '0'));
    const widths = this.fields.map((f, i) => {
      const base = cells[0]?.[i].spec.width ?? this.specOf(f).width;
      if (!f.widen) return base;
      return Math.max(base, (this.headings[f.name] ?? '').length, ...cells.map((c) => c[i].s.length));
    });
    const line = (cell: (i: number) => string): string => {
      let s = '';
      let skipSpace = false;
      this.fields.forEach((f, i) => {
        const pre = skipSpace ? f.pre.replace(/^\s/, '') : f.pre;
        skipSpace = !keep[i];
        s += keep[i] ? pre + cell(i) : pre;
      });
      return s + (skipSpace ? this.tail.replace(/^\s/, '') : this.tail);
    };
    const out: string[] = [];
    if (!noHeader) {
      out.push(line((i) => {
        const sp = this.specOf(this.fields[i]);
        return pad(this.headings[this.fields[i].name] ?? '', { ...sp, precision: undefined }, false, widths[i]);
      }));
    }
    for (const c of cells) out.push(line((i) => pad(c[i].s, c[i].spec, c[i].numeric, widths[i])));
    return out;
  }

  private specOf(f: Field): Spec {
    if (f.conv === 'd') {
      const sep = f.spec.indexOf('::');
      return parseSpec(sep < 0 ? '' : f.spec.slice(sep + 2));
    }
    return parseSpec(f.spec);
  }
}
