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
    // Only when there are some: definitions stored before services existed keep their exact JSON.
    ...(p.services?.length ? { services: p.services } : {}),
    wording: p.wording,
    confirmation: p.confirmation,
    // Only when set: definitions stored before issue 16 keep their exact JSON.
    ...(p.askReason ? { askReason: true } : {}),
  });
}

/** A stored definition read back; `services` defaults to none (definitions stored before it existed). */
export function readDefinition(json: string): PageDefinition {
  const d = JSON.parse(json) as PageDefinition;
  if (!Array.isArray(d.services)) d.services = [];
  d.askReason = d.askReason === true;
  return d;
}
