import { pageSummary, parseSlug, type PageRecord } from '../../../landing/page.js';
import { requirePage } from '../../../landing/operations.js';
import type { CommandContext } from '../../context.js';
import type { LandingStore } from '../../../landing/repository.js';

/** The stable JSON of `landing show --json` (and create/edit --json). */
export async function pageView(store: LandingStore, r: PageRecord) {
  const published = r.latestVersion > 0 ? await store.pages.version(r.slug, r.latestVersion) : null;
  return {
    ...pageSummary(r),
    draftChanged: r.draftChanged,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    publishedAt: r.publishedAt,
    draft: r.draft,
    published: published ? published.definition : null,
  };
}

export async function printPage(ctx: CommandContext, v: Awaited<ReturnType<typeof pageView>>): Promise<void> {
  const s = await ctx.style();
  const d = v.draft;
  const state = v.version ? `published, version ${v.version} (${v.publishedAt})${v.draftChanged ? '; the draft has unpublished changes' : ''}` : 'draft, never published';
  ctx.print(
    [
      `${s.bold(d.title)}  ${s.dim(`/${d.slug}`)}`,
      `type: ${d.type}   lang: ${d.lang}${d.type === 'acquisition' ? `   wording: ${d.wording}   channels: ${d.channels.join(', ')}${d.services.length ? `   services: ${d.services.join(', ')}` : ''}` : ''}${d.askReason ? '   asks for a reason' : ''}`,
      `status: ${state}`,
      ...(d.intro ? [`intro: ${d.intro}`] : []),
      ...(d.confirmation ? [`confirmation: ${d.confirmation}`] : []),
    ].join('\n'),
  );
}

export async function show(ctx: CommandContext, rawSlug: string, o: Record<string, unknown>): Promise<void> {
  const store = await ctx.store();
  const view = await pageView(store, await requirePage(store, parseSlug(rawSlug)));
  if (o.json) return ctx.json(view);
  await printPage(ctx, view);
}

export async function list(ctx: CommandContext, o: Record<string, unknown>): Promise<void> {
  const store = await ctx.store();
  const pages = (await store.pages.list()).map(pageSummary);
  if (o.json) return ctx.json(pages);
  if (pages.length === 0) return ctx.notice('No pages yet: create one with `consent landing create <slug>`.');
  await ctx.table(
    ['slug', 'type', 'title', 'status', 'version'],
    pages.map((p) => [p.slug, p.type, p.title, p.status, p.version ? String(p.version) : '-']),
  );
}
