/*
 * Streams into a `COPY … FROM STDIN` (pg-copy-streams): the text format's
 * escaping, and a COPY whose first error is kept so that every later write
 * and the end throw it (a failed COPY fails the transaction: the caller then
 * rolls back or drops the connection).
 */
import { finished } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';

/** COPY's text format: backslash, tab, newline and CR escaped; \N is NULL; bytes as \\x and hex (bytea). */
export function copyText(v: string | number | null | Buffer): string {
  if (v === null) return '\\N';
  if (typeof v === 'number') return String(v);
  if (typeof v !== 'string') return '\\\\x' + v.toString('hex');
  return v.replace(/[\\\t\n\r]/g, (ch) => (ch === '\\' ? '\\\\' : ch === '\t' ? '\\t' : ch === '\n' ? '\\n' : '\\r'));
}

/** Writes to a COPY … FROM STDIN, waiting for it to drain (or fail: `failed()` then says why) when its buffer is full. */
async function writeCopy(copy: ReturnType<typeof copyFrom>, text: string, failed: () => unknown): Promise<void> {
  if (copy.write(text)) return;
  await new Promise<void>((resolve) => {
    const done = () => {
      copy.off('drain', done);
      copy.off('error', done);
      resolve();
    };
    copy.on('drain', done);
    copy.on('error', done);
  });
  const e = failed();
  if (e) throw e;
}

/** A `COPY … FROM STDIN` on the client, its first error kept: every later write, and end(), throw it. */
export class CopyIn {
  private readonly stream: ReturnType<typeof copyFrom>;
  private error: unknown = null;
  constructor(client: pg.PoolClient, sql: string) {
    this.stream = client.query(copyFrom(sql));
    this.stream.on('error', (e) => (this.error ??= e));
  }
  write(text: string): Promise<void> {
    if (this.error) return Promise.reject(this.error);
    return writeCopy(this.stream, text, () => this.error);
  }
  /** Sends the last text and waits for the server: the rows it took. */
  async end(text = ''): Promise<number> {
    this.stream.end(text);
    await finished(this.stream).catch((e) => (this.error ??= e));
    if (this.error) throw this.error;
    return this.stream.rowCount;
  }
  destroy(): void {
    this.stream.destroy();
  }
}
