import type { ChalkInstance } from 'chalk';
import type { OutStream } from './deps.js';

/** Colour only on a terminal, never with NO_COLOR, TERM=dumb or --no-color. */
export function wantsColor(stream: OutStream, env: Record<string, string | undefined>, flag: boolean): boolean {
  if (!flag) return false;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.TERM === 'dumb') return false;
  return stream.isTTY === true;
}

export type Style = Pick<ChalkInstance, 'bold' | 'dim' | 'red' | 'green' | 'yellow' | 'cyan'>;

const plain = (s: string) => s;
const PLAIN: Style = { bold: plain, dim: plain, red: plain, green: plain, yellow: plain, cyan: plain } as unknown as Style;

export async function makeStyle(color: boolean): Promise<Style> {
  if (!color) return PLAIN;
  const { Chalk } = await import('chalk');
  return new Chalk({ level: 1 });
}

/**
 * A table for people: boxed (cli-table3) on a terminal, tab-separated with a
 * header line otherwise, so it still pipes into `cut` and `sort`.
 */
export async function renderTable(stream: OutStream, head: string[], rows: string[][]): Promise<string> {
  if (stream.isTTY) {
    const { default: Table } = await import('cli-table3');
    const t = new Table({ head, style: { head: [], border: [] } });
    for (const r of rows) t.push(r);
    return t.toString() + '\n';
  }
  return [head, ...rows].map((r) => r.join('\t')).join('\n') + '\n';
}
