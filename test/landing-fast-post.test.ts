// The urlencoded POSTs (a page's form, RFC 8058 one-click) are read outside
// fastify (src/landing/server/fast-post.ts); multipart bodies still go through
// fastify. The same request either way must get the same answer, record the
// same thing, and log the same line.
import { describe, expect, it } from 'vitest';
import { expectSecurityHeaders, form, serverFixture } from './helpers/landing-server.js';

const post = (url: string, body: URLSearchParams | FormData | string, headers: Record<string, string> = {}) =>
  fetch(url, { method: 'POST', body, headers, redirect: 'manual' });

function multipart(fields: Record<string, string>): FormData {
  const fd = new FormData();
  for (const [k, v] of Object.entries(fields)) fd.append(k, v);
  return fd;
}

/** What the two paths must agree on: status, the headers a page carries, the bytes. */
async function answer(r: Response) {
  expectSecurityHeaders(r);
  const headers = Object.fromEntries(['content-type', 'content-security-policy', 'x-frame-options', 'cache-control', 'retry-after'].map((h) => [h, r.headers.get(h)]));
  const raw = await r.text();
  expect(r.headers.get('content-length')).toBe(String(Buffer.byteLength(raw)));
  // A blocklist confirmation carries the person's own link ("Choose what you receive"): the same for everyone but its token.
  const body = raw.replace(/\?t=[A-Za-z0-9_-]{66}/g, '?t=<token>');
  return { status: r.status, headers, body };
}

describe('landing serve: urlencoded POSTs and multipart POSTs are answered alike', () => {
  it('one-click: the same page, headers and ledger event (source, evidence with the client hash) either way; errors alike; logs without the token', async () => {
    const f = await serverFixture();
    const ann = await f.link('stop', 'ann@example.com');
    const bob = await f.link('stop', 'bob@example.com');
    const fast = await answer(await post(`${f.url}${ann.oneClickUrl}`, form({ 'List-Unsubscribe': 'One-Click' }), { 'user-agent': 'MailClient/1' }));
    const slow = await answer(await post(`${f.url}${bob.oneClickUrl}`, multipart({ 'List-Unsubscribe': 'One-Click' }), { 'user-agent': 'MailClient/1' }));
    expect(fast.status).toBe(200);
    expect(fast).toEqual(slow);
    const [a] = await f.history('ann@example.com');
    const [b] = await f.history('bob@example.com');
    expect(a).toMatchObject({ channel: 'all', action: 'optout', source: 'one-click', actor: 'subject' });
    expect({ ...a, evidence: { ...a!.evidence } }).toMatchObject({ channel: b!.channel, action: b!.action, source: b!.source, actor: b!.actor });
    expect(a!.evidence).toEqual(b!.evidence); // page, version, via, time, user agent, client hash
    expect(a!.evidence!.userAgent).toBe('MailClient/1');
    expect(a!.evidence!.client).toMatch(/^[0-9a-f]{32}$/);

    // Errors: a body without the field, a tampered token, an unknown page, a trailing slash.
    const events = await f.eventCount();
    const bad = `${ann.oneClickUrl!.slice(0, -3)}AAA`;
    for (const [url, fields] of [
      [ann.oneClickUrl!, { other: 'x' }],
      [bad, { 'List-Unsubscribe': 'One-Click' }],
      ['/nope/one-click?t=x', { 'List-Unsubscribe': 'One-Click' }],
    ] as const) {
      const e1 = await answer(await post(`${f.url}${url}`, form(fields)));
      const e2 = await answer(await post(`${f.url}${url}`, multipart(fields)));
      expect(e1.status).toBeGreaterThanOrEqual(400);
      expect(e1, url).toEqual(e2);
    }
    expect(await f.eventCount()).toBe(events);
    const again = await answer(await post(`${f.url}${ann.oneClickUrl!.replace('/one-click?', '/one-click/?')}`, form({ 'List-Unsubscribe': 'One-Click' })));
    expect(again).toEqual(fast); // a repeat: same answer, nothing recorded
    expect(await f.eventCount()).toBe(events);
    for (const line of f.logs) {
      expect(line).not.toContain(ann.token);
      expect(line).not.toContain('example.com');
    }
    expect(f.logs.filter((l) => /^POST \/stop\/one-click\/? 200 \d+\.\dms$/.test(l))).toHaveLength(3);
  });

  it("a page's form: the same confirmation and the same changes either way, repeated fields as their first value; a bad version is 400 alike", async () => {
    const f = await serverFixture();
    const ann = await f.link('prefs', 'ann@example.com');
    const bob = await f.link('prefs', 'bob@example.com');
    // Both untick email and postal, tick sms (ann had opted out of sms).
    const fast = await answer(await post(`${f.url}/prefs?utm_source=mail`, `t=${ann.token}&v=1&channel-sms=on&channel-sms=off`, { 'content-type': 'application/x-www-form-urlencoded; charset=UTF-8' }));
    const slow = await answer(await post(`${f.url}/prefs/`, multipart({ t: bob.token, v: '1', 'channel-sms': 'on' })));
    expect(fast.status).toBe(200);
    expect(fast).toEqual(slow);
    expect((await f.profile('ann@example.com')).optOut).toMatchObject({ email: true, sms: false, postal: true });
    expect((await f.profile('bob@example.com')).optOut).toMatchObject({ email: true, sms: false, postal: true });
    const kinds = (h: { channel: string; action: string; source: string; actor: string }[]) => h.map((e) => `${e.channel}:${e.action}:${e.source}:${e.actor}`).sort();
    expect(kinds(await f.history('ann@example.com')).filter((k) => !k.includes('setup') && k.includes('landing'))).toEqual(
      ['email:optout:landing:prefs@v1:subject', 'postal:optout:landing:prefs@v1:subject', 'sms:optin:landing:prefs@v1:subject'],
    );
    const events = await f.eventCount();
    const e1 = await answer(await post(`${f.url}/prefs`, form({ t: ann.token, v: '99' })));
    const e2 = await answer(await post(`${f.url}/prefs`, multipart({ t: ann.token, v: '99' })));
    expect(e1.status).toBe(400);
    expect(e1).toEqual(e2);
    expect(await f.eventCount()).toBe(events);
  });
});
