// Plain-text tables for terminal output: columns aligned, numbers right-aligned.

export interface TableOptions {
  /** Alignment per column (default: right for columns of numbers only, else left), e.g. for numbers formatted as text ('72.00', '3.27M'). */
  align?: readonly ('left' | 'right')[];
  /** Least width per column (a table printed row by row keeps its columns aligned). */
  minWidths?: readonly number[];
}

export function renderTable(headers: string[], rows: (string | number)[][], options: TableOptions = {}): string {
  const cells = rows.map((r) => r.map((c) => String(c)));
  const widths = headers.map((h, i) => Math.max(h.length, options.minWidths?.[i] ?? 0, ...cells.map((r) => (r[i] ?? '').length)));
  const right = headers.map((_, i) => (options.align?.[i] ? options.align[i] === 'right' : rows.every((r) => typeof r[i] === 'number')));
  const fmt = (r: string[]) => r.map((c, i) => (right[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ');
  return [fmt(headers), widths.map((w) => '─'.repeat(w)).join('  '), ...cells.map(fmt)].join('\n');
}

/** One row of a before/after comparison: a label, the two values, and the change as text. */
export interface BeforeAfterRow {
  label: string;
  before: string | number;
  after: string | number;
  change: string;
}

/** The before/after table every compression workflow ends with. */
export function beforeAfterTable(rows: readonly BeforeAfterRow[], names: { before: string; after: string } = { before: 'base', after: 'pruned' }): string {
  return renderTable(['', names.before, names.after, 'change'], rows.map((r) => [r.label, r.before, r.after, r.change]));
}

/**
 * A table printed a row at a time (a training log): the header with the
 * first row, then each row alone, in columns at least `minWidths` wide so
 * later rows stay aligned under the one header.
 */
export class TableLines {
  private headed = false;
  constructor(
    private readonly headers: string[],
    private readonly options: TableOptions = {},
  ) {}

  /** The next row's text: header, rule and row the first time, the row alone after. */
  line(cells: (string | number)[]): string {
    const t = renderTable(this.headers, [cells], this.options);
    if (this.headed) return t.split('\n').slice(2).join('\n');
    this.headed = true;
    return t;
  }
}
