/**
 * What a GET of a one-click link answers. RFC 8058 mail clients POST to the
 * `List-Unsubscribe` URL; the others open it in a browser, which GETs it.
 * That GET changes nothing (mail scanners follow links too): it shows a page
 * whose one button POSTs exactly what a one-click client sends,
 * `List-Unsubscribe=One-Click`, to the same URL. No script: a scanner that
 * runs scripts must not unsubscribe anyone either.
 */
import { html } from './html.js';
import type { Lang, PageDefinition } from './page.js';
import { documentShell, FORM_ID, type ServiceBox } from './render.js';
import { defaultLook, type PageLook } from './look.js';
import { fill } from './strings.js';

/** The one-click body field and value (RFC 8058 §3.1). */
export const ONE_CLICK_FIELD = 'List-Unsubscribe';
export const ONE_CLICK_VALUE = 'One-Click';

function prompt(lang: Lang, title: string, text: string, button: string, action: string, look: PageLook): string {
  return documentShell(
    lang,
    title,
    action,
    html`<h1>${title}</h1>
<p>${text}</p>
<form id="${FORM_ID}" method="post" action="${action}">
<input type="hidden" name="${ONE_CLICK_FIELD}" value="${ONE_CLICK_VALUE}">
<button type="submit">${button}</button>
</form>`,
    false,
    look,
  );
}

/** A blocklist page's one-click link opened in a browser: the page's title, "stop everything", one button. */
export function renderOneClickPrompt(page: PageDefinition, action: string, look: PageLook = defaultLook(page.lang)): string {
  const s = look.strings;
  return prompt(page.lang, page.title, s.blocklistPersonal, s.unsubscribeAll, action, look);
}

/** A per-service one-click link opened in a browser: "Unsubscribe from <label>?", one button. */
export function renderServiceOneClickPrompt(lang: Lang, service: ServiceBox, action: string, look: PageLook = defaultLook(lang)): string {
  const s = look.strings;
  return prompt(lang, fill(s.oneClickServiceQuestion, { label: service.label }), s.oneClickServiceText, s.oneClickServiceButton, action, look);
}
