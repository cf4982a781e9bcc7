import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CHANNEL_INFO, noOptOuts, type OptOutFlags } from '../src/consent/channels.js';
import { parsePageDefinition, type PageDefinition } from '../src/landing/page.js';
import {
  AUTO_SUBMIT_SCRIPT,
  contentSecurityPolicy,
  PAGE_CSS,
  PersonalPageRenderer,
  renderConfirmation,
  renderMessage,
  renderPage,
  SCRIPT_HASH,
  type PersonalData,
  type ServiceBox,
} from '../src/landing/render.js';
import { wantedFromForm } from '../src/landing/operations.js';
import { STRINGS } from '../src/landing/strings.js';
import { htmlProblems } from './helpers/html.js';

const HOSTILE = `<script>alert(1)</script>"' onmouseover="x" </textarea></title><!-- &amp;`;

function page(over: Partial<PageDefinition> & Pick<PageDefinition, 'type'>): PageDefinition {
  return parsePageDefinition({
    slug: 'p',
    title: 'Stay in touch',
    intro: 'Choose how we may reach you.',
    channels: over.type === 'acquisition' ? ['email', 'sms', 'postal'] : [],
    ...over,
  });
}

const flags = (over: Partial<OptOutFlags> = {}): OptOutFlags => ({ ...noOptOuts(), ...over });

/** The attributes of every <input type="checkbox">, in order. */
function checkboxes(doc: string): string[] {
  return [...doc.matchAll(/<input type="checkbox"[^>]*>/g)].map((m) => m[0]);
}

/** Attributes whose value is not double-quoted, found by walking each tag's attributes. */
function unquotedAttributes(doc: string): string[] {
  const bad: string[] = [];
  for (const [, inner] of doc.matchAll(/<[a-zA-Z][a-zA-Z0-9]*((?:\s+[a-z-]+(?:=(?:"[^"]*"|[^\s>]*))?)*)\s*>/g)) {
    for (const [attr, , value] of inner!.matchAll(/\s+([a-z-]+)(?:=("[^"]*"|[^\s>]*))?/g)) {
      if (value !== undefined && !value.startsWith('"')) bad.push(attr.trim());
    }
  }
  return bad;
}

describe('every page variant is valid HTML', () => {
  const variants: [string, string][] = [];
  for (const lang of ['en', 'fr'] as const) {
    for (const wording of ['consent', 'optout'] as const) {
      const acq = page({ type: 'acquisition', lang, wording });
      variants.push([`acquisition ${wording} ${lang} generic`, renderPage(acq, { action: '/p', version: 2 })]);
      variants.push([
        `acquisition ${wording} ${lang} personal`,
        renderPage(acq, { action: 'https://pages.example.com/p', version: 2, personal: { token: 'tok', optOut: flags({ sms: true }), firstName: 'Zoé' } }),
      ]);
    }
    variants.push([
      `acquisition ${lang} personal with "any channel" set`,
      renderPage(page({ type: 'acquisition', lang }), { action: '/p', version: 1, personal: { token: 'tok', optOut: flags({ all: true }) } }),
    ]);
    const bl = page({ type: 'blocklist', lang, intro: null });
    variants.push([`blocklist ${lang} generic`, renderPage(bl, { action: '/p' })]);
    variants.push([`blocklist ${lang} personal`, renderPage(bl, { action: '/p', version: 1, personal: { token: 'tok', optOut: flags() } })]);
    variants.push([`confirmation acquisition ${lang}`, renderConfirmation(page({ type: 'acquisition', lang }))]);
    variants.push([`confirmation blocklist ${lang}`, renderConfirmation(bl)]);
    variants.push([`message ${lang}`, renderMessage(lang, 'Link expired', 'Ask for a new one.')]);
  }
  it.each(variants)('%s', async (_name, doc) => {
    expect(await htmlProblems(doc)).toEqual([]);
    expect(doc.startsWith('<!DOCTYPE html>\n<html lang="')).toBe(true);
    expect(doc).toContain('<meta charset="utf-8">');
    expect(doc).toContain('<meta name="viewport" content="width=device-width, initial-scale=1">');
    // No external resources: no src/href attributes at all, no <link>.
    expect(doc).not.toMatch(/\s(src|href)=/);
    expect(doc).not.toContain('<link');
    expect(unquotedAttributes(doc)).toEqual([]);
  });
});

describe('acquisition pages', () => {
  it('the generic page has an email field, unticked boxes with data-channel, in the page language', () => {
    for (const lang of ['en', 'fr'] as const) {
      const doc = renderPage(page({ type: 'acquisition', lang }), { action: '/p', version: 3 });
      expect(doc).toContain(`<html lang="${lang}">`);
      expect(doc).toMatch(/<input type="email" name="email" required/);
      expect(doc).toContain('<input type="hidden" name="v" value="3">');
      const boxes = checkboxes(doc);
      expect(boxes.map((b) => /data-channel="(\w+)"/.exec(b)![1])).toEqual(['email', 'sms', 'postal']);
      expect(boxes.some((b) => b.includes('checked'))).toBe(false);
      expect(doc).toContain(`<legend>${STRINGS[lang].consentLegend}</legend>`);
      expect(doc).toContain(`>${CHANNEL_INFO.postal.name[lang]}</label>`);
      expect(doc).not.toContain('<script');
    }
  });

  it('each checkbox sits inside its label, in a fieldset with a legend, and the submit button inside the form', () => {
    const doc = renderPage(page({ type: 'acquisition' }), { action: '/p' });
    expect(doc).toMatch(/<fieldset>\n<legend>[^<]+<\/legend>\n(<label><input type="checkbox"[^>]*>[^<]+<\/label>\n){3}<\/fieldset>/);
    expect(doc).toMatch(/<form [^>]*>[\s\S]*<button type="submit">[^<]+<\/button>\n<\/form>/);
    expect(doc.match(/data-channel=/g)).toHaveLength(3);
  });

  it('consent wording ticks the reachable channels; optout wording ticks the opted-out ones', () => {
    const optOut = flags({ sms: true });
    const consent = checkboxes(
      renderPage(page({ type: 'acquisition', wording: 'consent' }), { action: '/p', personal: { token: 't', optOut } }),
    );
    expect(consent.map((b) => b.includes(' checked'))).toEqual([true, false, true]);
    const optout = renderPage(page({ type: 'acquisition', wording: 'optout', lang: 'fr' }), {
      action: '/p',
      personal: { token: 't', optOut },
    });
    expect(checkboxes(optout).map((b) => b.includes(' checked'))).toEqual([false, true, false]);
    expect(optout).toContain(`>${CHANNEL_INFO.sms.label.fr}</label>`);
    expect(optout).toContain(`<legend>${STRINGS.fr.optoutLegend}</legend>`);
  });

  it('"any channel" set: its own box, ticked, first; the channel boxes then show their own flags', () => {
    for (const wording of ['consent', 'optout'] as const) {
      const doc = renderPage(page({ type: 'acquisition', wording }), { action: '/p', personal: { token: 't', optOut: flags({ all: true, sms: true }) } });
      const boxes = checkboxes(doc);
      expect(boxes[0]).toBe('<input type="checkbox" name="channel-all" value="on" data-channel="all" checked>');
      expect(boxes.slice(1).map((b) => b.includes(' checked'))).toEqual(wording === 'consent' ? [true, false, true] : [false, true, false]);
      // The consent wording speaks to the person; the optout wording keeps the operator's label.
      expect(doc).toContain(`checked>${wording === 'consent' ? STRINGS.en.allBoxLabel : CHANNEL_INFO.all.label.en}</label>`);
      expect(doc).toContain('<input type="hidden" name="all-shown" value="1">');
    }
    // Not set: no such box, no marker.
    const none = renderPage(page({ type: 'acquisition' }), { action: '/p', personal: { token: 't', optOut: flags({ sms: true }) } });
    expect(none).not.toContain('channel-all');
    expect(none).not.toContain('all-shown');
  });

  it('a personal page carries the token instead of an email field', () => {
    const doc = renderPage(page({ type: 'acquisition' }), { action: '/p', personal: { token: 'TOKEN-1', optOut: flags() } });
    expect(doc).toContain('<input type="hidden" name="t" value="TOKEN-1">');
    expect(doc).not.toContain('type="email"');
  });

  it('wantedFromForm reads the boxes of the page only, in either wording', () => {
    const consent = page({ type: 'acquisition', channels: ['email', 'sms'] });
    expect(wantedFromForm(consent, { 'channel-email': 'on', 'channel-fax': 'on', other: 'x' })).toEqual({ email: false, sms: true });
    const optout = page({ type: 'acquisition', channels: ['email', 'sms'], wording: 'optout' });
    expect(wantedFromForm(optout, { 'channel-email': 'on' })).toEqual({ email: true, sms: false });
  });
});

describe('blocklist pages', () => {
  it('the generic page asks for an email, has no script and a plain submit button', () => {
    const doc = renderPage(page({ type: 'blocklist' }), { action: '/p' });
    expect(doc).toContain('type="email"');
    expect(doc).not.toContain('<script');
    expect(doc).not.toContain('<noscript');
    expect(doc).toContain(`<legend>${STRINGS.en.blocklistLegend}</legend>`);
    expect(checkboxes(doc)).toEqual([]);
  });

  it('the personal page submits itself with a script allowed by its CSP hash; the button is in <noscript>', () => {
    for (const lang of ['en', 'fr'] as const) {
      const doc = renderPage(page({ type: 'blocklist', lang }), { action: '/p', personal: { token: 'tok', optOut: flags() } });
      expect(doc).toContain(`<script>${AUTO_SUBMIT_SCRIPT}</script>`);
      expect(doc).toContain(`<noscript><button type="submit">${STRINGS[lang].unsubscribeAll}</button></noscript>`);
      const hash = `'sha256-${createHash('sha256').update(AUTO_SUBMIT_SCRIPT).digest('base64')}'`;
      expect(SCRIPT_HASH).toBe(hash);
      const meta = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(doc)![1]!.replace(/&#39;/g, "'");
      expect(meta).toContain(`script-src ${hash}`);
      expect(meta).not.toContain('unsafe-inline');
      expect(meta).toContain(`'sha256-${createHash('sha256').update(PAGE_CSS).digest('base64')}'`);
      expect(doc).not.toContain('type="email"');
    }
  });

  it('the header CSP adds frame-ancestors and the origin of an absolute form target', () => {
    const csp = contentSecurityPolicy({ formAction: 'https://pages.example.com/p', header: true });
    expect(csp).toContain("form-action 'self' https://pages.example.com");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
  });

  it('confirmation pages speak the page language, or say the operator message', () => {
    expect(renderConfirmation(page({ type: 'blocklist', lang: 'fr' }))).toContain(STRINGS.fr.blocklistConfirmation.replaceAll("'", '&#39;'));
    expect(renderConfirmation(page({ type: 'acquisition' }))).toContain(STRINGS.en.acquisitionConfirmation);
    expect(renderConfirmation(page({ type: 'acquisition', confirmation: 'Merci <3' }))).toContain('<p>Merci &lt;3</p>');
  });
});

describe('hostile input comes out inert', () => {
  it.each(['acquisition', 'blocklist'] as const)('%s page with hostile title, intro, confirmation and name', async (type) => {
    const def = page({ type, title: HOSTILE, intro: HOSTILE, confirmation: HOSTILE });
    for (const doc of [
      renderPage(def, { action: '/p' }),
      renderPage(def, { action: '/p', personal: { token: `"><script>x</script>`, optOut: flags(), firstName: HOSTILE } }),
      renderConfirmation(def),
      renderMessage('en', HOSTILE, HOSTILE),
    ]) {
      expect(await htmlProblems(doc)).toEqual([]);
      // The only script element is ours; nothing closes the title early; no injected attribute.
      expect(doc.match(/<script>/g)?.length ?? 0).toBeLessThanOrEqual(1);
      expect(doc).not.toContain('<script>alert');
      expect(doc).not.toContain('</textarea>');
      expect(doc.match(/<\/title>/g)).toHaveLength(1);
      expect(doc).not.toContain(' onmouseover="x"');
      expect(doc).not.toContain('<!--');
      expect(doc).toContain('&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39; onmouseover=&quot;x&quot;');
    }
  });
});

describe("the server's personal-page renderer", () => {
  // Every page the server sends from its fast path comes from PersonalPageRenderer: it must be renderPage's page, byte for byte.
  const services: ServiceBox[] = [
    { name: 'news', label: 'News <weekly>', description: 'Once a "week"' },
    { name: 'offers', label: 'Offers', description: null },
  ];
  const people: PersonalData[] = [
    { token: 'AAAA', optOut: flags(), firstName: 'Ann' },
    { token: 'BBBB', optOut: flags(), firstName: HOSTILE }, // the same shape as Ann's, a hostile name
    { token: 'CCCC', optOut: flags(), firstName: null },
    { token: 'DDDD', optOut: flags({ sms: true, push: true }), firstName: 'Zoé 😀', subscriptions: { news: 'pending' } },
    { token: 'GGGG', optOut: flags({ sms: true, push: true, postal: true }), firstName: 'Zoé', subscriptions: { news: 'subscribed' } }, // the shape before it but for postal
    { token: 'EEEE', optOut: flags({ all: true }), firstName: 'Åsa', subscriptions: { offers: 'subscribed', news: 'unsubscribed' } },
    { token: 'FFFF', optOut: flags({ all: true, email: true }), firstName: '', subscriptions: { news: 'subscribed' } },
    { token: `"><b>x</b>`, optOut: flags({ postal: true }), firstName: 'tokenmark and namemark' },
    { token: 'AAAA', optOut: flags(), firstName: 'Ann' }, // again, from the kept shape
  ];
  const pages: [string, PageDefinition, ServiceBox[]][] = [];
  for (const lang of ['en', 'fr'] as const) {
    for (const wording of ['consent', 'optout'] as const) pages.push([`acquisition ${wording} ${lang}`, page({ type: 'acquisition', lang, wording }), []]);
    pages.push([`blocklist ${lang}`, page({ type: 'blocklist', lang }), []]);
    pages.push([`services ${lang}`, page({ type: 'acquisition', lang, services: ['news', 'offers'] }), services]);
  }
  it.each(pages)('%s: the same bytes as renderPage, and the right byte count', (_name, def, boxes) => {
    const options = { action: 'https://pages.example.com/p', version: 3, services: boxes };
    const renderer = new PersonalPageRenderer(def, options);
    for (const person of people) {
      const expected = renderPage(def, { ...options, personal: person });
      const got = renderer.render(person);
      expect(got.html).toBe(expected);
      expect(got.bytes).toBe(Buffer.byteLength(expected));
    }
  });
});
