import { describe, expect, it } from 'vitest';
import { htmlProblems } from './helpers/html.js';
import { expectSecurityHeaders, form, serverFixture, type Fixture } from './helpers/landing-server.js';

/**
 * Issue 10, point 21: a mail client without RFC 8058 opens the
 * List-Unsubscribe URL in a browser (a GET). The answer is a small page whose
 * one button POSTs the one-click; the GET itself changes nothing.
 */

const post = (url: string, body: URLSearchParams) => fetch(url, { method: 'POST', body, redirect: 'manual' });

const unescape = (s: string) => s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

/** The page's forms as a browser would submit them: method, action, and the fields it sends. */
function formsOf(page: string): { method: string; action: string; fields: [string, string][]; buttons: string[] }[] {
  return [...page.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/g)].map(([, attrs, body]) => {
    const attr = (src: string, name: string) => {
      const m = new RegExp(`\\b${name}="([^"]*)"`).exec(src);
      return m ? unescape(m[1]!) : undefined;
    };
    return {
      method: attr(attrs!, 'method') ?? 'get',
      action: attr(attrs!, 'action') ?? '',
      fields: [...body!.matchAll(/<input\b([^>]*)>/g)].map(([, a]) => [attr(a!, 'name') ?? '', attr(a!, 'value') ?? ''] as [string, string]),
      buttons: [...body!.matchAll(/<button\b[^>]*>([\s\S]*?)<\/button>/g)].map(([, b]) => unescape(b!)),
    };
  });
}

/** GETs the page (and HEADs it), checking everything a page must be; the ledger must not move. */
async function getPrompt(f: Fixture, url: string, lang: string): Promise<string> {
  const before = await f.eventCount();
  const r = await fetch(`${f.url}${url}`, { redirect: 'manual' });
  expect(r.status).toBe(200);
  expect(r.headers.get('content-type')).toBe('text/html; charset=utf-8');
  expectSecurityHeaders(r);
  const page = await r.text();
  expect(page).toContain(`<html lang="${lang}">`);
  expect(await htmlProblems(page)).toEqual([]);
  expect(page).not.toContain('<script'); // no auto-submit: a scanner that runs scripts changes nothing either
  for (let i = 0; i < 3; i++) expect((await fetch(`${f.url}${url}`)).status).toBe(200);
  const head = await fetch(`${f.url}${url}`, { method: 'HEAD' });
  expect(head.status).toBe(200);
  expectSecurityHeaders(head);
  expect(await head.text()).toBe('');
  expect(await f.eventCount()).toBe(before);
  return page;
}

/** Submits the page's one form as a browser does (urlencoded, to its action). */
async function submit(f: Fixture, page: string): Promise<Response> {
  const forms = formsOf(page);
  expect(forms).toHaveLength(1);
  const [only] = forms;
  expect(only!.method).toBe('post');
  return post(new URL(only!.action, f.url).href, form(Object.fromEntries(only!.fields)));
}

describe('GET on a one-click URL', () => {
  it("the blocklist page's one-click: a page with one button that POSTs List-Unsubscribe=One-Click to the same URL; the GET changes nothing, the POST opts out", async () => {
    const f = await serverFixture();
    const { oneClickUrl } = await f.link('stop', 'ann@example.com');
    const page = await getPrompt(f, oneClickUrl!, 'en');
    expect(page).toContain('<h1>Stop</h1>');
    expect(page).toContain('Confirm and we will stop sending you anything, by any means.');
    const [only] = formsOf(page);
    expect(only).toEqual({ method: 'post', action: oneClickUrl, fields: [['List-Unsubscribe', 'One-Click']], buttons: ['Unsubscribe from everything'] });
    expect((await f.profile('ann@example.com')).optOut.all).toBe(false);

    const before = await f.eventCount();
    const r = await submit(f, page);
    expect(r.status).toBe(200);
    expect(await r.text()).toContain('you will no longer be contacted by any channel');
    expect((await f.profile('ann@example.com')).optOut.all).toBe(true);
    expect((await f.history('ann@example.com'))[0]).toMatchObject({ channel: 'all', action: 'optout', source: 'one-click', actor: 'subject' });
    expect(await f.eventCount()).toBe(before + 1);
    expect(f.logs).toContainEqual(expect.stringMatching(/^GET \/stop\/one-click 200 /));
  });

  it('in French, and per service: "Unsubscribe from <service>?" in the page\'s language; the POST unsubscribes from that service only', async () => {
    const f = await serverFixture();
    await f.cli('service', 'create', 'offers', '--label', 'Offers <b>&</b> "deals"');
    await f.cli('service', 'create', 'news', '--label', 'News');
    for (const s of ['offers', 'news']) await f.cli('profile', 'subscribe', 'ann@example.com', s);
    await f.cli('landing', 'create', 'club', '--type', 'acquisition', '--title', 'Club', '--channels', 'email', '--services', 'offers,news', '--lang', 'fr');
    await f.cli('landing', 'create', 'arret', '--type', 'blocklist', '--title', 'Se désinscrire', '--lang', 'fr');
    for (const p of ['club', 'arret']) await f.cli('landing', 'publish', p, '--out-dir', `${f.dir}/public`);

    // The French blocklist page.
    const stop = await f.link('arret', 'bob@example.com');
    const stopPage = await getPrompt(f, stop.oneClickUrl!, 'fr');
    expect(formsOf(stopPage)[0]!.buttons).toEqual(['Me désinscrire de tout']);
    expect(stopPage).toContain('Confirmez : nous ne vous enverrons plus rien, par aucun moyen.');

    // A per-service link through a French page, with a label that needs escaping.
    const l = await f.link('club', 'ann@example.com', '--service', 'offers');
    const page = await getPrompt(f, l.oneClickUrl!, 'fr');
    expect(page).toContain('<h1>Ne plus recevoir « Offers &lt;b&gt;&amp;&lt;/b&gt; &quot;deals&quot; » ?</h1>');
    expect(page).not.toContain('<b>');
    const [only] = formsOf(page);
    expect(only).toEqual({ method: 'post', action: l.oneClickUrl, fields: [['List-Unsubscribe', 'One-Click']], buttons: ['Me désabonner'] });
    expect(l.oneClickUrl).toContain('s=offers&t=');

    const before = await f.eventCount();
    const r = await submit(f, page);
    expect(r.status).toBe(200);
    const subs = Object.fromEntries(((await f.profile('ann@example.com')) as unknown as { subscriptions: { service: string; status: string }[] }).subscriptions.map((s) => [s.service, s.status]));
    expect(subs).toEqual({ offers: 'unsubscribed', news: 'subscribed' });
    expect((await f.profile('ann@example.com')).optOut.all).toBe(false);
    expect(await f.eventCount()).toBe(before + 1);
    expect((await submit(f, stopPage)).status).toBe(200);
    expect((await f.profile('bob@example.com')).optOut.all).toBe(true);

    // The same service link through an English page is worded in English.
    await f.cli('landing', 'create', 'club-en', '--type', 'acquisition', '--title', 'Club', '--channels', 'email', '--services', 'news');
    await f.cli('landing', 'publish', 'club-en', '--out-dir', `${f.dir}/public`);
    const en = await f.link('club-en', 'ann@example.com', '--service', 'news');
    const enPage = await getPrompt(f, en.oneClickUrl!, 'en');
    expect(enPage).toContain('<h1>Unsubscribe from News?</h1>');
    expect(formsOf(enPage)[0]!.buttons).toEqual(['Unsubscribe']);
  });

  it('with an absolute base URL the form posts there, and the CSP allows it', async () => {
    const f = await serverFixture({ baseUrl: 'https://pages.example.com' });
    const { oneClickUrl } = await f.link('stop', 'ann@example.com', '--base-url', 'https://pages.example.com');
    const path = new URL(oneClickUrl!).pathname + new URL(oneClickUrl!).search;
    const r = await fetch(`${f.url}${path}`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-security-policy')).toContain("form-action 'self' https://pages.example.com");
    const page = await r.text();
    expect(formsOf(page)[0]!.action).toBe(oneClickUrl);
    expect(unescape(page)).toContain(`<meta http-equiv="Content-Security-Policy" content="default-src 'none';`);
    expect(unescape(page)).toContain("form-action 'self' https://pages.example.com;");
  });

  it('a bad token gets the same 4xx page as the one-click POST, and changes nothing; an acquisition page without a service is 404', async () => {
    const f = await serverFixture();
    const good = (await f.link('stop', 'ann@example.com')).token;
    const flip = (t: string, i: number) => t.slice(0, i) + (t[i] === 'A' ? 'B' : 'A') + t.slice(i + 1);
    const expired = (await f.link('stop', 'ann@example.com', '--expires-in', '30d')).token; // signed in January, the server is in June
    const otherPage = (await f.link('prefs', 'ann@example.com')).token;
    await f.cli('service', 'create', 'news', '--label', 'News');
    const before = await f.eventCount();
    const cases: Record<string, string> = {
      tampered: `t=${flip(good, 40)}`,
      truncated: `t=${good.slice(0, 50)}`,
      empty: 't=',
      none: '',
      expired: `t=${expired}`,
      otherPage: `t=${otherPage}`,
      unknownService: `s=nope&t=${good}`,
      pageTokenForAService: `s=news&t=${good}`,
    };
    const statuses: Record<string, number> = {};
    for (const [name, q] of Object.entries(cases)) {
      const g = await fetch(`${f.url}/stop/one-click?${q}`);
      const p = await post(`${f.url}/stop/one-click?${q}`, form({ 'List-Unsubscribe': 'One-Click' }));
      expect(g.status, name).toBeGreaterThanOrEqual(400);
      expect(g.status, name).toBeLessThan(500);
      expect(g.status, name).toBe(p.status);
      expectSecurityHeaders(g);
      const body = await g.text();
      expect(body, name).toBe(await p.text());
      expect(body, name).toMatch(/nothing was changed|no page at this address/i);
      expect(body, name).not.toContain('<form');
      statuses[name] = g.status;
    }
    expect(statuses).toMatchObject({ tampered: 403, truncated: 400, empty: 400, none: 400, expired: 410, otherPage: 403, unknownService: 404, pageTokenForAService: 403 });
    expect((await fetch(`${f.url}/prefs/one-click?t=${otherPage}`)).status).toBe(404);
    expect((await fetch(`${f.url}/nope/one-click?t=${good}`)).status).toBe(404);
    expect(await f.eventCount()).toBe(before);
    expect((await f.profile('ann@example.com')).optOut.all).toBe(false);
  });
});
