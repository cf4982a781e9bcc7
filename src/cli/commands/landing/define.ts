import { CHANNEL_INFO, CONTACT_CHANNELS } from '../../../consent/channels.js';
import { invalid } from '../../../consent/errors.js';
import { parsePageDefinition, parseSlug, type PageDefinition, type PageType } from '../../../landing/page.js';
import { requirePage } from '../../../landing/operations.js';
import { parseChannels, type CommandContext } from '../../context.js';
import { pageView, printPage } from './show.js';
import { loadStrings, noStrings } from '../../../landing/look.js';
import type { LandingStore } from '../../../landing/repository.js';

type Fields = Record<string, unknown>;

/** A page's language must have strings (shipped, or imported with `landing strings import`). */
async function requireStrings(store: LandingStore, lang: string): Promise<void> {
  if (!(await loadStrings(store, lang))) throw await noStrings(store, lang);
}

async function readFrom(ctx: CommandContext, path: string, slug: string): Promise<Fields> {
  const text = await ctx.readInput(path);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw invalid(`${path} is not valid JSON: ${(e as Error).message}.`, 'See fixtures/landing-page.json for the format.');
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw invalid(`${path} must hold one JSON object (a page definition).`, 'See fixtures/landing-page.json for the format.');
  }
  const fields = json as Fields;
  if (fields.slug !== undefined && fields.slug !== slug) {
    throw invalid(`Invalid page field slug: ${path} says "${String(fields.slug)}" but the command names "${slug}".`);
  }
  return fields;
}

/** The flags given, as definition fields (only those given). */
function flagFields(o: Fields): Fields {
  const f: Fields = {};
  for (const k of ['type', 'title', 'intro', 'lang', 'wording', 'confirmation', 'askReason'] as const) if (o[k] !== undefined) f[k] = o[k];
  if (o.services !== undefined) {
    f.services = String(o.services)
      .split(',')
      .map((x) => x.trim())
      .filter((x) => x !== '');
  }
  if (o.channels !== undefined) {
    f.channels = String(o.channels).trim() === '' ? [] : parseChannels(String(o.channels), CONTACT_CHANNELS);
  }
  return f;
}

export async function create(ctx: CommandContext, rawSlug: string, o: Fields): Promise<void> {
  const slug = parseSlug(rawSlug);
  const fields: Fields = { ...(typeof o.from === 'string' ? await readFrom(ctx, o.from, slug) : {}), ...flagFields(o) };
  const missing: string[] = [];
  if (fields.type === undefined) missing.push('--type');
  if (fields.title === undefined) missing.push('--title');
  if (fields.channels === undefined && Array.isArray(fields.services) && fields.services.length > 0) fields.channels = []; // a services-only page
  if (fields.channels === undefined && fields.type !== 'blocklist') missing.push('--channels');
  if (missing.length > 0) {
    // Ask only on a terminal; otherwise fail at once naming every missing flag.
    const hint = `pass ${missing.join(', ')}` + (missing.includes('--channels') ? ' (--channels is needed for an acquisition page)' : '');
    const prompt = ctx.prompter(hint);
    if (fields.type === undefined) {
      fields.type = await prompt.select<PageType>('Page type', [
        { value: 'acquisition', name: 'acquisition: one box per channel, ticked from the profile' },
        { value: 'blocklist', name: 'blocklist: opt out of every channel' },
      ]);
    }
    if (fields.title === undefined) fields.title = await prompt.input('Title', { required: true });
    if (fields.channels === undefined && fields.type === 'acquisition') {
      const lang = fields.lang === 'fr' ? 'fr' : 'en';
      fields.channels = await prompt.checkbox(
        'Channels shown on the page',
        CONTACT_CHANNELS.map((c) => ({ value: c, name: CHANNEL_INFO[c].name[lang] })),
      );
    }
  }
  const def = parsePageDefinition({ ...fields, slug });
  const store = await ctx.store();
  await requireStrings(store, def.lang);
  const record = await store.pages.create(def, ctx.nowIso());
  if (o.json) return ctx.json(await pageView(store, record));
  ctx.notice(`Created page "${slug}" (${def.type}), a draft: publish it with \`consent landing publish ${slug}\`.`);
}

export async function edit(ctx: CommandContext, rawSlug: string, o: Fields): Promise<void> {
  const slug = parseSlug(rawSlug);
  const store = await ctx.store();
  const current = await requirePage(store, slug);
  // --from replaces the whole definition; flags change only what they name.
  const base: Fields = typeof o.from === 'string' ? await readFrom(ctx, o.from, slug) : { ...current.draft };
  const flags = flagFields(o);
  if (Object.keys(flags).length === 0 && typeof o.from !== 'string') {
    throw invalid('Nothing to change.', `Pass the fields to change (--title, --channels, …) or --from <file>.`);
  }
  const fields: Fields = { ...base, ...flags };
  // Switching to a blocklist page drops the channel list rather than refusing.
  if (flags.type === 'blocklist' && flags.channels === undefined) fields.channels = [];
  if (flags.type === 'blocklist' && flags.services === undefined) fields.services = [];
  const def: PageDefinition = parsePageDefinition({ ...fields, slug });
  await requireStrings(store, def.lang);
  const record = await store.pages.saveDraft(def, ctx.nowIso());
  if (o.json) return ctx.json(await pageView(store, record));
  await printPage(ctx, await pageView(store, record));
}
