/**
 * Issue 16, gap 3: every page variant the landing server can answer, audited
 * in Debian's chromium at 360 px and 1280 px (html-validate on the bytes as
 * served, axe-core with no violation at all, no CSP violation, no console
 * error): without a brand and with one, en and fr, both wordings. The
 * variants test/landing-pages-browser.test.ts already audits branded are not
 * repeated here; the README's "Pages audited" lists where each is checked.
 * The personal blocklist page submits itself at once: its POST is held by a
 * playwright route (answered 204, so the browser stays), so that axe sees the
 * page itself (its fallback button) rather than the confirmation.
 */
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { errorAnswer } from '../src/landing/server/errors.js';
import { ConsentError } from '../src/consent/errors.js';
import { useChromium } from './helpers/browser.js';
import { htmlProblems } from './helpers/html.js';
import { serverFixture, type Fixture } from './helpers/landing-server.js';
import { audit, axeViolations, setBrand } from './helpers/page-audit.js';

const chromium = useChromium();

/** Pages in both languages and wordings, a double opt-in service and a per-service link; no brand yet. */
async function variantsFixture(): Promise<Fixture> {
  const f = await serverFixture(); // prefs (en, consent wording), stop (en)
  await f.cli('service', 'create', 'news', '--label', 'Weekly news', '--double-opt-in');
  await f.cli('landing', 'edit', 'stop', '--ask-reason');
  await f.cli('landing', 'create', 'prefs-fr', '--type', 'acquisition', '--title', 'Vos choix', '--channels', 'email,sms', '--services', 'news', '--lang', 'fr', '--wording', 'optout');
  await f.cli('landing', 'create', 'stop-fr', '--type', 'blocklist', '--title', 'Arrêt', '--lang', 'fr', '--ask-reason');
  for (const slug of ['stop', 'prefs-fr', 'stop-fr']) await f.cli('landing', 'publish', slug, '--out-dir', join(f.dir, 'public'));
  return f;
}

/** A confirmation link of the double opt-in service for a person (a pending request first). */
async function confirmUrl(f: Fixture, email: string): Promise<string> {
  await f.cli('profile', 'add', '--email', email);
  await f.cli('profile', 'subscribe', email, 'news');
  const rows = (await f.cli('service', 'confirmations', 'news')).trim().split('\n').slice(1);
  const row = rows.find((r) => r.includes(email))!;
  return row.split(',')[3]!;
}

/** Every variant not audited elsewhere (with a brand) or all of them (without), at one width. */
async function auditVariants(browser: Browser, f: Fixture, width: number, brand: boolean, round: string): Promise<void> {
  const o = { brand };
  const context = await browser.newContext({ viewport: { width, height: 800 } });
  const page = await context.newPage();
  const at = (path: string) => () => page.goto(`${f.url}${path}`);
  const name = (s: string) => `${width} ${brand ? 'branded' : 'unbranded'} ${s}`;
  // Fresh links each round: a survey answers once, a confirmation confirms once.
  const ann = { prefs: await f.link('prefs', 'ann@example.com'), stop: await f.link('stop', 'ann@example.com'), service: await f.link('prefs-fr', 'ann@example.com', '--service', 'news') };
  const bob = { prefsFr: await f.link('prefs-fr', 'bob@example.com'), stopFr: await f.link('stop-fr', 'bob@example.com') };
  if (!brand) {
    await audit(page, name('acquisition generic en, consent wording'), at('/prefs'), o);
    await audit(page, name('acquisition generic fr, optout wording, a service'), at('/prefs-fr'), o);
    await audit(page, name('acquisition personal en'), at(ann.prefs.url), o);
    await audit(page, name('acquisition personal fr'), at(bob.prefsFr.url), o);
    await audit(page, name('blocklist generic en'), at('/stop'), o);
    await audit(page, name('blocklist generic fr'), at('/stop-fr'), o);
    await audit(page, name('one-click prompt en'), at(ann.stop.oneClickUrl!), o);
    await audit(page, name('one-click prompt fr'), at(bob.stopFr.oneClickUrl!), o);
    await audit(page, name('per-service one-click prompt fr'), at(ann.service.oneClickUrl!), o);
    await audit(page, name('error page (404)'), at('/nowhere'), { ...o, status: 404 });
    await audit(page, name('acquisition confirmation en'), async () => {
      await page.goto(`${f.url}${ann.prefs.url}`);
      await Promise.all([page.waitForURL(`${f.url}/prefs`), page.getByRole('button', { name: 'Save my choices' }).click()]);
    }, o);
    await audit(page, name('survey answered fr'), async () => {
      await page.goto(`${f.url}${bob.stopFr.oneClickUrl!}`);
      await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Me désinscrire de tout' }).click()]);
      await page.getByLabel('Je reçois trop de messages').check();
      await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Envoyer ma réponse' }).click()]);
      await page.getByText(/Merci de nous l'avoir dit|Nous avons déjà votre réponse/).waitFor();
    }, o);
  }
  // Not audited branded elsewhere: the one-click confirmation in English with its survey, the survey's thanks in English.
  await audit(page, name('blocklist confirmation en, survey and link (one-click)'), async () => {
    await page.goto(`${f.url}${ann.stop.oneClickUrl!}`);
    await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Unsubscribe from everything' }).click()]);
    await page.getByRole('heading', { name: 'You will not hear from us again' }).waitFor();
  }, o);
  await audit(page, name('survey answered en'), async () => {
    await page.getByLabel('I receive too many messages').check();
    await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Send my answer' }).click()]);
  }, o);
  await audit(page, name('blocklist confirmation fr (the email form: no survey)'), async () => {
    await page.goto(`${f.url}/stop-fr`);
    await page.getByLabel('Votre adresse email').fill('someone@example.com');
    await Promise.all([page.waitForLoadState('load'), page.getByRole('button').first().click()]);
    await page.getByRole('heading', { name: 'Vous ne recevrez plus rien de notre part' }).waitFor();
  }, o);
  await audit(page, name('per-service unsubscribed fr'), async () => {
    await page.goto(`${f.url}${ann.service.oneClickUrl!}`);
    await Promise.all([page.waitForLoadState('load'), page.getByRole('button').first().click()]);
    await page.getByText('Weekly news').first().waitFor();
  }, o);
  const confirm = await confirmUrl(f, `confirm-${round}-${width}@example.com`);
  await audit(page, name('double opt-in confirm prompt en'), at(confirm), o);
  await audit(page, name('double opt-in confirmed en'), async () => {
    await Promise.all([page.waitForURL(`${f.url}/confirm/news`), page.getByRole('button', { name: 'Confirm my subscription' }).click()]);
    await page.getByText('Your subscription is confirmed').waitFor();
  }, o);
  await audit(page, name('error page (400, a broken link)'), at('/prefs?t=not-a-token'), { ...o, status: 400 });
  await audit(page, name('error page fr (400, a damaged link)'), at(`${bob.prefsFr.url.slice(0, -3)}xyz`), { ...o, status: 400 });
  await context.close();

  // The personal blocklist page, which submits itself: its POST is answered 204 No Content by the
  // browser's own route, so the navigation stops and the page itself (its fallback button) stays for axe.
  const still = await (await browser.newContext({ viewport: { width, height: 800 } })).newPage();
  let submitted = 0;
  let document = '';
  await still.route('**/*', async (route) => {
    if (route.request().method() === 'POST') return (submitted++, route.fulfill({ status: 204 }));
    if (!route.request().isNavigationRequest()) return route.continue();
    const response = await route.fetch(); // the server's answer, passed on as it is, its bytes kept for html-validate
    document = await response.text();
    return route.fulfill({ response, body: document });
  });
  const held = { ...o, until: 'none' as const, served: () => document };
  const open = (url: string, n: number) => async () => {
    await still.goto(`${f.url}${url}`, { waitUntil: 'commit' });
    await expect.poll(() => submitted).toBe(n); // it submitted itself, and was held
    await still.locator('body > script').waitFor({ state: 'attached' }); // the whole document is there (its script ends the body)
  };
  await audit(still, name('blocklist personal en (auto-submit, held)'), open(ann.stop.url, 1), held);
  await audit(still, name('blocklist personal fr (auto-submit, held)'), open(bob.stopFr.url, 2), held);
  expect(submitted, 'each submitted itself').toBe(2);
  expect(still.url(), 'and stayed on the page').toBe(`${f.url}${bob.stopFr.url}`);
  await still.context().close();
}

/** The 5xx pages (a busy store, a bug): rendered by the server's own errorAnswer, audited as set content. */
async function auditServerErrors(page: Page, width: number): Promise<void> {
  for (const [what, error] of [
    ['503 busy', new ConsentError('busy', 'the store is busy')],
    ['500', new Error('a bug')],
  ] as const) {
    const { html, status } = errorAnswer(error, () => {});
    expect(status).toBe(what === '500' ? 500 : 503);
    expect(await htmlProblems(html), what).toEqual([]);
    await page.setViewportSize({ width, height: 800 });
    await page.setContent(html);
    expect(await axeViolations(page), `${width} ${what}`).toEqual([]);
  }
}

describe('every page variant in chromium', () => {
  it('without a brand and with one, en and fr, both wordings, at 360 px and 1280 px: html-validate and axe find nothing', async () => {
    const f = await variantsFixture();
    for (const width of [360, 1280]) await auditVariants(chromium(), f, width, false, 'plain');
    await setBrand(f);
    f.clock.now = new Date(f.clock.now.getTime() + 5_000); // past the server's page cache
    for (const width of [360, 1280]) await auditVariants(chromium(), f, width, true, 'brand');
    const page = await chromium().newPage();
    for (const width of [360, 1280]) await auditServerErrors(page, width);
  }, 240_000);
});
