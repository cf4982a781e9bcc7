/**
 * How a page looks and speaks: the strings of its language and the brand it
 * shows. Render functions take one (pure); `loadLook` reads it from a store
 * (strings imported for the language, else the shipped file; the latest brand).
 */
import { invalid } from '../consent/errors.js';
import type { Brand } from './brand.js';
import { LANG_RE, SHIPPED_STRINGS, shippedStrings, validateStrings, type PageStrings } from './strings.js';

export interface PageLook {
  strings: PageStrings;
  /** null: no brand set, the page shows no organisation (as before issue 16). */
  brand: Brand | null;
}

/** The shipped strings of a language, no brand: what a page looked like before brands and imported strings. */
export function defaultLook(lang: string): PageLook {
  return { strings: shippedStrings(lang), brand: null };
}

/** Page strings kept in the store (`landing strings import`): one set per language, replacing the shipped file of that language or adding one. */
export interface PageStringsRepository {
  get(lang: string): Promise<{ lang: string; strings: string; importedAt: string; importedBy: string } | null>;
  /** Languages imported, sorted. */
  langs(): Promise<string[]>;
  /** Stores (or replaces) a language's strings, given as validated canonical JSON. */
  put(lang: string, strings: string, at: string, actor: string): Promise<void>;
}

interface LookSources {
  brand: { latest(): Promise<Brand | null> };
  pageStrings: PageStringsRepository;
}

/** The strings of a language: imported into the store, else shipped; null when the language has none. */
export async function loadStrings(store: LookSources, lang: string): Promise<PageStrings | null> {
  const imported = await store.pageStrings.get(lang);
  if (imported) return validateStrings(JSON.parse(imported.strings), `the imported strings of "${lang}"`);
  return SHIPPED_STRINGS[lang] ?? null;
}

/** Every language that has strings: shipped and imported, sorted. */
export async function availableLangs(store: LookSources): Promise<string[]> {
  return [...new Set([...Object.keys(SHIPPED_STRINGS), ...(await store.pageStrings.langs())])].sort();
}

/** The look of a page in `lang` from the store; a language without strings is an `invalid` error naming the ones there are. */
export async function loadLook(store: LookSources, lang: string): Promise<PageLook> {
  const [strings, brand] = await Promise.all([loadStrings(store, lang), store.brand.latest()]);
  if (!strings) throw await noStrings(store, lang);
  return { strings, brand };
}

export async function noStrings(store: LookSources, lang: string) {
  return invalid(
    `The language "${lang}" has no page strings.`,
    `Languages with strings: ${(await availableLangs(store)).join(', ')}. Add one with \`consent landing strings import <file.json> --lang ${LANG_RE.test(lang) ? lang : 'xx'}\`.`,
  );
}
