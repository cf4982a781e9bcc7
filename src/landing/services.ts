/**
 * Services on landing pages (issue 6): the boxes' form rules, confirmation
 * links and per-service one-click links, and their pages. Pure but for
 * `resolvePageServices`, which reads the store.
 *
 *   GET  <base>/confirm/<service>?t=<token>            a page with a Confirm button (changes nothing)
 *   POST <base>/confirm/<service>                      (t in the form) confirms a pending subscription
 *   POST <base>/<slug>/one-click?s=<service>&t=<token> RFC 8058: unsubscribes from that service only
 *
 * Tokens are the page tokens of tokens.ts, signed over a namespace instead of
 * a page slug: `service:<name>:confirm` and `service:<name>:unsubscribe`. A
 * colon never appears in a slug, so a service token never opens a page, a
 * page token never confirms, and a token for one service fails on another.
 */
import { invalid } from '../consent/errors.js';
import type { Service, SubscriptionIntent } from '../consent/services.js';
import type { ConsentStore } from '../consent/store.js';
import { html } from './html.js';
import type { Lang, PageDefinition } from './page.js';
import { documentShell, FORM_ID, FORM_FIELDS, renderMessage, serviceField, type ServiceBox } from './render.js';
import { defaultLook, type PageLook } from './look.js';
import { tokenSigner, type Keyring } from './tokens.js';
import { ONE_CLICK_SEGMENT, TOKEN_PARAM } from './urls.js';

/** The first path segment of confirmation links; reserved, never a page slug (RESERVED_SLUGS). */
export const CONFIRM_SEGMENT = 'confirm';
/** The query parameter naming the service of a per-service one-click link. */
export const SERVICE_PARAM = 's';
/** The optional (unsigned, harmless) language of a confirmation page. */
export const LANG_PARAM = 'lang';

export const confirmNamespace = (service: string) => `service:${service}:confirm`;
export const unsubscribeNamespace = (service: string) => `service:${service}:unsubscribe`;

export function confirmPath(service: string): string {
  return `/${CONFIRM_SEGMENT}/${service}`;
}

export function confirmUrl(base: string, service: string, token: string, lang: Lang = 'en'): string {
  return `${base}${confirmPath(service)}?${TOKEN_PARAM}=${token}${lang === 'en' ? '' : `&${LANG_PARAM}=${lang}`}`;
}

export function serviceOneClickUrl(base: string, slug: string, service: string, token: string): string {
  return `${base}/${slug}/${ONE_CLICK_SEGMENT}?${SERVICE_PARAM}=${service}&${TOKEN_PARAM}=${token}`;
}

/** Signs confirmation links for one service: `(profileId) => confirmUrl`. Never expires (a mail may be read late). */
export function confirmationLinkMaker(keyring: Keyring, service: string, options: { baseUrl: string; lang?: Lang }): (profileId: number) => string {
  const sign = tokenSigner(keyring.current(), confirmNamespace(service));
  return (profileId) => confirmUrl(options.baseUrl, service, sign(profileId), options.lang ?? 'en');
}

/** Signs per-service one-click links through a page: `(profileId) => oneClickUrl`. */
export function serviceOneClickMaker(
  keyring: Keyring,
  slug: string,
  service: string,
  options: { baseUrl: string; expiresAt?: number },
): (profileId: number) => string {
  const sign = tokenSigner(keyring.current(), unsubscribeNamespace(service));
  return (profileId) => serviceOneClickUrl(options.baseUrl, slug, service, sign(profileId, options.expiresAt ?? 0));
}

/**
 * The services a page names, from the store, in page order. Unknown names
 * are refused (`invalid`, exit 2), naming every one of them.
 */
export async function resolvePageServices(store: ConsentStore, page: PageDefinition): Promise<Service[]> {
  if (page.services.length === 0) return [];
  const found = await Promise.all(page.services.map((n) => store.services.get(n)));
  const unknown = page.services.filter((_, i) => !found[i]);
  if (unknown.length > 0) {
    throw invalid(
      `The page "${page.slug}" names unknown service(s): ${unknown.join(', ')}.`,
      'Create them with `consent service create`, or remove them with `consent landing edit --services`.',
    );
  }
  return found as Service[];
}

type Form = Readonly<Record<string, unknown>>;

/**
 * A person's own page (signed link): each of the page's services, ticked →
 * `request` (pending for a double-opt-in service, subscribed otherwise; an
 * existing pending or subscribed one is left as is), unticked → `unsubscribe`.
 */
export function subscriptionsWithToken(page: PageDefinition, form: Form): { service: string; intent: SubscriptionIntent }[] {
  return page.services.map((service) => ({ service, intent: form[serviceField(service)] !== undefined ? 'request' : 'unsubscribe' }));
}

/**
 * The static page (an email address, no token): only the ticked services,
 * as unverified requests (pending for double opt-in, never confirmed, never
 * re-subscribing someone who unsubscribed); an unticked box does nothing.
 * The same for a new and a known address, so the answer reveals nothing.
 */
export function subscriptionsWithoutToken(page: PageDefinition, form: Form): { service: string; intent: SubscriptionIntent }[] {
  return page.services.filter((service) => form[serviceField(service)] !== undefined).map((service) => ({ service, intent: 'request-unverified' as const }));
}

const serviceLine = (service: ServiceBox) =>
  html`<p><strong>${service.label}</strong>${service.description ? html`<br>${service.description}` : ''}</p>\n`;

/** The page a confirmation link opens: a POST form with one Confirm button. A GET of it changes nothing. */
export function renderConfirmPrompt(lang: Lang, service: ServiceBox, token: string, baseUrl: string, look: PageLook = defaultLook(lang)): string {
  const s = look.strings;
  const action = `${baseUrl}${confirmPath(service.name)}`;
  return documentShell(
    lang,
    s.confirmTitle,
    action,
    html`<h1>${s.confirmTitle}</h1>
<p>${s.confirmText}</p>
${serviceLine(service)}<form id="${FORM_ID}" method="post" action="${action}">
<input type="hidden" name="${FORM_FIELDS.token}" value="${token}">
<input type="hidden" name="${LANG_PARAM}" value="${lang}">
<button type="submit">${s.confirmButton}</button>
</form>`,
    false,
    look,
  );
}

/** The answer to a confirmation (also when there was nothing left to confirm: idempotent). */
export function renderConfirmed(lang: Lang, service: ServiceBox, look: PageLook = defaultLook(lang)): string {
  const s = look.strings;
  return renderMessage(lang, s.thanksTitle, `${s.confirmedText} ${service.label}.`, look);
}

/** The answer to a per-service one-click unsubscribe. */
export function renderServiceUnsubscribed(lang: Lang, service: ServiceBox, look: PageLook = defaultLook(lang)): string {
  const s = look.strings;
  return renderMessage(lang, s.thanksTitle, `${s.serviceUnsubscribedText} ${service.label}.`, look);
}
