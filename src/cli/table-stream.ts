import { once } from 'node:events';
import stringWidth from 'string-width';
import type { OutStream } from './deps.js';

/**
 * Writes, and when the stream asks to wait (a pipe whose reader is slower:
 * Node then queues the text in memory), waits for it to drain. Our store
 * calls never yield to the event loop, so without this wait a long listing
 * piped into a slow reader would queue all of itself.
 */
export function writeOut(stream: OutStream, text: string): Promise<void> | undefined {
  const ok = stream.write(text);
  const emitter = stream as OutStream & { once?: unknown };
  if (ok === false && typeof emitter.once === 'function') return once(emitter as unknown as NodeJS.EventEmitter, 'drain').then(() => undefined);
  return undefined;
}

export interface StreamColumn {
  head: string;
  /** At most this many terminal columns; a longer cell is cut and ends with "…". */
  max?: number;
  align?: 'left' | 'right';
}

export interface TableStream {
  /** Adds a row; a promise when a page was written and the stream must drain first (await it). */
  row(cells: readonly string[]): Promise<void> | undefined;
  /** Writes what is buffered and closes the table. */
  end(): Promise<void> | undefined;
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

  row(cells: readonly string[]): Promise<void> | undefined {
    this.page.push(cells);
    return this.page.length >= this.pageRows ? this.flush() : undefined;
  }

  end(): Promise<void> | undefined {
    const text = (this.page.length > 0 ? this.take() : '') + this.close();
    return text ? writeOut(this.out, text) : undefined;
  }

  private take(): string {
    const page = this.page;
    this.page = [];
    const text = this.render(page);
    this.rows += page.length;
    return text;
  }

  private flush(): Promise<void> | undefined {
    return writeOut(this.out, this.take());
  }

  protected abstract render(page: readonly (readonly string[])[]): string;
  /** What closes the table ('' when nothing does). */
  protected close(): string {
    return '';
  }
}

class TsvStream extends PagedStream {
  protected render(page: readonly (readonly string[])[]): string {
    const head = this.rows === 0 ? this.columns.map((c) => c.head).join('\t') + '\n' : '';
    return head + page.map((r) => r.join('\t')).join('\n') + '\n';
  }
}

// C0 and C1 controls (and DEL) would move the cursor or change the terminal's state: shown as U+FFFD.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** Terminal columns of a text without control characters; printable ASCII (most cells) without string-width's cost. */
function width(text: string): number {
  return PRINTABLE_ASCII.test(text) ? text.length : stringWidth(text);
}

/** A cell as shown: controls replaced, cut to `max` columns with an ellipsis. */
export function fitCell(text: string, max = Infinity): string {
  const clean = text.replace(CONTROL, '\ufffd');
  if (width(clean) <= max) return clean;
  let out = '';
  let used = 0;
  for (const ch of clean) {
    const w = width(ch);
    if (used + w > max - 1) break;
    out += ch;
    used += w;
  }
  return out + '…';
}

class BoxedStream extends PagedStream {
  private widths: number[] | null = null;

  protected render(page: readonly (readonly string[])[]): string {
    const cells = page.map((r) => this.columns.map((c, i) => fitCell(r[i] ?? '', c.max)));
    const widths = cells.map((r) => r.map(width));
    const natural = this.columns.map((c, i) => {
      let w = width(c.head);
      for (const r of widths) if (r[i]! > w) w = r[i]!;
      return w;
    });
    let out = '';
    const prev = this.widths;
    if (!prev || natural.some((w, i) => w > prev[i]!)) {
      if (prev) out += this.line('└', '┴', '┘', prev);
      const grown = prev ? natural.map((w, i) => Math.max(w, prev[i]!)) : natural;
      this.widths = grown;
      const head = this.columns.map((c) => c.head);
      out += this.line('┌', '┬', '┐', grown);
      out += this.cells(head, head.map(width), grown, true);
      out += this.line('├', '┼', '┤', grown);
    }
    for (let r = 0; r < cells.length; r++) out += this.cells(cells[r]!, widths[r]!, this.widths!);
    return out;
  }

  protected override close(): string {
    return this.widths ? this.line('└', '┴', '┘', this.widths) : '';
  }

  private line(left: string, mid: string, right: string, widths: readonly number[]): string {
    return left + widths.map((w) => '─'.repeat(w + 2)).join(mid) + right + '\n';
  }

  /** One line: each text (of terminal width `used[i]`) padded to its column's width. */
  private cells(row: readonly string[], used: readonly number[], widths: readonly number[], head = false): string {
    const padded = row.map((text, i) => {
      const gap = ' '.repeat(widths[i]! - used[i]!);
      return !head && this.columns[i]!.align === 'right' ? gap + text : text + gap;
    });
    return '│ ' + padded.join(' │ ') + ' │\n';
  }
}
