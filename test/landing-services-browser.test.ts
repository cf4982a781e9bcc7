import { describe, expect, it } from 'vitest';
import { useChromium } from './helpers/browser.js';
import { serverFixture } from './helpers/landing-server.js';
import { runCli } from './helpers/run-cli.js';

const chromium = useChromium();

describe('a page with channels and services in a real browser', () => {
  it('boxes reflect the profile; tick, untick, submit; the store changes; then the confirmation link, Confirm, subscribed', async () => {
    const f = await serverFixture();
    await f.cli('service', 'create', 'news', '--label', 'Weekly news', '--description', 'Every Friday', '--double-opt-in');
    await f.cli('service', 'create', 'offers', '--label', 'Offers');
    await f.cli('landing', 'create', 'club', '--type', 'acquisition', '--title', 'Club', '--channels', 'email,sms', '--services', 'news,offers');
    await f.cli('landing', 'publish', 'club', '--out-dir', `${f.dir}/public`);
    await f.cli('profile', 'subscribe', 'ann@example.com', 'offers'); // ann: opted out of sms, subscribed to offers
    const subs = async () =>
      Object.fromEntries(((await f.profile('ann@example.com')) as unknown as { subscriptions: { service: string; status: string }[] }).subscriptions.map((s) => [s.service, s.status]));

    const { url } = await f.link('club', 'ann@example.com');
    const page = await chromium().newPage();
    const violations: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
    });
    expect((await page.goto(`${f.url}${url}`))!.status()).toBe(200);
    const channel = (c: string) => page.locator(`input[data-channel="${c}"]`);
    const service = (s: string) => page.locator(`input[data-service="${s}"]`);
    expect(await channel('email').isChecked()).toBe(true);
    expect(await channel('sms').isChecked()).toBe(false);
    expect(await service('news').isChecked()).toBe(false);
    expect(await service('offers').isChecked()).toBe(true);
    expect(await page.locator('input[data-service][data-channel]').count()).toBe(0);

    await page.getByLabel('Weekly news').check(); // by its label, as a person finds it
    await service('offers').uncheck();
    await channel('sms').check();
    await Promise.all([page.waitForURL(`${f.url}/club`), page.getByRole('button', { name: 'Save my choices' }).click()]);
    expect(await page.locator('h1').textContent()).toBe('Thank you');
    expect(await subs()).toEqual({ news: 'pending', offers: 'unsubscribed' });
    expect((await f.profile('ann@example.com')).optOut).toMatchObject({ sms: false, email: false });
    const fromPage = (await f.history('ann@example.com')).filter((e) => e.source === 'landing:club@v1');
    expect(fromPage).toHaveLength(3); // sms opt-in, news request, offers unsubscribe: one submission
    expect(String(fromPage[0]!.evidence!.userAgent)).toMatch(/Chrome/);

    // Reopened, the page shows the pending subscription ticked.
    await page.goto(`${f.url}${url}`);
    expect(await service('news').isChecked()).toBe(true);
    expect(await service('offers').isChecked()).toBe(false);

    // The confirmation link: opening it changes nothing; pressing Confirm does.
    const rows = (await runCli(['--db', f.db, 'service', 'confirmations', 'news'])).stdout.trim().split('\n');
    const confirmUrl = rows[1]!.split(',')[3]!;
    const before = await f.eventCount();
    await page.goto(`${f.url}${confirmUrl}`);
    expect(await page.locator('h1').textContent()).toBe('Confirm your subscription');
    expect(await f.eventCount()).toBe(before);
    expect((await subs()).news).toBe('pending');
    await Promise.all([page.waitForURL(`${f.url}/confirm/news`), page.getByRole('button', { name: 'Confirm my subscription' }).click()]);
    expect(await page.locator('p').textContent()).toBe('Your subscription is confirmed: Weekly news.');
    expect((await subs()).news).toBe('subscribed');
    expect((await f.history('ann@example.com'))[0]).toMatchObject({ service: 'news', action: 'confirm', actor: 'subject' });
    expect(await page.context().cookies()).toEqual([]);
    expect(violations).toEqual([]);
    await page.close();
  }, 30_000);
});
