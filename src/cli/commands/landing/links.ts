import { once } from 'node:events';
import { resolve } from 'node:path';
import type { ContactChannel } from '../../../consent/channels.js';
import { requireProfile, requireService } from '../../../consent/operations.js';
import { parseRef } from '../../../consent/profile.js';
import { linkMaker, loadKeyring, requirePublishedPage, serviceOneClickLink } from '../../../landing/operations.js';
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
  if (o.json) return ctx.json({ url, oneClickUrl });
  ctx.print(url);
  if (oneClickUrl) ctx.notice(`One-click (RFC 8058, List-Unsubscribe): ${oneClickUrl}`);
}

/** RFC 4180 quoting, only when needed. Emails are kept byte for byte: this file feeds a mail merge. */
export function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

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

export async function links(ctx: CommandContext, slug: string, o: Record<string, unknown>): Promise<void> {
  const { store, make } = await prepare(ctx, slug, o);
  const jsonl = o.format === 'jsonl';
  const { count, file } = await streamRows(
    ctx,
    o.out,
    jsonl ? null : 'id,email,url,oneClickUrl\n',
    // The lean listing: pages of [id, email], no Profile objects.
    store.bulk.listContacts({ reachable: o.reachable as ContactChannel | undefined }),
    ([id, email]) => {
      const l = make(id);
      return jsonl
        ? JSON.stringify({ id, email, url: l.url, oneClickUrl: l.oneClickUrl }) + '\n'
        : `${id},${csvField(email)},${csvField(l.url)},${l.oneClickUrl ? csvField(l.oneClickUrl) : ''}\n`;
    },
  );
  ctx.notice(`${count} link(s)${file ? ` written to ${file}` : ''}.`);
}
