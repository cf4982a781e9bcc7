import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { invalid, notFound } from '../../../consent/errors.js';
import { requireProfile } from '../../../consent/operations.js';
import { parseRef } from '../../../consent/profile.js';
import {
  linkMaker,
  loadKeyring,
  publishPage,
  renderGenericPage,
  renderPersonalPage,
  requirePage,
  subscriptionMap,
} from '../../../landing/operations.js';
import { resolvePageServices } from '../../../landing/services.js';
import { parseSlug } from '../../../landing/page.js';
import { parseExpiresIn } from '../../../landing/tokens.js';
import { resolveBaseUrl } from '../../../landing/urls.js';
import type { CommandContext } from '../../context.js';

export async function publish(ctx: CommandContext, rawSlug: string, o: Record<string, unknown>): Promise<void> {
  const slug = parseSlug(rawSlug);
  const baseUrl = resolveBaseUrl(o.baseUrl, ctx.env);
  const store = await ctx.store();
  const r = await publishPage(store, slug, {
    outDir: resolve(ctx.deps.cwd, String(o.outDir ?? 'public')),
    baseUrl,
    at: ctx.nowIso(),
    actor: ctx.actor(),
  });
  if (o.json) {
    return ctx.json({ slug, version: r.version.version, created: r.created, publishedAt: r.version.publishedAt, file: r.file });
  }
  ctx.print(r.file);
  ctx.notice(
    r.created
      ? `Published "${slug}" as version ${r.version.version}.`
      : `"${slug}" is unchanged since version ${r.version.version}; rewrote its page.`,
  );
}

export async function render(ctx: CommandContext, rawSlug: string, o: Record<string, unknown>): Promise<void> {
  const slug = parseSlug(rawSlug);
  const baseUrl = resolveBaseUrl(o.baseUrl, ctx.env);
  const expiresIn = typeof o.expiresIn === 'string' ? parseExpiresIn(o.expiresIn) : undefined;
  const store = await ctx.store();
  const page = await requirePage(store, slug);
  let definition = page.draft;
  let version: number | null = null;
  if (o.pageVersion !== undefined) {
    const raw = String(o.pageVersion);
    const n = raw === 'latest' ? page.latestVersion : Number(raw);
    if (!Number.isInteger(n) || n < 0) throw invalid(`--page-version must be a version number or "latest", not "${raw}".`);
    const v = n > 0 ? await store.pages.version(slug, n) : null;
    if (!v) throw notFound(`The page "${slug}" has no published version ${raw}.`, `Its latest version is ${page.latestVersion || 'none'}.`);
    definition = v.definition;
    version = v.version;
  }
  const services = await resolvePageServices(store, definition);
  let htmlText: string;
  if (o.profile !== undefined) {
    const profile = await requireProfile(store, parseRef(String(o.profile)));
    const keyring = await loadKeyring(store, ctx.env);
    const { token } = linkMaker(keyring, definition, { baseUrl, expiresInSeconds: expiresIn, now: ctx.deps.now() })(profile.id);
    htmlText = renderPersonalPage(definition, version, profile, token, baseUrl, { boxes: services, subscriptions: await subscriptionMap(store, profile.id) });
  } else {
    htmlText = renderGenericPage(definition, version, baseUrl, services);
  }
  if (typeof o.out === 'string') {
    const file = resolve(ctx.deps.cwd, o.out);
    await writeFile(file, htmlText, 'utf8');
    ctx.notice(`Wrote ${file}.`);
  } else {
    ctx.deps.stdout.write(htmlText);
  }
}
