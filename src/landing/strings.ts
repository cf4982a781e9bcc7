/**
 * Every text a page shows, one strings file per language
 * (src/landing/strings/<lang>.json, flat `key: text`). `en` is the reference:
 * every other set, shipped or imported (`landing strings import`), must have
 * exactly its keys, and each text the same `{placeholders}`. An imported set
 * (kept in the store, `page_strings`) overrides the shipped file of its
 * language or adds a language. Pure.
 */
import { invalid } from '../consent/errors.js';
import type { Channel } from '../consent/channels.js';
import de from './strings/de.json' with { type: 'json' };
import en from './strings/en.json' with { type: 'json' };
import es from './strings/es.json' with { type: 'json' };
import fr from './strings/fr.json' with { type: 'json' };
import it from './strings/it.json' with { type: 'json' };
import nl from './strings/nl.json' with { type: 'json' };

export type StringKey = keyof typeof en;
export type PageStrings = Readonly<Record<StringKey, string>>;

/** The keys every strings file has, in the reference file's order. */
export const STRING_KEYS = Object.keys(en) as StringKey[];

/** The languages shipped with consent; `landing strings import` adds others. */
export const SHIPPED_STRINGS: Readonly<Record<string, PageStrings>> = { en, fr, de, es, it, nl };

/** A language tag as a page's `lang` (and the html lang attribute): `fr`, `pt-BR`, `de-CH`. */
export const LANG_RE = /^[a-z]{2,3}(?:-[A-Z]{2}|-[A-Za-z0-9]{4,8})?$/;

/** At most this many characters per text: a page text, not a document. */
export const STRING_MAX = 2000;

const placeholders = (t: string) => [...t.matchAll(/\{([a-zA-Z]+)\}/g)].map((m) => m[1]!).sort();

/**
 * A strings set checked for completeness: an object of strings with exactly
 * the reference keys, no empty text, each with the reference's placeholders.
 * The first problem is an `invalid` error naming the key.
 */
export function validateStrings(input: unknown, where: string): PageStrings {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) throw invalid(`${where}: a strings file is a JSON object of "key": "text".`);
  const o = input as Record<string, unknown>;
  const missing = STRING_KEYS.filter((k) => !(k in o));
  if (missing.length > 0) throw invalid(`${where}: missing key "${missing[0]}"${missing.length > 1 ? ` (and ${missing.length - 1} more: ${missing.slice(1, 6).join(', ')}${missing.length > 6 ? ', …' : ''})` : ''}.`, 'Start from `consent landing strings export --lang en`, which has every key.');
  const unknown = Object.keys(o).filter((k) => !(STRING_KEYS as string[]).includes(k));
  if (unknown.length > 0) throw invalid(`${where}: unknown key "${unknown[0]}".`, 'Only the keys of `consent landing strings export --lang en` are texts of a page.');
  for (const k of STRING_KEYS) {
    const v = o[k];
    if (typeof v !== 'string') throw invalid(`${where}: key "${k}" must be a text (a JSON string).`);
    if (v.trim() === '') throw invalid(`${where}: key "${k}" is empty.`);
    if (v.length > STRING_MAX) throw invalid(`${where}: key "${k}" is longer than ${STRING_MAX} characters.`);
    const want = placeholders(en[k]);
    const got = placeholders(v);
    if (want.join(',') !== got.join(',')) {
      throw invalid(
        `${where}: key "${k}" must hold the placeholder${want.length === 1 ? '' : 's'} ${want.length ? want.map((p) => `{${p}}`).join(' ') : '(none)'}, not ${got.length ? got.map((p) => `{${p}}`).join(' ') : 'none'}.`,
      );
    }
  }
  const out: Record<string, string> = {};
  for (const k of STRING_KEYS) out[k] = o[k] as string;
  return out as PageStrings;
}

// The shipped files are held to the same rule (a test checks each; failing here would break every page).
for (const [lang, s] of Object.entries(SHIPPED_STRINGS)) validateStrings(s, `src/landing/strings/${lang}.json`);

/** A text with its `{placeholders}` filled in (values are plain text; the html template escapes them later). */
export function fill(template: string, values: Readonly<Record<string, string>>): string {
  return template.replace(/\{([a-zA-Z]+)\}/g, (m, k: string) => values[k] ?? m);
}

/** The shipped strings of a language, or the reference (en) for one that has none shipped. */
export function shippedStrings(lang: string): PageStrings {
  return SHIPPED_STRINGS[lang] ?? SHIPPED_STRINGS.en!;
}

const cap = (c: string) => c[0]!.toUpperCase() + c.slice(1);

/** A channel's short name ("Email"), for the consent wording. */
export function channelName(s: PageStrings, channel: Channel): string {
  return s[`channel${cap(channel)}Name` as StringKey];
}

/** A channel's opt-out label ("No longer contact by email"), for the optout wording. */
export function channelOptoutLabel(s: PageStrings, channel: Channel): string {
  return s[`channel${cap(channel)}Optout` as StringKey];
}

/** Built-in strings of the two original languages, by key (kept for callers written before strings files). */
export const STRINGS = { en: SHIPPED_STRINGS.en!, fr: SHIPPED_STRINGS.fr! } as const;
