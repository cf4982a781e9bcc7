// Apart from page.ts so that the store can use it without loading zod
// (tens of milliseconds, paid by every command that opens the store).
import type { PageDefinition } from './page.js';

/** The stored JSON of a definition, keys in a fixed order. */
export function canonicalDefinition(p: PageDefinition): string {
  return JSON.stringify({
    slug: p.slug,
    type: p.type,
    title: p.title,
    intro: p.intro,
    lang: p.lang,
    channels: p.channels,
    wording: p.wording,
    confirmation: p.confirmation,
  });
}
