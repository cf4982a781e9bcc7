import stringWidth from 'string-width';
import type { OutStream } from './deps.js';

export interface StreamColumn {
  head: string;
  /** At most this many terminal columns; a longer cell is cut and ends with "…". */
  max?: number;
  align?: 'left' | 'right';
}

export interface TableStream {
  row(cells: readonly string[]): void;
  /** Writes what is buffered and closes the table. */
  end(): void;
  /** Data rows written so far. */
  readonly rows: number;
}

/** Rows per page: what is held in memory, and how soon the first rows appear. */
export const TABLE_PAGE_ROWS = 100;

/**
 * A table of unbounded length, written a page at a time so that rows appear
 * at once and memory stays flat (cli-table3 builds the whole table in memory,
 * and overflows the stack past ~100k rows).
 *
 * On a terminal: one boxed table. Column widths are those of the first page
 * (capped by `max`) and only grow: when a later page needs a wider column
 * (a longer id, a longer name), the table is closed and a new one opens with
 * the header again. Otherwise (piped): tab-separated, a header line first,
 * exactly what `renderTable` prints. Nothing at all when there is no row.
 */
export function openTableStream(stream: OutStream, columns: readonly StreamColumn[], pageRows = TABLE_PAGE_ROWS): TableStream {
  return stream.isTTY ? new BoxedStream(stream, columns, pageRows) : new TsvStream(stream, columns, pageRows);
}

abstract class PagedStream implements TableStream {
  protected page: (readonly string[])[] = [];
  rows = 0;

  constructor(
    protected readonly out: OutStream,
    protected readonly columns: readonly StreamColumn[],
    private readonly pageRows: number,
  ) {}

  row(cells: readonly string[]): void {
    this.page.push(cells);
    if (this.page.length >= this.pageRows) this.flush();
  }

  end(): void {
    this.flush();
    this.close();
  }

  private flush(): void {
    if (this.page.length === 0) return;
    const page = this.page;
    this.page = [];
    this.out.write(this.render(page));
    this.rows += page.length;
  }

  protected abstract render(page: readonly (readonly string[])[]): string;
  protected close(): void {}
}

class TsvStream extends PagedStream {
  protected render(page: readonly (readonly string[])[]): string {
    const head = this.rows === 0 ? this.columns.map((c) => c.head).join('\t') + '\n' : '';
    return head + page.map((r) => r.join('\t')).join('\n') + '\n';
  }
}

// C0 and C1 controls (and DEL) would move the cursor or change the terminal's state: shown as U+FFFD.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

/** A cell as shown: controls replaced, cut to `max` columns with an ellipsis. */
export function fitCell(text: string, max = Infinity): string {
  const clean = text.replace(CONTROL, '\ufffd');
  if (stringWidth(clean) <= max) return clean;
  let out = '';
  let width = 0;
  for (const ch of clean) {
    const w = stringWidth(ch);
    if (width + w > max - 1) break;
    out += ch;
    width += w;
  }
  return out + '…';
}

class BoxedStream extends PagedStream {
  private widths: number[] | null = null;

  protected render(page: readonly (readonly string[])[]): string {
    const cells = page.map((r) => this.columns.map((c, i) => fitCell(r[i] ?? '', c.max)));
    const natural = this.columns.map((c, i) => Math.max(stringWidth(c.head), ...cells.map((r) => stringWidth(r[i]!))));
    let out = '';
    const prev = this.widths;
    if (!prev || natural.some((w, i) => w > prev[i]!)) {
      if (prev) out += this.line('└', '┴', '┘', prev);
      const widths = prev ? natural.map((w, i) => Math.max(w, prev[i]!)) : natural;
      this.widths = widths;
      out += this.line('┌', '┬', '┐', widths);
      out += this.cells(this.columns.map((c) => c.head), widths, true);
      out += this.line('├', '┼', '┤', widths);
    }
    for (const r of cells) out += this.cells(r, this.widths!);
    return out;
  }

  protected override close(): void {
    if (this.widths) this.out.write(this.line('└', '┴', '┘', this.widths));
  }

  private line(left: string, mid: string, right: string, widths: readonly number[]): string {
    return left + widths.map((w) => '─'.repeat(w + 2)).join(mid) + right + '\n';
  }

  private cells(row: readonly string[], widths: readonly number[], head = false): string {
    const padded = row.map((text, i) => {
      const gap = ' '.repeat(widths[i]! - stringWidth(text));
      return !head && this.columns[i]!.align === 'right' ? gap + text : text + gap;
    });
    return '│ ' + padded.join(' │ ') + ' │\n';
  }
}
