import { once } from 'node:events';
import { resolve } from 'node:path';
import type { ContactChannel } from '../../../consent/channels.js';
import { requireProfile, requireService } from '../../../consent/operations.js';
import { parseRef } from '../../../consent/profile.js';
import { invalid } from '../../../consent/errors.js';
import { linkHeader } from '../../../landing/link-lines.js';
import { linkTexts, defaultSigningThreads } from '../../../landing/link-signer-pool.js';
import { linkLineSpec, linkMaker, loadKeyring, requirePublishedPage, serviceOneClickLink } from '../../../landing/operations.js';
import { parseSlug } from '../../../landing/page.js';
import { parseExpiresIn } from '../../../landing/tokens.js';
import { resolveBaseUrl } from '../../../landing/urls.js';
import type { CommandContext } from '../../context.js';
import type { OutStream } from '../../deps.js';
import { writeOutputFile } from '../../output-file.js';

async function prepare(ctx: CommandContext, rawSlug: string, o: Record<string, unknown>) {
  const slug = parseSlug(rawSlug);
  const baseUrl = resolveBaseUrl(o.baseUrl, ctx.env);
  const expiresInSeconds = typeof o.expiresIn === 'string' ? parseExpiresIn(o.expiresIn) : undefined;
  const store = await ctx.store();
  const version = await requirePublishedPage(store, slug);
  const keyring = await loadKeyring(store, ctx.env);
  if (!baseUrl) ctx.notice('No --base-url (nor CONSENT_BASE_URL): the links are relative to the server root.');
  return { store, version, keyring, baseUrl, expiresInSeconds, make: linkMaker(keyring, version.definition, { baseUrl, expiresInSeconds, now: ctx.deps.now() }) };
}

export async function link(ctx: CommandContext, slug: string, o: Record<string, unknown>): Promise<void> {
  const { store, make, version, keyring, baseUrl, expiresInSeconds } = await prepare(ctx, slug, o);
  const profile = await requireProfile(store, parseRef(String(o.profile)));
  let { url, oneClickUrl } = make(profile.id);
  if (typeof o.service === 'string') {
    // The page link lets the person manage the service; the one-click link unsubscribes from it only.
    const service = await requireService(store, o.service);
    oneClickUrl = serviceOneClickLink(keyring, version, service.name, { baseUrl, expiresInSeconds, now: ctx.deps.now() })(profile.id);
  }
  // The headers a sending system sets on the mail (RFC 2369, RFC 8058): also how `feedback ingest` finds the person behind a complaint.
  const headers = oneClickUrl ? { 'List-Unsubscribe': `<${oneClickUrl}>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' } : null;
  if (o.json) return ctx.json({ url, oneClickUrl, headers });
  ctx.print(url);
  if (headers) {
    ctx.notice(`One-click (RFC 8058): ${oneClickUrl}\nSet on the mail (a complaint about it then finds the person, see \`consent feedback ingest\`):`);
    ctx.notice(Object.entries(headers).map(([k, v]) => `  ${k}: ${v}`).join('\n'));
  }
}

export { csvField } from '../../../landing/link-lines.js';

/**
 * Batches rows into ~64 KiB chunks. `add` is synchronous and says when a
 * chunk is due; `flush` writes it and waits for 'drain' when the stream asks
 * to, so memory stays bounded however slow the reader.
 */
function chunkedWriter(stream: OutStream & { once?: unknown }) {
  let buf = '';
  return {
    add(s: string): boolean {
      buf += s;
      return buf.length >= 65536;
    },
    async flush(): Promise<void> {
      if (!buf) return;
      const ok = stream.write(buf);
      buf = '';
      if (ok === false && typeof stream.once === 'function') await once(stream as unknown as NodeJS.EventEmitter, 'drain');
    },
  };
}

/**
 * Streams pages of rows to `--out <file>` or stdout in ~64 KiB chunks (constant memory,
 * waiting on 'drain' or on each write), one `line(row)` each after an optional CSV header.
 * A file is written atomically (whole or not at all; Ctrl-C removes it, see output-file.ts).
 * Returns the count and the file written (undefined for stdout).
 */
export async function streamRows<T>(
  ctx: CommandContext,
  outPath: unknown,
  header: string | null,
  pages: AsyncIterable<readonly T[]>,
  line: (row: T) => string,
): Promise<{ count: number; file: string | undefined }> {
  const fill = async (out: { add(s: string): boolean; flush(): Promise<void> }) => {
    let count = 0;
    if (header) out.add(header);
    for await (const page of pages) {
      for (const row of page) {
        if (out.add(line(row))) await out.flush();
        count++;
      }
    }
    await out.flush();
    return count;
  };
  if (typeof outPath !== 'string') return { count: await fill(chunkedWriter(ctx.deps.stdout)), file: undefined };
  // Written under a temp name and renamed when whole (the atomic file batches its own writes).
  const count = await writeOutputFile(ctx, outPath, (file) => {
    let pending = '';
    return fill({
      add(s) {
        pending += s;
        return pending.length >= 65536;
      },
      async flush() {
        const text = pending;
        pending = '';
        if (text) await file.write(text);
      },
    });
  });
  return { count, file: resolve(ctx.deps.cwd, outPath) };
}

/** Rows one at a time, as pages for streamRows. */
export async function* inPages<T>(rows: AsyncIterable<T>, size = 1000): AsyncIterable<T[]> {
  let page: T[] = [];
  for await (const row of rows) {
    page.push(row);
    if (page.length >= size) {
      yield page;
      page = [];
    }
  }
  if (page.length > 0) yield page;
}

/** `--threads`: how many threads sign the links (0 = the main thread). */
function signingThreads(raw: unknown): number {
  if (raw === undefined) return defaultSigningThreads();
  const n = typeof raw === 'string' && /^\d{1,2}$/.test(raw.trim()) ? Number(raw) : NaN;
  if (!(n >= 0 && n <= 16)) throw invalid(`Invalid --threads "${String(raw)}".`, 'Give a number of threads from 0 (sign on the main thread) to 16.');
  return n;
}

export async function links(ctx: CommandContext, slug: string, o: Record<string, unknown>): Promise<void> {
  const threads = signingThreads(o.threads);
  const { store, keyring, version, baseUrl, expiresInSeconds } = await prepare(ctx, slug, o);
  const format = o.format === 'jsonl' ? 'jsonl' : 'csv';
  const spec = linkLineSpec(keyring, version.definition, { baseUrl, expiresInSeconds, now: ctx.deps.now() }, format);
  // The lean listing: pages of [id, email], no Profile objects; signed and formatted a page at a time, in order.
  const texts = linkTexts(spec, store.bulk.listContacts({ reachable: o.reachable as ContactChannel | undefined }), threads);
  const { count, file } = await streamText(ctx, o.out, linkHeader(format), texts);
  ctx.notice(`${count} link(s)${file ? ` written to ${file}` : ''}.`);
}

/**
 * Like streamRows for text already made a page at a time: to `--out <file>`
 * (atomically, awaiting each write) or stdout (waiting on 'drain').
 */
async function streamText(
  ctx: CommandContext,
  outPath: unknown,
  header: string | null,
  texts: AsyncIterable<{ text: string | Uint8Array; rows: number }>,
): Promise<{ count: number; file: string | undefined }> {
  const fill = async (write: (s: string | Uint8Array) => Promise<void>) => {
    let count = 0;
    if (header) await write(header);
    for await (const { text, rows } of texts) {
      await write(text);
      count += rows;
    }
    return count;
  };
  if (typeof outPath !== 'string') {
    const stdout = chunkedWriter(ctx.deps.stdout);
    const decoder = new TextDecoder();
    return { count: await fill((s) => (stdout.add(typeof s === 'string' ? s : decoder.decode(s)), stdout.flush())), file: undefined };
  }
  const count = await writeOutputFile(ctx, outPath, (file) => fill((s) => file.write(s)));
  return { count, file: resolve(ctx.deps.cwd, outPath) };
}
