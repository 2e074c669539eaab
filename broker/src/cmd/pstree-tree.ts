/**
 * The tree `flux pstree` draws (flux-core's flux.util.Tree): each node a label with an optional
 * prefix column before the connectors; identical leaf children combined as `N*[label]`; box,
 * compact or ASCII connectors; lines cut at the terminal width with a trailing `+`.
 */

interface Connectors {
  pipe: string;
  tee: string;
  elbow: string;
  blank: string;
}

export type TreeStyle = 'box' | 'compact' | 'ascii';

const STYLES: Record<TreeStyle, Connectors> = {
  ascii: { pipe: '|   ', tee: '|-- ', elbow: '`-- ', blank: '    ' },
  box: { pipe: '│   ', tee: '├── ', elbow: '└── ', blank: '    ' },
  compact: { pipe: '│ ', tee: '├─', elbow: '└─', blank: '  ' },
};

export class Tree {
  readonly prefix: string;
  readonly children: Tree[] = [];
  count = 1;
  /** Leaf children already added, by prefix and label, for combining. */
  private readonly seen = new Map<string, Tree>();

  constructor(readonly label: string, prefix = '', readonly combineChildren = false) {
    this.prefix = prefix ? `${prefix} ` : '';
  }

  /** Add a child; a leaf identical to an earlier leaf only counts it again (when combining). */
  appendTree(t: Tree): Tree {
    if (!this.combineChildren || t.children.length > 0) {
      this.children.push(t);
      return t;
    }
    const key = `${t.prefix}${t.label}`;
    const dup = this.seen.get(key);
    if (dup) {
      dup.count++;
      return dup;
    }
    this.children.push(t);
    this.seen.set(key, t);
    return t;
  }

  /** The lines of the drawing; `width` cuts longer lines (Python counts characters, as here). */
  render(opts: { style?: TreeStyle; skipRoot?: boolean; width?: number } = {}): string[] {
    const lines: string[] = [];
    const style = STYLES[opts.style ?? 'box'];
    if (opts.skipRoot) {
      for (const c of this.children) c.walk([], '', style, opts.width, lines);
    } else this.walk([], '', style, opts.width, lines);
    return lines;
  }

  // `stack` holds the fill for each level above; its top belongs to the level below this node.
  private walk(stack: string[], connector: string, style: Connectors, width: number | undefined, lines: string[]): void {
    const label = this.count > 1 ? `${this.count}*[${this.label}]` : this.label;
    let line = `${this.prefix}${stack.slice(0, -1).join('')}${connector}${label}`;
    const chars = [...line];
    if (width && chars.length > width) line = `${chars.slice(0, width - 1).join('')}+`;
    lines.push(line);
    this.children.forEach((c, i) => {
      const last = i === this.children.length - 1;
      stack.push(last ? style.blank : style.pipe);
      c.walk(stack, last ? style.elbow : style.tee, style, width, lines);
      stack.pop();
    });
  }
}
