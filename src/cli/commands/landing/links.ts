import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { resolve } from 'node:path';
import type { ContactChannel } from '../../../consent/channels.js';
import { requireProfile } from '../../../consent/operations.js';
import { parseRef } from '../../../consent/profile.js';
import { linkMaker, loadKeyring, requirePublishedPage } from '../../../landing/operations.js';
import { parseSlug } from '../../../landing/page.js';
import { parseExpiresIn } from '../../../landing/tokens.js';
import { resolveBaseUrl } from '../../../landing/urls.js';
import type { CommandContext } from '../../context.js';
import type { OutStream } from '../../deps.js';

async function prepare(ctx: CommandContext, rawSlug: string, o: Record<string, unknown>) {
  const slug = parseSlug(rawSlug);
  const baseUrl = resolveBaseUrl(o.baseUrl, ctx.env);
  const expiresInSeconds = typeof o.expiresIn === 'string' ? parseExpiresIn(o.expiresIn) : undefined;
  const store = await ctx.store();
  const version = await requirePublishedPage(store, slug);
  const keyring = await loadKeyring(store, ctx.env);
  if (!baseUrl) ctx.notice('No --base-url (nor CONSENT_BASE_URL): the links are relative to the server root.');
  return { store, make: linkMaker(keyring, version.definition, { baseUrl, expiresInSeconds, now: ctx.deps.now() }) };
}

export async function link(ctx: CommandContext, slug: string, o: Record<string, unknown>): Promise<void> {
  const { store, make } = await prepare(ctx, slug, o);
  const profile = await requireProfile(store, parseRef(String(o.profile)));
  const { url, oneClickUrl } = make(profile.id);
  if (o.json) return ctx.json({ url, oneClickUrl });
  ctx.print(url);
  if (oneClickUrl) ctx.notice(`One-click (RFC 8058, List-Unsubscribe): ${oneClickUrl}`);
}

/** RFC 4180 quoting, only when needed. Emails are kept byte for byte: this file feeds a mail merge. */
function csvField(s: string): string {
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

export async function links(ctx: CommandContext, slug: string, o: Record<string, unknown>): Promise<void> {
  const { store, make } = await prepare(ctx, slug, o);
  const file = typeof o.out === 'string' ? createWriteStream(resolve(ctx.deps.cwd, o.out)) : undefined;
  if (file) await once(file, 'open');
  const out = chunkedWriter(file ?? ctx.deps.stdout);
  const jsonl = o.format === 'jsonl';
  let count = 0;
  try {
    if (!jsonl) out.add('id,email,url,oneClickUrl\n');
    // The lean listing: pages of [id, email], no Profile objects.
    for await (const page of store.bulk.listContacts({ reachable: o.reachable as ContactChannel | undefined })) {
      for (const [id, email] of page) {
        const l = make(id);
        const due = out.add(
          jsonl
            ? JSON.stringify({ id, email, url: l.url, oneClickUrl: l.oneClickUrl }) + '\n'
            : `${id},${csvField(email)},${csvField(l.url)},${l.oneClickUrl ? csvField(l.oneClickUrl) : ''}\n`,
        );
        if (due) await out.flush();
        count++;
      }
    }
    await out.flush();
  } finally {
    if (file) {
      file.end();
      await once(file, 'close');
    }
  }
  ctx.notice(`${count} link(s)${file ? ` written to ${resolve(ctx.deps.cwd, String(o.out))}` : ''}.`);
}
