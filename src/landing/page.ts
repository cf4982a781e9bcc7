import { z } from 'zod';
import { CONTACT_CHANNELS, type ContactChannel } from '../consent/channels.js';
import { invalid } from '../consent/errors.js';
import { LANG_RE } from './strings.js';

export const PAGE_TYPES = ['acquisition', 'blocklist'] as const;
export type PageType = (typeof PAGE_TYPES)[number];
/** The languages shipped with consent (strings files in src/landing/strings); any language with strings in the store is accepted too. */
export const LANGS = ['en', 'fr', 'de', 'es', 'it', 'nl'] as const;
/** A page's language: a tag such as `fr` or `pt-BR` that has strings (shipped, or imported with `landing strings import`). */
export type Lang = string;
/**
 * `consent`: the box says "Email" and is ticked when the person may be
 * contacted on it. `optout`: Adobe's wording, "No longer contact by email",
 * ticked when the person opted out.
 */
export const WORDINGS = ['consent', 'optout'] as const;
export type Wording = (typeof WORDINGS)[number];

/** Lower-case letters, digits and inner hyphens, at most 64: safe as a file name and a URL path segment. */
export const SLUG_RE = /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/;

/**
 * Slugs that can never be a page: the server routes `/confirm/<service>`
 * (subscription confirmations, issue 6) under it.
 */
export const RESERVED_SLUGS: readonly string[] = ['confirm'];

export const SlugSchema = z
  .string()
  .regex(SLUG_RE, 'lower-case letters, digits and hyphens only (no leading or trailing hyphen), at most 64')
  .refine((s) => !RESERVED_SLUGS.includes(s), 'this slug is reserved by the server (it serves /confirm/<service>)');

export function parseSlug(raw: string): string {
  if (RESERVED_SLUGS.includes(raw)) {
    throw invalid(`The slug "${raw}" is reserved: the server serves subscription confirmations under /${raw}/<service>.`, 'Choose another slug.');
  }
  if (!SLUG_RE.test(raw)) {
    throw invalid(
      `Invalid slug "${raw}": use lower-case letters, digits and hyphens only (no leading or trailing hyphen), at most 64 characters.`,
      'For example: newsletter-2026.',
    );
  }
  return raw;
}

const optionalText = (max: number) =>
  z
    .string()
    .trim()
    .max(max, `at most ${max} characters`)
    .nullish()
    .transform((v) => (v ? v : null));

/** What an operator writes (`--from page.json`, flags); defaults filled in on parse. */
export const PageDefinitionSchema = z
  .strictObject({
    slug: SlugSchema,
    type: z.enum(PAGE_TYPES, { error: `must be one of ${PAGE_TYPES.join(', ')}` }),
    title: z.string({ error: 'is required' }).trim().min(1, 'must not be empty').max(200, 'at most 200 characters'),
    intro: optionalText(2000),
    lang: z.string().regex(LANG_RE, 'a language tag such as en, fr or pt-BR (one that has page strings)').default('en'),
    channels: z
      .array(z.enum(CONTACT_CHANNELS, { error: `must be one of ${CONTACT_CHANNELS.join(', ')}` }))
      .default([]),
    services: z
      .array(z.string().regex(SLUG_RE, 'a service name: lower-case letters, digits and hyphens, at most 64'))
      .default([]),
    wording: z.enum(WORDINGS, { error: `must be one of ${WORDINGS.join(', ')}` }).default('consent'),
    confirmation: optionalText(1000),
    /** Blocklist pages (and their one-click confirmation): an optional "why?" survey after the opt-out is recorded. */
    askReason: z.boolean().default(false),
  })
  .superRefine((p, ctx) => {
    if (p.type === 'acquisition' && p.channels.length === 0 && p.services.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['channels'], message: 'an acquisition page needs at least one channel' });
    }
    if (p.type !== 'blocklist' && p.askReason) {
      ctx.addIssue({ code: 'custom', path: ['askReason'], message: 'the unsubscribe-reason survey is for blocklist pages (their confirmation and one-click confirmation)' });
    }
    if (p.type === 'blocklist' && p.services.length > 0) {
      ctx.addIssue({ code: 'custom', path: ['services'], message: 'a blocklist page stops everything; it takes no service list' });
    }
    if (new Set(p.services).size !== p.services.length) {
      ctx.addIssue({ code: 'custom', path: ['services'], message: 'a service is listed twice' });
    }
    if (p.type === 'blocklist' && p.channels.length > 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['channels'],
        message: 'a blocklist page opts out of every channel; it takes no channel list',
      });
    }
    if (new Set(p.channels).size !== p.channels.length) {
      ctx.addIssue({ code: 'custom', path: ['channels'], message: 'a channel is listed twice' });
    }
  });

export interface PageDefinition {
  slug: string;
  type: PageType;
  title: string;
  intro: string | null;
  lang: Lang;
  /** In the order shown; empty for a blocklist page. */
  channels: ContactChannel[];
  /**
   * Services (newsletters) offered as boxes, by name, in the order shown;
   * empty for a blocklist page. Publishing refuses names that are not services.
   */
  services: string[];
  wording: Wording;
  /** Shown after a submission; null means the built-in message of the page's language. */
  confirmation: string | null;
  /** Blocklist pages: after the opt-out is recorded, offer an optional unsubscribe-reason survey (`--ask-reason`). */
  askReason: boolean;
}

/** Validates with zod; the first problem becomes an `invalid` error naming the field. */
export function parsePageDefinition(input: unknown, where = 'page'): PageDefinition {
  const result = PageDefinitionSchema.safeParse(input);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    if (issue.code === 'unrecognized_keys') {
      throw invalid(
        `Invalid ${where}: unknown field ${issue.keys.map((k) => `"${k}"`).join(', ')}.`,
        'Fields: slug, type, title, intro, lang, channels, services, wording, confirmation, askReason.',
      );
    }
    const field = issue.path.join('.') || 'input';
    throw invalid(`Invalid ${where} field ${field}: ${issue.message}.`);
  }
  return result.data as PageDefinition;
}

/** A page as stored: its current draft and where its published versions stand. */
export interface PageRecord {
  slug: string;
  draft: PageDefinition;
  createdAt: string;
  updatedAt: string;
  /** The latest published version number, 0 when never published. */
  latestVersion: number;
  publishedAt: string | null;
  /** The draft differs from the latest published version (or was never published). */
  draftChanged: boolean;
}

/** An immutable, published version of a page. Submissions name it. */
export interface PageVersion {
  slug: string;
  version: number;
  definition: PageDefinition;
  publishedAt: string;
  publishedBy: string;
}

/** Canonical JSON of a definition, for storage and for "did the draft change" comparisons. */
export { canonicalDefinition } from './canonical.js';

/** The stable JSON of `landing list --json` entries. */
export function pageSummary(r: PageRecord) {
  return {
    slug: r.slug,
    type: r.draft.type,
    title: r.draft.title,
    status: r.latestVersion > 0 ? ('published' as const) : ('draft' as const),
    version: r.latestVersion > 0 ? r.latestVersion : null,
  };
}
