import { describe, expect, it } from 'vitest';
import { useChromium } from './helpers/browser.js';
import { serverFixture } from './helpers/landing-server.js';

const chromium = useChromium();

describe('landing pages in a real browser', () => {
  it("a person's acquisition link: boxes from the profile, tick and untick, submit, the store changes", async () => {
    const f = await serverFixture();
    const { url } = await f.link('prefs', 'ann@example.com'); // ann: opted out of sms
    const page = await chromium().newPage();
    const violations: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
    });
    const response = await page.goto(`${f.url}${url}`);
    expect(response!.status()).toBe(200);
    expect(await page.locator('h1').textContent()).toBe('Prefs');
    const box = (c: string) => page.locator(`input[data-channel="${c}"]`);
    expect(await box('email').isChecked()).toBe(true);
    expect(await box('sms').isChecked()).toBe(false);
    expect(await box('postal').isChecked()).toBe(true);

    await page.getByLabel('SMS').check(); // by its label, as a person (or a screen reader) finds it
    await box('email').uncheck();
    await Promise.all([page.waitForURL(`${f.url}/prefs`), page.getByRole('button', { name: 'Save my choices' }).click()]);
    expect(await page.locator('h1').textContent()).toBe('Thank you');
    expect(await page.context().cookies()).toEqual([]);
    expect(violations).toEqual([]);

    const p = await f.profile('ann@example.com');
    expect(p.optOut).toMatchObject({ all: false, email: true, sms: false, postal: false });
    const h = (await f.history('ann@example.com')).filter((e) => e.source === 'landing:prefs@v1');
    expect(h.map((e) => `${e.channel}:${e.action}`).sort()).toEqual(['email:optout', 'sms:optin']);
    expect(String(h[0]!.evidence!.userAgent)).toMatch(/Chrome/);

    // Reopened, the page shows the new state.
    await page.goto(`${f.url}${url}`);
    expect(await box('email').isChecked()).toBe(false);
    expect(await box('sms').isChecked()).toBe(true);
    await page.close();
  }, 30_000);

  it('a blocklist link opts the person out of all when opened in a browser; a plain GET of the same link changes nothing', async () => {
    const f = await serverFixture();
    const bob = await f.link('stop', 'bob@example.com');
    const ann = await f.link('stop', 'ann@example.com');

    // A mail scanner: plain GETs, no script run.
    const before = await f.eventCount();
    for (let i = 0; i < 3; i++) expect((await fetch(`${f.url}${ann.url}`)).status).toBe(200);
    expect(await f.eventCount()).toBe(before);
    expect((await f.profile('ann@example.com')).optOut.all).toBe(false);

    // A person: the page submits itself (its script is allowed by the CSP hash).
    const page = await chromium().newPage();
    await Promise.all([page.waitForURL(`${f.url}/stop`), page.goto(`${f.url}${bob.url}`)]);
    await page.waitForSelector('text=You will not hear from us again');
    expect((await f.profile('bob@example.com')).optOut.all).toBe(true);
    expect((await f.history('bob@example.com'))[0]).toMatchObject({ channel: 'all', action: 'optout', source: 'landing:stop@v1', actor: 'subject' });
    expect((await f.profile('ann@example.com')).optOut.all).toBe(false);
    await page.close();
  }, 30_000);
  it('a one-click link opened in a browser: a page that does not submit itself; its button unsubscribes', async () => {
    const f = await serverFixture();
    const { oneClickUrl } = await f.link('stop', 'ann@example.com');
    const page = await chromium().newPage();
    const violations: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
    });
    const before = await f.eventCount();
    const response = await page.goto(`${f.url}${oneClickUrl}`);
    expect(response!.status()).toBe(200);
    await page.waitForTimeout(300); // time enough for any script to have submitted it
    expect(page.url()).toBe(`${f.url}${oneClickUrl}`);
    expect(await f.eventCount()).toBe(before);
    expect((await f.profile('ann@example.com')).optOut.all).toBe(false);

    await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Unsubscribe from everything' }).click()]);
    await page.waitForSelector('text=You will not hear from us again');
    expect((await f.profile('ann@example.com')).optOut.all).toBe(true);
    const [e] = await f.history('ann@example.com');
    expect(e).toMatchObject({ channel: 'all', action: 'optout', source: 'one-click', actor: 'subject' });
    expect(String(e!.evidence!.userAgent)).toMatch(/Chrome/);
    expect(violations).toEqual([]);
    await page.close();
  }, 30_000);
});
