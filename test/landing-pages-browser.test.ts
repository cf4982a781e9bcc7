/**
 * Issue 16 in Debian's chromium: branded pages (name, logo, privacy link) in
 * English and French pass html-validate and axe-core with no violation at
 * all, on a phone (360 px) and a desktop window; long labels wrap beside
 * their box; the blocklist confirmation offers the person's own link; the
 * unsubscribe-reason survey (answered, skipped, hostile text) through the
 * real server, recorded as a `reason` event, on both stores; the evidence of
 * each submission names the brand version.
 */
import { describe, expect, it } from 'vitest';
import { useChromium } from './helpers/browser.js';
import { htmlProblems } from './helpers/html.js';
import { form } from './helpers/landing-server.js';
import { audit, brandedFixture } from './helpers/page-audit.js';
import { BACKENDS } from './helpers/run-cli.js';

const chromium = useChromium();
const HOSTILE = `<script>alert(1)</script><img src=x onerror=alert(2)> "quotes" & 'apostrophes' </textarea>`;

describe('branded pages in chromium', () => {
  it('every page variant, in en and fr, at 360 px and 1280 px: html-validate and axe find nothing; a long label wraps beside its box', async () => {
    const f = await brandedFixture();
    const links = {
      prefs: await f.link('prefs', 'ann@example.com'),
      prefsFr: await f.link('prefs-fr', 'bob@example.com'),
      stop: await f.link('stop', 'ann@example.com'),
      stopFr: await f.link('stop-fr', 'bob@example.com'),
      digest: await f.link('prefs-fr', 'bob@example.com', '--service', 'digest'),
    };
    for (const width of [360, 1280]) {
      const context = await chromium().newContext({ viewport: { width, height: 800 } });
      const page = await context.newPage();
      const at = (path: string) => () => page.goto(`${f.url}${path}`);
      await audit(page, `${width} acquisition generic en`, at('/prefs'));
      await audit(page, `${width} acquisition personal en`, at(links.prefs.url));
      await audit(page, `${width} acquisition personal fr, optout wording, a service`, at(links.prefsFr.url));
      await audit(page, `${width} acquisition generic fr`, at('/prefs-fr'));
      await audit(page, `${width} blocklist generic en`, at('/stop'));
      await audit(page, `${width} blocklist generic fr`, at('/stop-fr'));
      await audit(page, `${width} one-click prompt en`, at(links.stop.oneClickUrl!));
      await audit(page, `${width} one-click prompt fr`, at(links.stopFr.oneClickUrl!));
      await audit(page, `${width} error page (404)`, at('/nowhere'));
      await audit(page, `${width} per-service one-click prompt fr`, at(links.digest.oneClickUrl!));

      await audit(page, `${width} acquisition confirmation en`, async () => {
        await page.goto(`${f.url}${links.prefs.url}`);
        await Promise.all([page.waitForURL(`${f.url}/prefs`), page.getByRole('button', { name: 'Save my choices' }).click()]);
      });
      await audit(page, `${width} blocklist confirmation fr, survey and link`, async () => {
        await page.goto(`${f.url}${links.stopFr.oneClickUrl!}`);
        await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Me désinscrire de tout' }).click()]);
        await page.getByRole('heading', { name: 'Vous ne recevrez plus rien de notre part' }).waitFor();
      });
      await audit(page, `${width} survey answered fr`, async () => {
        await page.getByLabel('Je reçois trop de messages').check();
        await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Envoyer ma réponse' }).click()]);
        await page.getByText(/Merci de nous l'avoir dit|Nous avons déjà votre réponse/).waitFor();
      });
      if (width === 360) {
        // The long service label wraps beside its box: its text starts right of the box, on the box's row.
        await page.goto(`${f.url}${links.prefsFr.url}`);
        const geometry = await page.locator('label:has(input[data-service="digest"])').evaluate((label) => {
          const box = label.querySelector('input')!.getBoundingClientRect();
          const range = (globalThis as unknown as { document: { createRange(): { selectNodeContents(n: unknown): void; getClientRects(): Iterable<{ left: number; top: number }> } } }).document.createRange();
          range.selectNodeContents(label.childNodes[1]!); // the label's text, after the box
          const lines = [...range.getClientRects()];
          return { box: { left: box.left, right: box.right, top: box.top, bottom: box.bottom }, lines: lines.map((r) => ({ left: r.left, top: r.top })) };
        });
        expect(new Set(geometry.lines.map((l) => Math.round(l.top))).size, 'the label wraps').toBeGreaterThan(1);
        for (const line of geometry.lines) expect(line.left).toBeGreaterThanOrEqual(geometry.box.right); // every line beside the box, none under it
        expect(Math.abs(geometry.lines[0]!.top - geometry.box.top)).toBeLessThanOrEqual(6); // same row top
      }
      await context.close();
    }
    // The personal blocklist page submits itself at once (axe cannot stay on it): html-validate on its bytes as served.
    expect(await htmlProblems(await (await fetch(`${f.url}${links.stop.url}`)).text())).toEqual([]);
  }, 120_000);
});

describe.each(BACKENDS)('the blocklist confirmation and the reason survey, on %s', (backend) => {
  it('one-click in the browser: plain words, the person\'s own link (no undo), the survey answered once with hostile text kept as given and never run; evidence names the brand version', async () => {
    const f = await brandedFixture(backend);
    const { oneClickUrl } = await f.link('stop', 'bob@example.com');
    const page = await chromium().newPage();
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    await page.goto(`${f.url}${oneClickUrl}`);
    await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Unsubscribe from everything' }).click()]);
    await page.getByRole('heading', { name: 'You will not hear from us again' }).waitFor();
    expect(await page.locator('main').textContent()).toContain('you will no longer be contacted by any channel');
    const optOut = (await f.history('bob@example.com'))[0]!;
    expect(optOut).toMatchObject({ channel: 'all', action: 'optout', source: 'one-click' });
    expect(optOut.evidence).toMatchObject({ page: 'stop', version: 2, brandVersion: 1, via: 'one-click' });

    // "Changed your mind?": the person's own signed link to the acquisition page; following it changes nothing.
    const choose = page.getByRole('link', { name: 'Choose what you receive' });
    const href = await choose.getAttribute('href');
    expect(href).toMatch(/^\/prefs\?t=[A-Za-z0-9_-]{66}$/);
    const events = await f.eventCount();

    await page.getByLabel('I never signed up').check();
    await page.getByLabel(/Anything you would like to add/).fill(HOSTILE);
    const surveyForm: Record<string, string> = Object.fromEntries(
      await page.locator('form').evaluate((el) => {
        const FD = (globalThis as unknown as { FormData: new (f: unknown) => Iterable<[string, unknown]> }).FormData;
        return [...new FD(el)].map(([k, v]) => [k, String(v)]);
      }),
    );
    await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Send my answer' }).click()]);
    await page.getByText('Thank you for telling us.').waitFor();
    expect(await f.eventCount()).toBe(events + 1); // ledger verify passes with the reason event
    const reason = (await f.history('bob@example.com'))[0]!;
    expect(reason).toMatchObject({ channel: 'all', action: 'reason', actor: 'subject', source: 'landing:stop@v2' });
    expect(reason.evidence).toMatchObject({ reasonCode: 'never-signed-up', text: HOSTILE.trim(), forEvent: (optOut as unknown as { id: number }).id });
    expect((await f.profile('bob@example.com')).optOut.all).toBe(true); // a reason changes no flag

    // One answer per opt-out: the same form again is thanked, and writes nothing.
    const again = await fetch(`${f.url}/stop/reason`, { method: 'POST', body: form(surveyForm) });
    expect(again.status).toBe(200);
    expect(await again.text()).toContain('We already have your answer.');
    // Another event id with the same token: refused (the token is signed for that opt-out).
    const forged = await fetch(`${f.url}/stop/reason`, { method: 'POST', body: form({ ...surveyForm, e: String(Number(surveyForm.e) + 1) }) });
    expect(forged.status).toBe(403);
    expect(await f.eventCount()).toBe(events + 1);

    // The link opens their page with their choices as they are (everything off); nothing re-subscribes them.
    await page.goto(`${f.url}${href}`);
    expect(await page.locator('input[data-channel="all"]').isChecked()).toBe(true);
    expect(await f.eventCount()).toBe(events + 1);
    expect(dialogs).toEqual([]);
    await page.close();
  }, 60_000);

  it('skipped: the opt-out stands without an answer; an empty answer records nothing; a bad code is 400; the email form offers no survey', async () => {
    const f = await brandedFixture(backend);
    const { token } = await f.link('stop', 'ann@example.com');
    const r = await fetch(`${f.url}/stop`, { method: 'POST', body: form({ t: token, v: '2', b: '1' }) });
    expect(r.status).toBe(200);
    const html = await r.text();
    expect(html).toContain('name="code" value="too-many"');
    expect((await f.profile('ann@example.com')).optOut.all).toBe(true);
    const optOut = (await f.history('ann@example.com'))[0]!;
    expect(optOut).toMatchObject({ action: 'optout', channel: 'all', actor: 'subject' });
    expect(optOut.evidence).toMatchObject({ brandVersion: 1, version: 2 });
    const fields = Object.fromEntries([...html.matchAll(/<input type="hidden" name="(r|e)" value="([^"]+)">/g)].map((m) => [m[1]!, m[2]!]));
    const events = await f.eventCount();
    const empty = await fetch(`${f.url}/stop/reason`, { method: 'POST', body: form({ ...fields, text: '   ' }) });
    expect(await empty.text()).toContain('Thank you for telling us.');
    expect((await fetch(`${f.url}/stop/reason`, { method: 'POST', body: form({ ...fields, code: 'spam' }) })).status).toBe(400);
    expect((await fetch(`${f.url}/stop/reason`, { method: 'POST', body: form({ ...fields, code: 'other', text: 'x'.repeat(501) }) })).status).toBe(400);
    expect((await fetch(`${f.url}/stop/reason`)).status).toBe(405);
    expect(await f.eventCount()).toBe(events);
    // An address in the free text never reaches the ledger (kept forever, out of an erasure's reach): the answer is kept, the address redacted.
    const withAddress = await fetch(`${f.url}/stop/reason`, {
      method: 'POST',
      body: form({ ...fields, code: 'other', text: 'Write to ann.other@example.org or call +33 6 12 34 56 78, not here' }),
    });
    expect(withAddress.status).toBe(200);
    const answer = (await f.history('ann@example.com'))[0]!;
    expect(answer).toMatchObject({ action: 'reason', channel: 'all' });
    expect(answer.evidence).toMatchObject({ reasonCode: 'other', text: 'Write to [address removed] or call [address removed], not here' });

    // An address typed into the static page: confirmed, but no survey and no personal link (nothing ties them to who typed it).
    const typed = await (await fetch(`${f.url}/stop`, { method: 'POST', body: form({ email: 'bob@example.com', v: '2', b: '1' }) })).text();
    expect(typed).toContain('You will not hear from us again');
    expect(typed).not.toContain('name="code"');
    expect(typed).not.toContain('?t=');
    expect((await f.history('bob@example.com'))[0]!.evidence).toMatchObject({ brandVersion: 1, via: 'email-form' });
  }, 60_000);
});
