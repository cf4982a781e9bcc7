/**
 * The audit of a served page in chromium (issue 16): no CSP violation, no
 * console error, html-validate on the bytes as served, axe-core with no
 * violation at all; with `brand`, the organisation's name, logo and privacy
 * link are shown and no operator jargon is.
 */
import axe from 'axe-core';
import { join } from 'node:path';
import type { Page, Response } from 'playwright-core';
import { expect } from 'vitest';
import { htmlProblems } from './html.js';
import { serverFixture, type Fixture } from './landing-server.js';
import type { Backend } from './run-cli.js';

export const LOGO = join(process.cwd(), 'fixtures/brand/logo.svg');

/** The brand of the branded pages' tests. */
export async function setBrand(f: Fixture): Promise<void> {
  await f.cli('brand', 'set', '--name', 'Acme & Co', '--logo', LOGO, '--color', '#0b5394', '--privacy-url', 'https://acme.example/privacy', '--contact', 'privacy@acme.example', '--address', '1 Rue de la Paix, Paris');
}

/** The fixture's pages, branded: `stop` asks for a reason; French twins of both; a service with a long label. */
export async function brandedFixture(backend: Backend = 'sqlite'): Promise<Fixture> {
  const f = await serverFixture({ backend });
  await setBrand(f);
  await f.cli('service', 'create', 'digest', '--label', 'The monthly digest of our longest, most detailed articles and reports', '--description', 'Once a month, never more');
  await f.cli('landing', 'edit', 'stop', '--ask-reason');
  await f.cli('landing', 'create', 'prefs-fr', '--type', 'acquisition', '--title', 'Vos choix', '--channels', 'email,sms,push', '--services', 'digest', '--lang', 'fr', '--wording', 'optout');
  await f.cli('landing', 'create', 'stop-fr', '--type', 'blocklist', '--title', 'Arrêt', '--lang', 'fr', '--ask-reason');
  for (const slug of ['prefs', 'stop', 'prefs-fr', 'stop-fr']) await f.cli('landing', 'publish', slug, '--out-dir', join(f.dir, 'public'));
  f.clock.now = new Date(f.clock.now.getTime() + 5_000); // past the server's page cache
  return f;
}

export async function axeViolations(page: Page): Promise<string[]> {
  // Injected through the debugging protocol, not a <script>: the page's CSP stays as it is.
  await page.evaluate(axe.source);
  // (an expression, not a function: this project's TypeScript has no DOM types)
  const result = (await page.evaluate('axe.run(document)')) as axe.AxeResults;
  return result.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`);
}

/**
 * Opens a URL (or runs `go`), then audits the page it lands on. `status`: an
 * error page's own status, whose "failed to load" console line is expected;
 * `until`: the load state to wait for (`none`: `go` waits itself; a page whose
 * own navigation was held fires neither); `served`: the document's bytes when
 * the caller took them (a route), the browser's being gone once it navigated.
 */
export async function audit(page: Page, name: string, go: () => Promise<unknown>, options: { brand?: boolean; status?: number; until?: 'load' | 'domcontentloaded' | 'none'; served?: () => string } = { brand: true }): Promise<void> {
  const problems: string[] = [];
  const expected = options.status ?? (name.includes('(404)') ? 404 : undefined);
  const onConsole = (m: { type(): string; text(): string }) => {
    if ((m.type() === 'error' && !(expected !== undefined && m.text().includes(`status of ${expected}`))) || /Content Security Policy/i.test(m.text())) problems.push(m.text());
  };
  // The document as served (page.content() would give the DOM re-serialised, not our bytes).
  let served: Promise<string> | null = null;
  const onResponse = (r: Response) => {
    if (r.request().isNavigationRequest() && r.frame() === page.mainFrame()) {
      served = r.text();
      served.catch(() => {}); // read later; a body navigated away from fails the check below instead
    }
  };
  page.on('console', onConsole);
  page.on('response', onResponse);
  await go();
  if (options.until !== 'none') await page.waitForLoadState(options.until ?? 'load');
  page.off('response', onResponse);
  if (options.brand !== false) {
    expect(await page.locator('.org-name').textContent(), name).toBe('Acme & Co');
    expect(await page.locator('.org img').evaluate((img) => (img as unknown as { complete: boolean; naturalWidth: number }).naturalWidth > 0), `${name}: the logo is drawn`).toBe(true);
    expect(await page.locator('footer a').getAttribute('href'), name).toBe('https://acme.example/privacy');
  } else {
    expect(await page.locator('.org-name').count(), `${name}: no brand`).toBe(0);
  }
  expect(await page.locator('body').innerText(), `${name}: no operator jargon`).not.toMatch(/blocklist|liste de blocage/i);
  const bytes = options.served ? options.served() : (expect(served, `${name}: a document was served`).not.toBeNull(), await served!);
  expect(await htmlProblems(bytes), name).toEqual([]);
  expect(await axeViolations(page), name).toEqual([]);
  page.off('console', onConsole);
  expect(problems, name).toEqual([]);
}
