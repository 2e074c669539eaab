/**
 * The grammar of flux-core's Python `flux.util.OutputFormat` strings, shared by
 * `flux jobs` (jobs-format.ts) and `flux resource` (resource-format.ts), which
 * differ in their fields, conversions and specs: `{field[!conv][:spec]}` with
 * `{{`/`}}` for literal braces and the `?:` (drop an empty column) and `+:`
 * (widen to the longest value) prefixes written just before the field.
 */
export class FormatError extends Error {}

export interface FormatField {
  /** Literal text before the field. */
  pre: string;
  name: string;
  conv?: string;
  spec: string;
  dropEmpty: boolean;
  widen: boolean;
}

/**
 * Split a format into fields and the text after the last one. `known` says which field names
 * exist; `context` prefixes the unterminated-brace message (flux jobs says "Error in user format: ").
 */
export function parseOutputFormat(fmt: string, known: (name: string) => boolean, context = ''): { fields: FormatField[]; tail: string } {
  const fields: FormatField[] = [];
  let lit = '';
  let i = 0;
  while (i < fmt.length) {
    const c = fmt[i];
    if (c === '{' && fmt[i + 1] === '{') { lit += '{'; i += 2; continue; }
    if (c === '}' && fmt[i + 1] === '}') { lit += '}'; i += 2; continue; }
    if (c !== '{') { lit += c; i++; continue; }
    const end = fmt.indexOf('}', i);
    if (end < 0) throw new FormatError(`${context}expected '}' before end of string`);
    const body = fmt.slice(i + 1, end);
    const prefix = /(\?\+:|\+\?:|\?:|\+:)$/.exec(lit);
    if (prefix) lit = lit.slice(0, -prefix[1].length);
    const colon = body.indexOf(':');
    const head = colon < 0 ? body : body.slice(0, colon);
    const bang = head.indexOf('!');
    const name = bang < 0 ? head : head.slice(0, bang);
    if (!known(name)) throw new FormatError(`Unknown format field: ${name}`);
    fields.push({
      pre: lit, name, conv: bang < 0 ? undefined : head.slice(bang + 1), spec: colon < 0 ? '' : body.slice(colon + 1),
      dropEmpty: prefix?.[1].includes('?') ?? false, widen: prefix?.[1].includes('+') ?? false,
    });
    lit = '';
    i = end + 1;
  }
  return { fields, tail: lit };
}

/** Python's padding of a formatted value: `align` (default right for numbers, else left) with `fill`. */
export function padValue(s: string, width: number, fill: string, align: string | undefined, numeric: boolean): string {
  if (s.length >= width) return s;
  const n = width - s.length;
  const a = align ?? (numeric ? '>' : '<');
  if (a === '>') return fill.repeat(n) + s;
  if (a === '^') return fill.repeat(Math.floor(n / 2)) + s + fill.repeat(n - Math.floor(n / 2));
  return s + fill.repeat(n);
}
