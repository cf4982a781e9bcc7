import { describe, expect, it } from 'vitest';
import { expectSecurityHeaders, form, serverFixture } from './helpers/landing-server.js';
import { runCli } from './helpers/run-cli.js';
import { openStore } from '../src/store/index.js';
import { loadKeyring } from '../src/landing/operations.js';
import { signToken } from '../src/landing/tokens.js';
import { BACKENDS } from './helpers/run-cli.js';
import { holdWriteLock } from './helpers/raw-store.js';

describe.each(BACKENDS)('on %s', (backend) => {

const post = (url: string, body: URLSearchParams | FormData | string, headers: Record<string, string> = {}) =>
  fetch(url, { method: 'POST', body, headers, redirect: 'manual' });

describe('landing serve: pages', () => {
  it('GET /<slug> is the published page, byte for byte, with the security headers and no cookie', async () => {
    const f = await serverFixture({ backend });
    const r = await fetch(`${f.url}/prefs`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expectSecurityHeaders(r);
    expect(await r.text()).toBe(f.staticPage('prefs'));
    const head = await fetch(`${f.url}/prefs`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expectSecurityHeaders(head);
  });

  it("GET /<slug>?t= is the person's page, boxes from the profile now, and changes nothing", async () => {
    const f = await serverFixture({ backend });
    const { url, token } = await f.link('prefs', 'ann@example.com');
    const before = await f.eventCount();
    const page = await (await fetch(`${f.url}${url}`)).text();
    expect(page).toContain('Hello Ann');
    expect(page).toContain(`name="t" value="${token}"`);
    expect(page).not.toContain('name="email"');
    expect(page).toMatch(/data-channel="email" checked>/);
    expect(page).toMatch(/data-channel="sms">/); // ann opted out of sms
    expect(page).toMatch(/data-channel="postal" checked>/);
    await f.cli('profile', 'optout', 'ann@example.com', '--channel', 'email');
    expect(await (await fetch(`${f.url}${url}`)).text()).toMatch(/data-channel="email">/);
    expect(await f.eventCount()).toBe(before + 1); // only the operator's change
  });

  it('the CSP allows the form target of an absolute base URL', async () => {
    const f = await serverFixture({ backend, baseUrl: 'https://pages.example.com' });
    const r = await fetch(`${f.url}/prefs`);
    expect(r.headers.get('content-security-policy')).toContain("form-action 'self' https://pages.example.com");
    expect(await r.text()).toContain('action="https://pages.example.com/prefs"');
  });

  it('404 for an unknown page, a draft never published, the root and odd paths; 405 for a wrong method', async () => {
    const f = await serverFixture({ backend });
    await f.cli('landing', 'create', 'draft-only', '--type', 'blocklist', '--title', 'D');
    for (const path of ['/nope', '/draft-only', '/', '/prefs/x/y', '/Prefs', '/..%2Fx']) {
      const r = await fetch(`${f.url}${path}`);
      expect(r.status, path).toBe(404);
      expectSecurityHeaders(r);
      expect(await r.text()).toContain('<!DOCTYPE html>');
    }
    expect((await post(`${f.url}/nope`, form({ email: 'a@example.com' }))).status).toBe(404);
    for (const method of ['PUT', 'DELETE', 'PATCH']) {
      const r = await fetch(`${f.url}/prefs`, { method });
      expect(r.status, method).toBe(405);
      expect(r.headers.get('allow')).toBe('GET, HEAD, POST');
      expectSecurityHeaders(r);
    }
    const { oneClickUrl } = await f.link('stop', 'ann@example.com');
    const g = await fetch(`${f.url}${oneClickUrl}`, { method: 'PUT' });
    expect(g.status).toBe(405);
    expect(g.headers.get('allow')).toBe('GET, HEAD, POST');
  });
});

describe('landing serve: acquisition form with a token', () => {
  it("applies ticked and unticked boxes for the page's channels only, with source, actor and evidence; a repeat records nothing", async () => {
    const f = await serverFixture({ backend });
    const { token } = await f.link('prefs', 'ann@example.com');
    await f.cli('profile', 'optout', 'ann@example.com', '--channel', 'fax');
    const r = await post(`${f.url}/prefs`, form({ t: token, v: '1', 'channel-sms': 'on', 'channel-fax': 'on', 'channel-bogus': 'on', junk: 'x' }).toString(), {
      'content-type': 'application/x-www-form-urlencoded',
      'user-agent': 'test-agent/1.0',
    });
    expect(r.status).toBe(200);
    expectSecurityHeaders(r);
    expect(await r.text()).toContain('Thank you');
    const p = await f.profile('ann@example.com');
    // email unticked → opted out; sms ticked → opted in; postal unticked → opted out; fax not on the page → untouched
    expect(p.optOut).toMatchObject({ all: false, email: true, sms: false, postal: true, fax: true });
    const h = (await f.history('ann@example.com')).filter((e) => e.source === 'landing:prefs@v1');
    expect(h.map((e) => `${e.channel}:${e.action}`).sort()).toEqual(['email:optout', 'postal:optout', 'sms:optin']);
    const ev = h[0]!.evidence!;
    expect(h[0]!.actor).toBe('subject');
    expect(ev).toMatchObject({ page: 'prefs', version: 1, via: 'link', userAgent: 'test-agent/1.0', submittedAt: '2026-06-01T10:00:00.000Z' });
    expect(ev.client).toMatch(/^[0-9a-f]{32}$/);
    expect(JSON.stringify(h)).not.toContain('127.0.0.1');

    const before = await f.eventCount();
    const again = await post(`${f.url}/prefs`, form({ t: token, v: '1', 'channel-sms': 'on' }));
    expect(again.status).toBe(200);
    expect(await f.eventCount()).toBe(before);
  });

  it('multipart forms work too', async () => {
    const f = await serverFixture({ backend });
    const { token } = await f.link('prefs', 'bob@example.com');
    const fd = new FormData();
    fd.set('t', token);
    fd.set('channel-email', 'on');
    fd.set('v', '1');
    fd.set('attachment', new Blob(['ignored']), 'a.txt');
    const r = await post(`${f.url}/prefs`, fd);
    expect(r.status).toBe(200);
    expect((await f.profile('bob@example.com')).optOut).toMatchObject({ email: false, sms: true, postal: true });
  });

  it('applies the channels of the version the form came from, and names it', async () => {
    const f = await serverFixture({ backend });
    const { token } = await f.link('prefs', 'bob@example.com');
    await f.cli('landing', 'edit', 'prefs', '--channels', 'email');
    await f.cli('landing', 'publish', 'prefs', '--out-dir', `${f.dir}/public`);
    f.clock.now = new Date(f.clock.now.getTime() + 2_000); // past the server's page cache (PAGE_TTL_MS)
    // The person still has version 1 open: its unticked sms box counts, with source @v1.
    expect((await post(`${f.url}/prefs`, form({ t: token, v: '1', 'channel-email': 'on' }))).status).toBe(200);
    const h = await f.history('bob@example.com');
    expect(h.map((e) => `${e.source} ${e.channel}:${e.action}`).sort()).toEqual([
      'landing:prefs@v1 postal:optout',
      'landing:prefs@v1 sms:optout',
    ]);
    // Without v: the latest version (email only).
    expect((await post(`${f.url}/prefs`, form({ t: token }))).status).toBe(200);
    expect((await f.history('bob@example.com'))[0]).toMatchObject({ source: 'landing:prefs@v2', channel: 'email', action: 'optout' });
    // A version that does not exist: 400, nothing changed.
    const before = await f.eventCount();
    for (const v of ['9', 'abc', '-1', '0']) {
      expect((await post(`${f.url}/prefs`, form({ t: token, v, 'channel-email': 'on' }))).status, v).toBe(400);
    }
    expect(await f.eventCount()).toBe(before);
  });

  it('the `all` flag: shown ticked to a person who has it, cleared only when they untick it, never silently', async () => {
    const f = await serverFixture({ backend });
    const { url, token } = await f.link('prefs', 'ann@example.com');
    // A form rendered before `all` was set (no all box) is submitted after: `all` stays.
    await f.cli('profile', 'optout', 'ann@example.com', '--all');
    expect((await post(`${f.url}/prefs`, form({ t: token, v: '1', 'channel-email': 'on', 'channel-postal': 'on' }))).status).toBe(200);
    expect((await f.profile('ann@example.com')).optOut.all).toBe(true);

    const page = await (await fetch(`${f.url}${url}`)).text();
    expect(page).toMatch(/<input type="checkbox" name="channel-all" value="on" data-channel="all" checked>Do not contact me at all/);
    expect(page).toContain('name="all-shown" value="1"');
    // Channel boxes show each channel's own flag while the all box is shown.
    expect(page).toMatch(/data-channel="email" checked>/);
    expect(page).toMatch(/data-channel="sms">/);

    // Submitting the page as shown changes nothing.
    const before = await f.eventCount();
    const asShown = form({ t: token, v: '1', 'all-shown': '1', 'channel-all': 'on', 'channel-email': 'on', 'channel-postal': 'on' });
    expect((await post(`${f.url}/prefs`, asShown)).status).toBe(200);
    expect(await f.eventCount()).toBe(before);

    // Unticking it clears it.
    expect((await post(`${f.url}/prefs`, form({ t: token, v: '1', 'all-shown': '1', 'channel-email': 'on', 'channel-postal': 'on' }))).status).toBe(200);
    const p = await f.profile('ann@example.com');
    expect(p.optOut.all).toBe(false);
    expect((await f.history('ann@example.com'))[0]).toMatchObject({ channel: 'all', action: 'optin', source: 'landing:prefs@v1', actor: 'subject' });
    expect(await (await fetch(`${f.url}${url}`)).text()).not.toContain('channel-all');
  });
});

describe('landing serve: forms without a token (the static page)', () => {
  it('a new email becomes a profile with the chosen channels', async () => {
    const f = await serverFixture({ backend });
    const r = await post(`${f.url}/prefs`, form({ email: ' New.Person@Example.com ', v: '1', 'channel-email': 'on' }));
    expect(r.status).toBe(200);
    const p = await f.profile('new.person@example.com');
    expect(p.optOut).toMatchObject({ all: false, email: false, sms: true, postal: true, phone: false });
    expect((await f.history('new.person@example.com'))[0]).toMatchObject({ actor: 'email-form', source: 'landing:prefs@v1' });
  });

  it('a known email may only add opt-outs, and the answer does not tell known from unknown', async () => {
    const f = await serverFixture({ backend });
    // ann is opted out of sms; ticking every box must not opt her back in.
    const known = await post(`${f.url}/prefs`, form({ email: 'ann@example.com', 'channel-email': 'on', 'channel-sms': 'on' }));
    const unknown = await post(`${f.url}/prefs`, form({ email: 'zed@example.com', 'channel-email': 'on', 'channel-sms': 'on' }));
    expect(known.status).toBe(unknown.status);
    expect(await known.text()).toBe(await unknown.text());
    expect((await f.profile('ann@example.com')).optOut).toMatchObject({ email: false, sms: true, postal: true });
    // An unticked box adds an opt-out.
    await post(`${f.url}/prefs`, form({ email: 'ann@example.com', 'channel-sms': 'on', 'channel-postal': 'on' }));
    expect((await f.profile('ann@example.com')).optOut).toMatchObject({ email: true, sms: true, postal: true });
  });

  it('a bad email address is 400 and changes nothing', async () => {
    const f = await serverFixture({ backend });
    const before = await f.eventCount();
    for (const email of ['', 'not-an-email', 'a@b']) {
      const r = await post(`${f.url}/prefs`, form({ email, 'channel-email': 'on' }));
      expect(r.status, email).toBe(400);
      expectSecurityHeaders(r);
    }
    expect((await post(`${f.url}/prefs`, form({ 'channel-email': 'on' }))).status).toBe(400);
    expect(await f.eventCount()).toBe(before);
    expect(JSON.parse(await f.cli('profile', 'list', '--json'))).toHaveLength(2);
  });

  it('blocklist page: a known email is opted out of all; same answer for an unknown one, which creates nothing', async () => {
    const f = await serverFixture({ backend });
    const known = await post(`${f.url}/stop`, form({ email: 'bob@example.com' }));
    const unknown = await post(`${f.url}/stop`, form({ email: 'nobody@example.com' }));
    expect(known.status).toBe(200);
    expect(unknown.status).toBe(200);
    expect(await known.text()).toBe(await unknown.text());
    expect((await f.profile('bob@example.com')).optOut.all).toBe(true);
    expect((await f.history('bob@example.com'))[0]).toMatchObject({ channel: 'all', action: 'optout', source: 'landing:stop@v1', actor: 'email-form' });
    const list = await f.cli('profile', 'list', '--json');
    expect(list).not.toContain('nobody@example.com');
  });
});

describe('landing serve: blocklist links and one-click', () => {
  it('the personal blocklist page auto-submits by a hashed script; its GET changes nothing, its POST sets all', async () => {
    const f = await serverFixture({ backend });
    const { url, token } = await f.link('stop', 'ann@example.com');
    const before = await f.eventCount();
    const r = await fetch(`${f.url}${url}`);
    const page = await r.text();
    expect(page).toContain('<script>document.getElementById("consent-form").submit();</script>');
    expect(page).toContain('<noscript><button type="submit">');
    expect(await f.eventCount()).toBe(before);
    expect((await post(`${f.url}/stop`, form({ t: token, v: '1' }))).status).toBe(200);
    expect((await f.profile('ann@example.com')).optOut.all).toBe(true);
    expect((await f.history('ann@example.com'))[0]).toMatchObject({ channel: 'all', source: 'landing:stop@v1', actor: 'subject' });
  });

  it('RFC 8058: POST List-Unsubscribe=One-Click answers 200 (no redirect), sets all with source one-click; repeats record nothing', async () => {
    const f = await serverFixture({ backend });
    const { oneClickUrl } = await f.link('stop', 'ann@example.com');
    expect(oneClickUrl).toMatch(/^\/stop\/one-click\?t=[\w-]{66}$/);
    const r = await post(`${f.url}${oneClickUrl}`, form({ 'List-Unsubscribe': 'One-Click' }));
    expect(r.status).toBe(200);
    expect(r.headers.get('location')).toBeNull();
    expectSecurityHeaders(r);
    expect((await f.profile('ann@example.com')).optOut.all).toBe(true);
    const [e] = await f.history('ann@example.com');
    expect(e).toMatchObject({ channel: 'all', action: 'optout', source: 'one-click', actor: 'subject' });
    expect(e!.evidence).toMatchObject({ page: 'stop', version: 1, via: 'one-click' });
    const before = await f.eventCount();
    for (let i = 0; i < 3; i++) expect((await post(`${f.url}${oneClickUrl}`, form({ 'List-Unsubscribe': 'One-Click' }))).status).toBe(200);
    expect(await f.eventCount()).toBe(before);
  });

  it('one-click accepts multipart; a body without the field is 400; an acquisition page has no one-click', async () => {
    const f = await serverFixture({ backend });
    const { oneClickUrl, token } = await f.link('stop', 'bob@example.com');
    const before = await f.eventCount();
    for (const body of [form({}), form({ 'List-Unsubscribe': 'Yes' }), form({ other: 'One-Click' })]) {
      const r = await post(`${f.url}${oneClickUrl}`, body);
      expect(r.status).toBe(400);
      expectSecurityHeaders(r);
    }
    expect((await fetch(`${f.url}${oneClickUrl}`, { method: 'POST' })).status).toBe(400);
    expect(await f.eventCount()).toBe(before);
    const fd = new FormData();
    fd.set('List-Unsubscribe', 'One-Click');
    expect((await post(`${f.url}${oneClickUrl}`, fd)).status).toBe(200);
    expect((await f.profile('bob@example.com')).optOut.all).toBe(true);
    expect((await post(`${f.url}/prefs/one-click?t=${token}`, form({ 'List-Unsubscribe': 'One-Click' }))).status).toBe(404);
  });
});

describe('landing serve: bad requests change nothing', () => {
  it('tampered, truncated, empty, expired, retired and other-page tokens get a 4xx page, on GET, POST and one-click', async () => {
    const f = await serverFixture({ backend });
    const good = (await f.link('stop', 'ann@example.com')).token;
    const flip = (t: string, i: number) => t.slice(0, i) + (t[i] === 'A' ? 'B' : 'A') + t.slice(i + 1);
    const expired = (await f.link('stop', 'ann@example.com', '--expires-in', '30d')).token; // signed at 2026-01-02, the server is in June
    const otherPage = (await f.link('prefs', 'ann@example.com')).token;
    const bad: Record<string, string> = {
      tamperedMac: flip(good, 40),
      tamperedProfile: flip(good, 12),
      truncated: good.slice(0, 50),
      empty: '',
      garbage: '../../etc/passwd',
      expired,
      otherPage,
    };
    // retired: sign with key 1, rotate, retire key 1; the server re-reads keys after KEYRING_TTL_MS.
    bad.retired = good;
    await f.cli('keys', 'rotate');
    await f.cli('keys', 'retire', '1', '--yes');
    f.clock.now = new Date(f.clock.now.getTime() + 60_000);
    const before = await f.eventCount();
    for (const [name, t] of Object.entries(bad)) {
      const q = `t=${encodeURIComponent(t)}`;
      for (const r of [
        await fetch(`${f.url}/stop?${q}`),
        await post(`${f.url}/stop`, form({ t, v: '1' })),
        await post(`${f.url}/stop/one-click?${q}`, form({ 'List-Unsubscribe': 'One-Click' })),
      ]) {
        expect(r.status, name).toBeGreaterThanOrEqual(400);
        expect(r.status, name).toBeLessThan(500);
        expectSecurityHeaders(r);
        expect(await r.text(), name).toMatch(/nothing was changed/i);
      }
    }
    // A repeated t counts as its first value (here a retired key's token): still a 4xx, never a 500.
    expect((await fetch(`${f.url}/stop?t=${good}&t=x`)).status).toBe(410);
    expect((await post(`${f.url}/stop`, form({ t: [good, 'x'] }))).status).toBe(410);
    expect((await post(`${f.url}/stop`, form({ t: ['x', good] }))).status).toBe(400);
    expect(await f.eventCount()).toBe(before);
    expect((await f.profile('ann@example.com')).optOut.all).toBe(false);
    // The new key's links work.
    expect((await fetch(`${f.url}${(await f.link('stop', 'ann@example.com')).url}`)).status).toBe(200);
  });

  it("a well-signed link for a profile that does not exist is 410, also among good links asked for at once", async () => {
    const f = await serverFixture({ backend });
    const store = await openStore(f.db);
    let ghost: string;
    try {
      // Signed with the store's own key, for an id no profile has.
      ghost = signToken((await loadKeyring(store, {})).current(), { profileId: 999_999, slug: 'prefs' });
    } finally {
      await store.close();
    }
    const good = await f.link('prefs', 'ann@example.com');
    const answers = await Promise.all([`/prefs?t=${ghost}`, good.url, `/prefs?t=${ghost}&utm_source=x`, good.url].map((u) => fetch(`${f.url}${u}`)));
    expect(answers.map((r) => r.status)).toEqual([410, 200, 410, 200]);
    expect(await answers[0]!.text()).toMatch(/nothing was changed/i);
    expect(await answers[1]!.text()).toContain('Hello Ann');
    expect((await post(`${f.url}/prefs`, form({ t: ghost, v: '1' }))).status).toBe(410);
  });

  it('413 over 64 KiB (urlencoded or multipart), 415 for other content types; nothing changed', async () => {
    const f = await serverFixture({ backend });
    const { token } = await f.link('prefs', 'ann@example.com');
    const before = await f.eventCount();
    const big = form({ t: token, 'channel-sms': 'on', pad: 'x'.repeat(65 * 1024) });
    const r1 = await post(`${f.url}/prefs`, big);
    expect(r1.status).toBe(413);
    expectSecurityHeaders(r1);
    const fd = new FormData();
    fd.set('t', token);
    fd.set('channel-sms', 'on');
    fd.set('pad', 'x'.repeat(65 * 1024));
    expect((await post(`${f.url}/prefs`, fd)).status).toBe(413);
    for (const type of ['application/json', 'text/plain', 'application/xml']) {
      const r = await post(`${f.url}/prefs`, type === 'application/json' ? JSON.stringify({ t: token }) : `t=${token}`, { 'content-type': type });
      expect(r.status, type).toBe(415);
      expectSecurityHeaders(r);
    }
    expect(await f.eventCount()).toBe(before);
    // Just under the limit is fine.
    const ok = await post(`${f.url}/prefs`, form({ t: token, 'channel-sms': 'on', pad: 'x'.repeat(60 * 1024) }));
    expect(ok.status).toBe(200);
  });
});

describe('landing serve: behind a reverse proxy', () => {
  const clientOf = async (f: Awaited<ReturnType<typeof serverFixture>>, email: string, forwardedFor: string) => {
    const { token } = await f.link('prefs', email);
    const r = await post(`${f.url}/prefs`, form({ t: token, v: '1' }), { 'x-forwarded-for': forwardedFor });
    expect(r.status).toBe(200);
    const h = (await f.history(email)).filter((e) => e.source === 'landing:prefs@v1');
    return h[0]!.evidence!.client;
  };

  it('with --trust-proxy the client hash follows X-Forwarded-For; without it the header is ignored', async () => {
    const behind = await serverFixture({ backend, trustProxy: '127.0.0.1' });
    const a = await clientOf(behind, 'ann@example.com', '203.0.113.9');
    const b = await clientOf(behind, 'bob@example.com', '198.51.100.7');
    expect(a).toMatch(/^[0-9a-f]{32}$/);
    expect(a).not.toBe(b);
    const hops = await serverFixture({ backend, trustProxy: 1 });
    expect(await clientOf(hops, 'ann@example.com', '203.0.113.9')).not.toBe(await clientOf(hops, 'bob@example.com', '198.51.100.7'));
    const direct = await serverFixture({ backend });
    // Anyone can send the header: without --trust-proxy both are the connection's own address.
    expect(await clientOf(direct, 'ann@example.com', '203.0.113.9')).toBe(await clientOf(direct, 'bob@example.com', '198.51.100.7'));
  });

  it('a --trust-proxy that is neither hops nor addresses is a usage error', async () => {
    const db = (await serverFixture({ backend })).db;
    for (const bad of ['nonsense', '10.0.0.0/8,evil.example.com', '1.2.3', '1,2', '10.0.0.0/33']) {
      const r = await runCli(['--db', db, 'landing', 'serve', '--port', '0', '--trust-proxy', bad]);
      expect(r.code, bad).toBe(2);
      expect(r.stderr).toContain('--trust-proxy must be a number of proxy hops');
    }
  });
});

describe('landing serve: concurrency, locks, logs', () => {
  it("personal pages asked for at once each show their own person, and bad links among them still get their 4xx", async () => {
    const f = await serverFixture({ backend });
    const people = Array.from({ length: 12 }, (_, i) => ({ email: `c${i}@example.com`, name: `Carl${i}`, sms: i % 3 === 0, postal: i % 2 === 0 }));
    for (const p of people) {
      await f.cli('profile', 'add', '--email', p.email, '--first-name', p.name);
      for (const c of ['sms', 'postal'] as const) if (p[c]) await f.cli('profile', 'optout', p.email, '--channel', c);
    }
    const links = await Promise.all(people.map((p) => f.link('prefs', p.email)));
    const bad = links[0]!.token.slice(0, 40) + (links[0]!.token[40] === 'A' ? 'B' : 'A') + links[0]!.token.slice(41);
    const before = await f.eventCount();
    const asks = [
      ...links.map((l) => `${f.url}${l.url}`),
      `${f.url}/prefs?t=${bad}`,
      `${f.url}/prefs?t=short`,
      ...links.map((l) => `${f.url}${l.url}`),
      // As mailers rewrite links: other parameters, before or after the token.
      `${f.url}${links[3]!.url}&utm_source=news&utm_medium=email`,
      `${f.url}/prefs?utm_campaign=spring&t=${links[4]!.token}`,
    ];
    const answers = await Promise.all(asks.map(async (u) => ({ u, r: await fetch(u) })));
    for (const { u, r } of answers) {
      const i = links.findIndex((l) => u.includes(l.token));
      if (i < 0) {
        expect(r.status, u).toBeGreaterThanOrEqual(400);
        expect(r.status, u).toBeLessThan(500);
        continue;
      }
      expect(r.status).toBe(200);
      expectSecurityHeaders(r);
      const page = await r.text();
      const p = people[i]!;
      expect(page).toContain(`Hello ${p.name},`);
      expect(page).toContain(`name="t" value="${links[i]!.token}"`);
      expect(page).toMatch(p.sms ? /data-channel="sms">/ : /data-channel="sms" checked>/);
      expect(page).toMatch(p.postal ? /data-channel="postal">/ : /data-channel="postal" checked>/);
      expect(page).toMatch(/data-channel="email" checked>/);
      expect(Number(r.headers.get('content-length'))).toBe(Buffer.byteLength(page));
    }
    expect(await f.eventCount()).toBe(before);
  });

  it('fifty identical submissions at once record one change; fifty one-clicks for different people are group-committed', async () => {
    const f = await serverFixture({ backend });
    const { token } = await f.link('prefs', 'bob@example.com');
    const before = await f.eventCount();
    const answers = await Promise.all(Array.from({ length: 50 }, () => post(`${f.url}/prefs`, form({ t: token, v: '1', 'channel-email': 'on', 'channel-sms': 'on' }))));
    expect(answers.map((r) => r.status)).toEqual(Array(50).fill(200));
    expect(await f.eventCount()).toBe(before + 1);
    expect((await f.history('bob@example.com'))[0]).toMatchObject({ channel: 'postal', action: 'optout' });

    for (let i = 0; i < 50; i++) await f.cli('profile', 'add', '--email', `p${i}@example.com`);
    const links = await Promise.all(Array.from({ length: 50 }, (_, i) => f.link('stop', `p${i}@example.com`)));
    const stats0 = { ...f.server.stats };
    const oc = await Promise.all(links.map((l) => post(`${f.url}${l.oneClickUrl}`, form({ 'List-Unsubscribe': 'One-Click' }))));
    expect(oc.map((r) => r.status)).toEqual(Array(50).fill(200));
    expect(await f.eventCount()).toBe(before + 51);
    expect(f.server.stats.submissions - stats0.submissions).toBe(50);
    expect(f.server.stats.commits - stats0.commits).toBeLessThan(50);
    const listed = await f.cli('profile', 'list', '--opted-out', 'all', '--json');
    expect(JSON.parse(listed)).toHaveLength(50);
  });

  it('a submission while another process holds the write lock waits for it and succeeds', async () => {
    const f = await serverFixture({ backend });
    const { oneClickUrl } = await f.link('stop', 'ann@example.com');
    const holder = await holdWriteLock(f.db, 1000);
    const t0 = Date.now();
    const r = await post(`${f.url}${oneClickUrl}`, form({ 'List-Unsubscribe': 'One-Click' }));
    const waited = Date.now() - t0;
    expect(r.status).toBe(200);
    expect(waited).toBeGreaterThan(500);
    await holder.released;
    expect((await f.profile('ann@example.com')).optOut.all).toBe(true);
  });

  it('a lock held past the busy timeout is a 503 with Retry-After that changes nothing; the retry succeeds', async () => {
    const f = await serverFixture({ backend, busyTimeoutMs: 200 });
    const { oneClickUrl } = await f.link('stop', 'ann@example.com');
    const { released } = await holdWriteLock(f.db, 1500);
    const r = await post(`${f.url}${oneClickUrl}`, form({ 'List-Unsubscribe': 'One-Click' }));
    expect(r.status).toBe(503);
    expect(r.headers.get('retry-after')).toBe('5');
    expectSecurityHeaders(r);
    await released;
    expect((await f.profile('ann@example.com')).optOut.all).toBe(false);
    expect((await post(`${f.url}${oneClickUrl}`, form({ 'List-Unsubscribe': 'One-Click' }))).status).toBe(200);
    expect((await f.profile('ann@example.com')).optOut.all).toBe(true);
  });

  it('one log line per request: method, path without the query, status, ms; never a token or an email', async () => {
    const f = await serverFixture({ backend });
    const { url, token, oneClickUrl } = await f.link('stop', 'ann@example.com');
    await fetch(`${f.url}${url}`);
    await post(`${f.url}/stop`, form({ t: token }));
    await post(`${f.url}${oneClickUrl}`, form({ 'List-Unsubscribe': 'One-Click' }));
    await post(`${f.url}/prefs`, form({ email: 'secret.person@example.com' }));
    await fetch(`${f.url}/secret.person@example.com`);
    await fetch(`${f.url}/stop/${token}`);
    expect(f.logs).toHaveLength(6);
    for (const line of f.logs) expect(line).toMatch(/^(GET|POST) \/\S* \d{3} \d+\.\dms$/);
    expect(f.logs[0]).toMatch(/^GET \/stop 200 /);
    expect(f.logs[2]).toMatch(/^POST \/stop\/one-click 200 /);
    const all = f.logs.join('\n');
    expect(all).not.toContain(token);
    expect(all).not.toContain('@');
    expect(all).not.toContain('?');
  });
});
});
