import { resolve } from 'node:path';
import { parseRef } from '../../../consent/profile.js';
import { publishPage, renderPreview } from '../../../landing/operations.js';
import { parseSlug } from '../../../landing/page.js';
import { parseExpiresIn } from '../../../landing/tokens.js';
import { resolveBaseUrl } from '../../../landing/urls.js';
import type { CommandContext } from '../../context.js';
import { fileWriteError, writeOutputFile } from '../../output-file.js';

export async function publish(ctx: CommandContext, rawSlug: string, o: Record<string, unknown>): Promise<void> {
  const slug = parseSlug(rawSlug);
  const baseUrl = resolveBaseUrl(o.baseUrl, ctx.env);
  const store = await ctx.store();
  const outDir = String(o.outDir ?? 'public');
  let r;
  try {
    r = await publishPage(store, slug, { outDir: resolve(ctx.deps.cwd, outDir), baseUrl, at: ctx.nowIso(), actor: ctx.actor() });
  } catch (e) {
    const err = fileWriteError(e, `${outDir}/${slug}/index.html`, resolve(ctx.deps.cwd, outDir, slug, 'index.html'));
    if (err !== e && err instanceof Error) err.message += ` Nothing was published: "${slug}" is as it was.`;
    throw err;
  }
  if (r.warning) ctx.notice(`Warning: ${r.warning}`);
  if (o.json) {
    return ctx.json({ slug, version: r.version.version, created: r.created, publishedAt: r.version.publishedAt, file: r.file, brandVersion: r.brandVersion });
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
  const htmlText = await renderPreview(await ctx.store(), slug, {
    pageVersion: o.pageVersion === undefined ? undefined : String(o.pageVersion),
    profile: o.profile === undefined ? undefined : parseRef(String(o.profile)),
    env: ctx.env,
    baseUrl: resolveBaseUrl(o.baseUrl, ctx.env),
    expiresInSeconds: typeof o.expiresIn === 'string' ? parseExpiresIn(o.expiresIn) : undefined,
    now: ctx.deps.now(),
  });
  if (typeof o.out === 'string') {
    const file = resolve(ctx.deps.cwd, o.out);
    await writeOutputFile(ctx, o.out, (out) => out.write(htmlText));
    ctx.notice(`Wrote ${file}.`);
  } else {
    ctx.deps.stdout.write(htmlText);
  }
}
