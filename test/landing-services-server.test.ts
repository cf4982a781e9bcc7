import { describe, expect, it } from 'vitest';
import { expectSecurityHeaders, form, serverFixture, type Fixture } from './helpers/landing-server.js';
import { runCli, runJson } from './helpers/run-cli.js';
import { BACKENDS } from './helpers/run-cli.js';
import { holdWriteLock } from './helpers/raw-store.js';

describe.each(BACKENDS)('on %s', (backend) => {

const post = (url: string, body: URLSearchParams | FormData | string, headers: Record<string, string> = {}) =>
  fetch(url, { method: 'POST', body, headers, redirect: 'manual' });

type Sub = { service: string; status: string };
type Event = { channel: string; service: string | null; action: string; source: string; actor: string; evidence: Record<string, unknown> | null; occurredAt: string };

/**
 * The server fixture plus two services — `news` (double opt-in, with a
 * description) and `offers` (single opt-in) — and a published acquisition
 * page `club` with channels email, sms and both services.
 */
async function servicesFixture(): Promise<Fixture & { subs(ref: string): Promise<Record<string, string>>; events(ref: string): Promise<Event[]> }> {
  const f = await serverFixture({ backend });
  await f.cli('service', 'create', 'news', '--label', 'Weekly news', '--description', 'Every Friday', '--double-opt-in');
  await f.cli('service', 'create', 'offers', '--label', 'Offers');
  await f.cli('landing', 'create', 'club', '--type', 'acquisition', '--title', 'Club', '--channels', 'email,sms', '--services', 'news,offers');
  await f.cli('landing', 'publish', 'club', '--out-dir', `${f.dir}/public`);
  return {
    ...f,
    async subs(ref) {
      const p = await f.profile(ref);
      return Object.fromEntries(((p as unknown as { subscriptions: Sub[] }).subscriptions ?? []).map((s) => [s.service, s.status]));
    },
    events: (ref) => f.history(ref) as Promise<Event[]>,
  };
}

async function confirmLink(f: Fixture, service: string, email: string): Promise<string> {
  const r = await runCli(['--db', f.db, 'service', 'confirmations', service, '--format', 'jsonl']);
  expect(r.code).toBe(0);
  const rows = r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const row = rows.find((x: { email: string }) => x.email === email);
  expect(row, `a pending ${service} row for ${email}`).toBeDefined();
  expect(Object.keys(row)).toEqual(['id', 'email', 'service', 'confirmUrl']);
  return row.confirmUrl;
}

const tokenOf = (url: string) => new URL(url, 'http://x').searchParams.get('t')!;

describe('services on a served acquisition page', () => {
  it('shows one box per service, ticked when subscribed or pending, with the channel boxes', async () => {
    const f = await servicesFixture();
    await f.cli('profile', 'subscribe', 'ann@example.com', 'news'); // pending (double opt-in)
    const { url } = await f.link('club', 'ann@example.com');
    const page = await (await fetch(`${f.url}${url}`)).text();
    expect(page).toMatch(/<input type="checkbox" name="service-news" value="on" data-service="news" checked>Weekly news<span class="desc">Every Friday<\/span>/);
    expect(page).toMatch(/data-service="offers">Offers/);
    expect(page).toMatch(/data-channel="email" checked>/);
    const generic = await (await fetch(`${f.url}/club`)).text();
    expect(generic).toBe(f.staticPage('club'));
    expect(generic).toMatch(/data-service="news">/);
    expect(generic).not.toMatch(/data-service="[a-z]+" checked/);
  });

  it('double opt-in from the page through confirmation: pending, a GET changes nothing, the POST confirms with evidence, a repeat records nothing', async () => {
    const f = await servicesFixture();
    const { token } = await f.link('club', 'ann@example.com');
    const r = await post(`${f.url}/club`, form({ t: token, v: '1', 'channel-email': 'on', 'service-news': 'on', 'service-offers': 'on' }), { 'user-agent': 'agent/1' });
    expect(r.status).toBe(200);
    expect(await f.subs('ann@example.com')).toEqual({ news: 'pending', offers: 'subscribed' });
    const fromPage = (await f.events('ann@example.com')).filter((e) => e.source === 'landing:club@v1');
    // sms was already opted out and stays so (unticked); email stays reachable; two subscription events, one evidence.
    expect(fromPage.map((e) => `${e.service ?? e.channel}:${e.action}`).sort()).toEqual(['news:request', 'offers:subscribe']);
    expect(fromPage[0]!.evidence).toEqual(fromPage[1]!.evidence);
    expect(fromPage[0]!.evidence).toMatchObject({ page: 'club', version: 1, via: 'link', userAgent: 'agent/1' });

    const confirmUrl = await confirmLink(f, 'news', 'ann@example.com');
    expect(confirmUrl).toMatch(/^\/confirm\/news\?t=[A-Za-z0-9_-]{66}$/);
    const before = await f.eventCount();
    for (let i = 0; i < 3; i++) {
      const g = await fetch(`${f.url}${confirmUrl}`); // a mail scanner
      expect(g.status).toBe(200);
      expectSecurityHeaders(g);
      const body = await g.text();
      expect(body).toContain('<form id="consent-form" method="post" action="/confirm/news">');
      expect(body).toContain('<button type="submit">Confirm my subscription</button>');
      expect(body).toContain('Weekly news');
    }
    expect(await f.eventCount()).toBe(before);
    expect((await f.subs('ann@example.com')).news).toBe('pending');

    const c = await post(`${f.url}/confirm/news`, form({ t: tokenOf(confirmUrl) }), { 'user-agent': 'agent/2' });
    expect(c.status).toBe(200);
    expectSecurityHeaders(c);
    const answer = await c.text();
    expect(answer).toContain('Your subscription is confirmed: Weekly news.');
    expect((await f.subs('ann@example.com')).news).toBe('subscribed');
    const confirmed = (await f.events('ann@example.com')).find((e) => e.action === 'confirm')!;
    expect(confirmed).toMatchObject({ service: 'news', source: 'confirm:news', actor: 'subject' });
    expect(confirmed.evidence).toMatchObject({ service: 'news', via: 'confirmation-link', userAgent: 'agent/2', submittedAt: '2026-06-01T10:00:00.000Z' });
    expect(String(confirmed.evidence!.client)).toMatch(/^[0-9a-f]{32}$/);
    expect(await f.eventCount()).toBe(before + 1);

    const again = await post(`${f.url}/confirm/news`, form({ t: tokenOf(confirmUrl) }));
    expect(again.status).toBe(200);
    expect(await again.text()).toBe(answer);
    expect(await f.eventCount()).toBe(before + 1);
    expect(f.logs.join('\n')).not.toContain(tokenOf(confirmUrl));
  });

  it('unticking a service unsubscribes; a service not on the page version is never touched', async () => {
    const f = await servicesFixture();
    await f.cli('service', 'create', 'alerts', '--label', 'Alerts');
    await f.cli('profile', 'subscribe', 'bob@example.com', 'offers');
    await f.cli('profile', 'subscribe', 'bob@example.com', 'alerts');
    const { token } = await f.link('club', 'bob@example.com');
    const r = await post(`${f.url}/club`, form({ t: token, v: '1', 'channel-email': 'on', 'channel-sms': 'on', 'service-alerts': 'on' }));
    expect(r.status).toBe(200);
    expect(await f.subs('bob@example.com')).toEqual({ alerts: 'subscribed', offers: 'unsubscribed' });
  });

  it('confirmation links: tampered, truncated, another service, a page token → 4xx, nothing changes; another profile confirms only its own', async () => {
    const f = await servicesFixture();
    await f.cli('service', 'create', 'digest', '--label', 'Digest', '--double-opt-in');
    await f.cli('profile', 'subscribe', 'ann@example.com', 'news');
    await f.cli('profile', 'subscribe', 'ann@example.com', 'digest');
    await f.cli('profile', 'subscribe', 'bob@example.com', 'digest');
    const annNews = tokenOf(await confirmLink(f, 'news', 'ann@example.com'));
    const bobDigest = tokenOf(await confirmLink(f, 'digest', 'bob@example.com'));
    const annDigest = tokenOf(await confirmLink(f, 'digest', 'ann@example.com'));
    const pageToken = (await f.link('club', 'ann@example.com')).token;
    const before = await f.eventCount();
    const flip = annNews.slice(0, 40) + (annNews[40] === 'A' ? 'B' : 'A') + annNews.slice(41);
    const bad: [string, string, number][] = [
      ['tampered', flip, 403],
      ['truncated', annNews.slice(0, 50), 400],
      ['empty', '', 400],
      ['another service', annDigest, 403],
      ['a page token', pageToken, 403],
    ];
    for (const [what, t, status] of bad) {
      const p = await post(`${f.url}/confirm/news`, form({ t }));
      expect(p.status, what).toBe(status);
      expectSecurityHeaders(p);
      expect(await p.text(), what).toMatch(/nothing was changed/i);
      expect((await fetch(`${f.url}/confirm/news?t=${encodeURIComponent(t)}`)).status, `GET ${what}`).toBe(status);
    }
    expect((await post(`${f.url}/confirm/news`, form({}))).status).toBe(400);
    expect((await post(`${f.url}/confirm/nope`, form({ t: annNews }))).status).toBe(404);
    expect((await fetch(`${f.url}/confirm`)).status).toBe(404);
    const put = await fetch(`${f.url}/confirm/news`, { method: 'PUT' });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toBe('GET, HEAD, POST');
    expect(await f.eventCount()).toBe(before);
    expect(await f.subs('ann@example.com')).toEqual({ digest: 'pending', news: 'pending' });

    // Bob's link confirms Bob's subscription, never Ann's.
    expect((await post(`${f.url}/confirm/digest`, form({ t: bobDigest }))).status).toBe(200);
    expect((await f.subs('bob@example.com')).digest).toBe('subscribed');
    expect(await f.subs('ann@example.com')).toEqual({ digest: 'pending', news: 'pending' });
    expect(await f.eventCount()).toBe(before + 1);
  });

  it('a confirmation page in French with ?lang=fr', async () => {
    const f = await servicesFixture();
    await f.cli('profile', 'subscribe', 'ann@example.com', 'news');
    const r = await runCli(['--db', f.db, 'service', 'confirmations', 'news', '--lang', 'fr', '--base-url', 'https://pages.example.com']);
    const url = r.stdout.trim().split('\n')[1]!.split(',')[3]!;
    expect(url).toMatch(/^https:\/\/pages\.example\.com\/confirm\/news\?t=[A-Za-z0-9_-]{66}&lang=fr$/);
    const page = await (await fetch(`${f.url}${new URL(url).pathname}${new URL(url).search}`)).text();
    expect(page).toContain('<html lang="fr">');
    expect(page).toContain('Confirmer mon abonnement');
    const c = await post(`${f.url}/confirm/news`, form({ t: tokenOf(url), lang: 'fr' }));
    expect(await c.text()).toContain('Votre abonnement est confirmé : Weekly news.');
  });
});

describe('services from the static page (no token)', () => {
  it('a new email is subscribed, pending for double opt-in, never confirmed; a known email gets the same answer and is never confirmed, unsubscribed or re-subscribed', async () => {
    const f = await servicesFixture();
    const fresh = await post(`${f.url}/club`, form({ email: 'new@example.com', v: '1', 'channel-email': 'on', 'service-news': 'on', 'service-offers': 'on' }));
    expect(fresh.status).toBe(200);
    const freshBody = await fresh.text();
    expect(await f.subs('new@example.com')).toEqual({ news: 'pending', offers: 'subscribed' });
    const e = (await f.events('new@example.com')).filter((x) => x.service);
    expect(e.map((x) => `${x.service}:${x.action}:${x.actor}`).sort()).toEqual(['news:request:email-form', 'offers:subscribe:email-form']);
    // Pending stays pending: the form's address proves nothing, a repeat does not confirm.
    await post(`${f.url}/club`, form({ email: 'new@example.com', 'channel-email': 'on', 'service-news': 'on' }));
    expect((await f.subs('new@example.com')).news).toBe('pending');

    // Ann: subscribed to news (confirmed by an operator), unsubscribed from offers.
    await f.cli('profile', 'subscribe', 'ann@example.com', 'news', '--confirmed', '--reason', 'paper form');
    await f.cli('profile', 'subscribe', 'ann@example.com', 'offers');
    await f.cli('profile', 'unsubscribe', 'ann@example.com', 'offers');
    // Bob: asked for news, then unsubscribed.
    await f.cli('profile', 'subscribe', 'bob@example.com', 'news');
    await f.cli('profile', 'unsubscribe', 'bob@example.com', 'news');
    const before = await f.eventCount();

    // No service ticked: nothing is unsubscribed by someone who only typed the address; the same answer as for a new email.
    const known = await post(`${f.url}/club`, form({ email: 'ann@example.com', v: '1', 'channel-email': 'on', 'channel-sms': 'on' }));
    expect(known.status).toBe(200);
    expect(await known.text()).toBe(freshBody);
    expect(await f.subs('ann@example.com')).toEqual({ news: 'subscribed', offers: 'unsubscribed' });
    // Both ticked: offers (single opt-in) is not re-subscribed after her unsubscribe; news stays as it is.
    const ticked = await post(`${f.url}/club`, form({ email: 'ann@example.com', v: '1', 'channel-email': 'on', 'channel-sms': 'on', 'service-offers': 'on', 'service-news': 'on' }));
    expect(await ticked.text()).toBe(freshBody);
    expect(await f.subs('ann@example.com')).toEqual({ news: 'subscribed', offers: 'unsubscribed' });
    expect(await f.eventCount()).toBe(before);
    // A double-opt-in service goes back to pending only: the person must confirm it themself.
    await post(`${f.url}/club`, form({ email: 'bob@example.com', v: '1', 'channel-email': 'on', 'channel-sms': 'on', 'service-news': 'on' }));
    expect((await f.subs('bob@example.com')).news).toBe('pending');
    expect(await f.eventCount()).toBe(before + 1);
  });
});

describe('per-service one-click (RFC 8058)', () => {
  it('unsubscribes from that service only, 200 without redirect, source one-click; repeats record nothing; the blocklist one-click still stops everything', async () => {
    const f = await servicesFixture();
    for (const s of ['news', 'offers']) await f.cli('profile', 'subscribe', 'ann@example.com', s, '--confirmed', '--reason', 'setup');
    await f.cli('profile', 'subscribe', 'bob@example.com', 'offers');
    const l = await f.link('club', 'ann@example.com', '--service', 'offers');
    expect(l.oneClickUrl).toMatch(/^\/club\/one-click\?s=offers&t=[A-Za-z0-9_-]{66}$/);
    expect(l.url).toMatch(/^\/club\?t=/);
    const before = await f.eventCount();
    const r = await post(`${f.url}${l.oneClickUrl}`, 'List-Unsubscribe=One-Click', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(r.status).toBe(200);
    expectSecurityHeaders(r);
    expect(r.headers.get('location')).toBeNull();
    expect(await r.text()).toContain('you are unsubscribed from Offers');
    expect(await f.subs('ann@example.com')).toEqual({ news: 'subscribed', offers: 'unsubscribed' });
    expect((await f.profile('ann@example.com')).optOut).toMatchObject({ all: false, email: false });
    expect((await f.subs('bob@example.com')).offers).toBe('subscribed');
    expect((await f.events('ann@example.com'))[0]).toMatchObject({ service: 'offers', action: 'unsubscribe', source: 'one-click', actor: 'subject' });
    expect(await f.eventCount()).toBe(before + 1);
    const fd = new FormData();
    fd.append('List-Unsubscribe', 'One-Click');
    expect((await post(`${f.url}${l.oneClickUrl}`, fd)).status).toBe(200);
    expect(await f.eventCount()).toBe(before + 1);

    // Its token is bound to the service: on another service, or without List-Unsubscribe, nothing happens.
    const swapped = l.oneClickUrl!.replace('s=offers', 's=news');
    expect((await post(`${f.url}${swapped}`, 'List-Unsubscribe=One-Click', { 'content-type': 'application/x-www-form-urlencoded' })).status).toBe(403);
    expect((await post(`${f.url}${l.oneClickUrl}`, 'x=1', { 'content-type': 'application/x-www-form-urlencoded' })).status).toBe(400);
    expect((await f.subs('ann@example.com')).news).toBe('subscribed');
    expect(await f.eventCount()).toBe(before + 1);

    const stop = await f.link('stop', 'ann@example.com');
    expect((await post(`${f.url}${stop.oneClickUrl}`, 'List-Unsubscribe=One-Click', { 'content-type': 'application/x-www-form-urlencoded' })).status).toBe(200);
    expect((await f.profile('ann@example.com')).optOut.all).toBe(true);
  });

  it('landing link --service refuses a service the page does not offer (2) and an unknown one (3)', async () => {
    const f = await servicesFixture();
    await f.cli('service', 'create', 'alerts', '--label', 'Alerts');
    const off = await runCli(['--db', f.db, 'landing', 'link', 'club', '--profile', 'ann@example.com', '--service', 'alerts', '--json']);
    expect(off.code).toBe(2);
    expect(off.stderr).toMatch(/does not offer the service alerts/);
    expect(off.stdout).toBe('');
    expect((await runCli(['--db', f.db, 'landing', 'link', 'stop', '--profile', '1', '--service', 'news'])).code).toBe(2);
    expect((await runCli(['--db', f.db, 'landing', 'link', 'club', '--profile', '1', '--service', 'nope'])).code).toBe(3);
  });
});

describe('a channel opt-out overrides a subscription', () => {
  it('opting out of email on the page leaves the person subscribed but out of profile list --subscribed', async () => {
    const f = await servicesFixture();
    await f.cli('profile', 'subscribe', 'ann@example.com', 'offers');
    await f.cli('profile', 'subscribe', 'bob@example.com', 'offers');
    const emails = async () => (await runJson(f.db, ['profile', 'list', '--subscribed', 'offers', '--json'])).map((p: { email: string }) => p.email);
    expect(await emails()).toEqual(['ann@example.com', 'bob@example.com']);
    const { token } = await f.link('club', 'ann@example.com');
    // Email unticked, offers still ticked: one submission, both kinds of change considered together.
    await post(`${f.url}/club`, form({ t: token, v: '1', 'service-offers': 'on' }));
    expect((await f.profile('ann@example.com')).optOut.email).toBe(true);
    expect((await f.subs('ann@example.com')).offers).toBe('subscribed');
    expect(await emails()).toEqual(['bob@example.com']);
    expect(await runJson(f.db, ['service', 'show', 'offers', '--json'])).toMatchObject({ subscribers: 2, receiving: 1 });
  });
});
});
