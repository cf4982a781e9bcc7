/**
 * What a submission asks for, as wanted flags: pure rules, no HTTP, no store.
 * The server (server.ts) reads the form, checks the token, and applies these.
 */
import type { ContactChannel, OptOutFlags } from '../consent/channels.js';
import { wantedFromForm } from './operations.js';
import type { PageDefinition } from './page.js';
import { ALL_FIELD, channelField, FORM_FIELDS } from './render.js';

export type Form = Readonly<Record<string, unknown>>;

/**
 * A person's own page (signed link). Acquisition: the page's channels as
 * ticked or unticked; `all` only when the page showed its box (then the box
 * says it), so a page never clears `all` silently. Blocklist: `all`.
 */
export function wantedWithToken(page: PageDefinition, form: Form): Partial<OptOutFlags> {
  if (page.type === 'blocklist') return { all: true };
  const wanted: Partial<OptOutFlags> = wantedFromForm(page, form);
  if (form[FORM_FIELDS.allShown] !== undefined) wanted.all = form[ALL_FIELD] !== undefined;
  else if (form[ALL_FIELD] !== undefined) wanted.all = true; // ticking an opt-out is always allowed
  return wanted;
}

/**
 * The static page (an email address, no token): anyone may type any address,
 * so it may only add opt-outs, never clear one. Acquisition: the unticked
 * channels (consent wording) or the ticked ones (opt-out wording). Blocklist: `all`.
 */
export function wantedWithoutToken(page: PageDefinition, form: Form): Partial<OptOutFlags> {
  if (page.type === 'blocklist') return { all: true };
  const wanted: Partial<OptOutFlags> = {};
  for (const [channel, optOut] of Object.entries(wantedFromForm(page, form))) {
    if (optOut) wanted[channel as keyof OptOutFlags] = true;
  }
  return wanted;
}

/**
 * The channels a form grants (policy.ts): on an acquisition page with the
 * consent wording, the boxes ticked, each an affirmative act of the person
 * on the page version in the evidence. An unticked box of the opt-out
 * wording is no grant (not an act), nor is anything on a blocklist page. The
 * store records a grant only under an opt-in basis (ConsentRequest.grant);
 * from the static page (no token) it never clears an opt-out.
 */
export function grantsFromForm(page: PageDefinition, form: Form): ContactChannel[] {
  if (page.type !== 'acquisition' || page.wording !== 'consent') return [];
  return page.channels.filter((c) => form[channelField(c)] !== undefined);
}

/** The first value of a form field (a repeated field arrives as an array), as a string, or undefined. */
export function formString(form: Form, name: string): string | undefined {
  const v = form[name];
  const first = Array.isArray(v) ? v[0] : v;
  return typeof first === 'string' ? first : undefined;
}
