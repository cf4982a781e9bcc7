/**
 * `landing links` with its HMACs off the main thread: a few worker threads
 * (node:worker_threads), each signing the tokens of whole pages of ids, while
 * the main thread reads the next pages from the store, formats the lines of
 * the pages whose tokens are back (link-lines.ts, the same code as without
 * threads) and writes them. Only the ids and the tokens cross, as transferred
 * buffers: sending the emails and the finished text both ways cost more than
 * the thread saved (the default was slower than --threads 0, measured).
 *
 * Order is kept: pages are numbered as they are read, and `linkTexts` yields
 * their texts in that order. Memory is bounded: at most IN_FLIGHT pages per
 * thread are being signed or waiting to be written; reading waits for the
 * oldest to come back before sending another.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { linkLineFormatter, type LinkLineSpec } from './link-lines.js';

interface Signed {
  ids: Float64Array;
  tokens: Uint8Array;
}

/**
 * The threads' script: next to this module once built. Run from the
 * TypeScript sources (as the in-process tests do), the built copy in dist/
 * (`npm test` builds first): a worker thread cannot load TypeScript.
 */
const WORKER_URL = import.meta.url.endsWith('.ts')
  ? new URL('../../dist/landing/link-signer-worker.js', import.meta.url)
  : new URL('./link-signer-worker.js', import.meta.url);
const IN_FLIGHT = 2;
/** A thread's heaps (V8's defaults are larger): it holds a page of ids and tokens at a time, and peak RSS stays low. */
const YOUNG_MB = 2;
const OLD_MB = 16;
/** More threads than this would only wait on the store and the disk. */
export const MAX_SIGNING_THREADS = 4;
/** Claim slots, one per page in flight (reused round-robin; more than can ever be in flight). */
const SLOTS = 64;

/**
 * The default number of signing threads: one per core available but the
 * main thread's (which reads the store and writes the file), at least one,
 * at most MAX_SIGNING_THREADS.
 */
export function defaultSigningThreads(): number {
  return Math.max(1, Math.min(MAX_SIGNING_THREADS, availableParallelism() - 1));
}

/**
 * Who signs a page: the thread it was sent to, or the main thread when it
 * needs the page and no thread has started it (a thread waiting for a core
 * on a busy machine): so the default is never slower than signing on the
 * main thread alone, whatever the other processes leave free. A page's slot
 * (seq % SLOTS, in memory shared with the threads) holds 2(seq+1) while the
 * page is open, 2(seq+1)+1 once a thread took it, -2(seq+1) once the main
 * thread did; each side takes it with compareExchange, so exactly one signs it.
 */
export const claimValue = {
  open: (seq: number) => 2 * (seq + 1),
  thread: (seq: number) => 2 * (seq + 1) + 1,
  main: (seq: number) => -2 * (seq + 1),
};

interface Pending {
  resolve: (signed: Signed | null) => void;
  reject: (e: Error) => void;
}

class SignerPool {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, Pending>();
  private readonly claims = new Int32Array(new SharedArrayBuffer(SLOTS * 4));
  private seq = 0;
  private failure: Error | null = null;

  constructor(spec: LinkLineSpec, threads: number) {
    for (let i = 0; i < threads; i++) {
      const w = new Worker(WORKER_URL, {
        workerData: { spec, claims: this.claims, slots: SLOTS },
        resourceLimits: { maxYoungGenerationSizeMb: YOUNG_MB, maxOldGenerationSizeMb: OLD_MB },
      });
      w.on('message', (m: { seq: number; ids?: Float64Array; tokens?: Uint8Array; error?: string }) => {
        const p = this.pending.get(m.seq);
        if (!p) return;
        this.pending.delete(m.seq);
        if (m.error !== undefined) p.reject(new Error(`A link-signing thread failed: ${m.error}`));
        else p.resolve(m.tokens ? { ids: m.ids!, tokens: m.tokens } : null);
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

  /**
   * Sends a page's ids (a copy: the caller keeps its own) to the next thread
   * in turn; `take` later gives its tokens, or null when the main thread is
   * to sign it itself.
   */
  send(ids: Float64Array): { seq: number; signed: Promise<Signed | null> } {
    const seq = this.seq++;
    if (this.failure) return { seq, signed: Promise.reject(this.failure) };
    Atomics.store(this.claims, seq % SLOTS, claimValue.open(seq));
    const signed = new Promise<Signed | null>((resolve, reject) => this.pending.set(seq, { resolve, reject }));
    const copy = ids.slice();
    this.workers[seq % this.workers.length]!.postMessage({ seq, ids: copy }, [copy.buffer as ArrayBuffer]);
    return { seq, signed };
  }

  /** The tokens of page `seq` when a thread has taken it (awaited), or null: no thread started it, the main thread signs it. */
  async take(seq: number, signed: Promise<Signed | null>): Promise<Signed | null> {
    const was = Atomics.compareExchange(this.claims, seq % SLOTS, claimValue.open(seq), claimValue.main(seq));
    if (was === claimValue.open(seq)) {
      this.pending.delete(seq); // the thread will answer that it skipped it
      return null;
    }
    return signed;
  }

  async close(): Promise<void> {
    this.pending.clear();
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/**
 * The text of the link lines of `pages` (pages of [id, email]), in order, a
 * page's text at a time with its row count. With `threads` ≥ 1 the tokens are
 * signed on that many worker threads (or here, for a page no thread has
 * started when it is due: see claimValue); with 0 on this thread.
 * The bytes are the same either way. The threads end when the iteration
 * does, however it ends (done, an error, the consumer stopping).
 */
export async function* linkTexts(
  spec: LinkLineSpec,
  pages: AsyncIterable<ReadonlyArray<readonly [number, string]>>,
  threads: number,
): AsyncGenerator<{ text: string | Uint8Array; rows: number }> {
  const format = linkLineFormatter(spec);
  const columns = (page: ReadonlyArray<readonly [number, string]>) => {
    const ids = new Float64Array(page.length);
    const emails = new Array<string>(page.length);
    for (let i = 0; i < page.length; i++) {
      const row = page[i]!;
      ids[i] = row[0];
      emails[i] = row[1];
    }
    return { ids, emails };
  };
  if (threads <= 0) {
    for await (const page of pages) {
      const { ids, emails } = columns(page);
      yield { text: format(ids, emails), rows: page.length };
    }
    return;
  }
  let pool: SignerPool | null = null;
  const queue: { seq: number; signed: Promise<Signed | null>; ids: Float64Array; emails: string[] }[] = [];
  const finish = async (oldest: (typeof queue)[number]) => {
    const signed = await pool!.take(oldest.seq, oldest.signed);
    const text = signed ? format(signed.ids, oldest.emails, signed.tokens) : format(oldest.ids, oldest.emails);
    return { text, rows: oldest.ids.length };
  };
  try {
    for await (const page of pages) {
      if (page.length === 0) continue;
      // Started on the first page: an empty listing starts no thread.
      pool ??= new SignerPool(spec, threads);
      const { ids, emails } = columns(page);
      const { seq, signed } = pool.send(ids);
      // Awaited in order below; a page that fails while an older one is awaited must not be an unhandled rejection.
      signed.catch(() => undefined);
      queue.push({ seq, signed, ids, emails });
      if (queue.length >= threads * IN_FLIGHT) yield await finish(queue.shift()!);
    }
    while (queue.length > 0) yield await finish(queue.shift()!);
  } finally {
    await pool?.close();
  }
}
