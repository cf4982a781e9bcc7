/**
 * `landing links` with its HMACs off the main thread: a few worker threads
 * (node:worker_threads), each formatting whole pages of link lines
 * (link-lines.ts, the same code as the main thread's), while the main thread
 * reads the next pages from the store and writes the finished text.
 *
 * Order is kept: pages are numbered as they are read, and `linkTexts` yields
 * their texts in that order. Memory is bounded: at most IN_FLIGHT pages per
 * thread are being signed or waiting to be written; reading waits for the
 * oldest to come back before sending another.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { linkLineFormatter, type LinkLineSpec } from './link-lines.js';

/**
 * The threads' script: next to this module once built. Run from the
 * TypeScript sources (as the in-process tests do), the built copy in dist/
 * (`npm test` builds first): a worker thread cannot load TypeScript.
 */
const WORKER_URL = import.meta.url.endsWith('.ts')
  ? new URL('../../dist/landing/link-signer-worker.js', import.meta.url)
  : new URL('./link-signer-worker.js', import.meta.url);
const IN_FLIGHT = 2;
/** A thread's young generation (V8's default is larger): its garbage is short-lived strings, and peak RSS stays low. */
const YOUNG_MB = 8;
/** More threads than this would only wait on the store and the disk. */
export const MAX_SIGNING_THREADS = 4;

/**
 * The default number of signing threads: one per core available but the
 * main thread's (which reads the store and writes the file), at least one,
 * at most MAX_SIGNING_THREADS.
 */
export function defaultSigningThreads(): number {
  return Math.max(1, Math.min(MAX_SIGNING_THREADS, availableParallelism() - 1));
}

interface Pending {
  resolve: (bytes: Uint8Array) => void;
  reject: (e: Error) => void;
}

class SignerPool {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, Pending>();
  private seq = 0;
  private failure: Error | null = null;

  constructor(spec: LinkLineSpec, threads: number) {
    for (let i = 0; i < threads; i++) {
      const w = new Worker(WORKER_URL, { workerData: spec, resourceLimits: { maxYoungGenerationSizeMb: YOUNG_MB } });
      w.on('message', (m: { seq: number; bytes?: Uint8Array; error?: string }) => {
        const p = this.pending.get(m.seq);
        if (!p) return;
        this.pending.delete(m.seq);
        if (m.error !== undefined) p.reject(new Error(`A link-signing thread failed: ${m.error}`));
        else p.resolve(m.bytes!);
      });
      w.on('error', (e) => this.fail(e));
      w.on('exit', (code) => {
        if (this.pending.size > 0) this.fail(new Error(`A link-signing thread stopped (exit code ${code}) with pages unsigned.`));
      });
      this.workers.push(w);
    }
  }

  private fail(e: Error): void {
    this.failure ??= e;
    for (const p of this.pending.values()) p.reject(this.failure);
    this.pending.clear();
  }

  /** The text of one page's lines, signed by the next thread in turn (each answers in the order it is sent). */
  format(ids: Float64Array, emails: string[]): Promise<Uint8Array> {
    if (this.failure) return Promise.reject(this.failure);
    const seq = this.seq++;
    const promise = new Promise<Uint8Array>((resolve, reject) => this.pending.set(seq, { resolve, reject }));
    this.workers[seq % this.workers.length]!.postMessage({ seq, ids, emails }, [ids.buffer as ArrayBuffer]);
    return promise;
  }

  async close(): Promise<void> {
    this.pending.clear();
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/**
 * The text of the link lines of `pages` (pages of [id, email]), in order, a
 * page's text at a time with its row count. With `threads` ≥ 1 the lines are
 * signed and formatted on that many worker threads; with 0 on this thread.
 * The bytes are the same either way. The threads end when the iteration
 * does, however it ends (done, an error, the consumer stopping).
 */
export async function* linkTexts(
  spec: LinkLineSpec,
  pages: AsyncIterable<ReadonlyArray<readonly [number, string]>>,
  threads: number,
): AsyncGenerator<{ text: string | Uint8Array; rows: number }> {
  if (threads <= 0) {
    const format = linkLineFormatter(spec);
    for await (const page of pages) {
      const ids = new Float64Array(page.length);
      const emails = new Array<string>(page.length);
      for (let i = 0; i < page.length; i++) {
        const row = page[i]!;
        ids[i] = row[0];
        emails[i] = row[1];
      }
      yield { text: format(ids, emails), rows: page.length };
    }
    return;
  }
  let pool: SignerPool | null = null;
  const queue: { text: Promise<Uint8Array>; rows: number }[] = [];
  try {
    for await (const page of pages) {
      if (page.length === 0) continue;
      // Started on the first page: an empty listing starts no thread.
      pool ??= new SignerPool(spec, threads);
      const ids = new Float64Array(page.length);
      const emails = new Array<string>(page.length);
      for (let i = 0; i < page.length; i++) {
        const row = page[i]!;
        ids[i] = row[0];
        emails[i] = row[1];
      }
      const text = pool.format(ids, emails);
      // Awaited in order below; a page that fails while an older one is awaited must not be an unhandled rejection.
      text.catch(() => undefined);
      queue.push({ text, rows: page.length });
      if (queue.length >= threads * IN_FLIGHT) {
        const oldest = queue.shift()!;
        yield { text: await oldest.text, rows: oldest.rows };
      }
    }
    while (queue.length > 0) {
      const oldest = queue.shift()!;
      yield { text: await oldest.text, rows: oldest.rows };
    }
  } finally {
    await pool?.close();
  }
}
