import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { noOptOuts } from '../src/consent/channels.js';
import { planSubscription } from '../src/consent/services.js';
import { parsePageDefinition, type PageDefinition } from '../src/landing/page.js';
import { renderPage, serviceTicked, type ServiceBox } from '../src/landing/render.js';
import {
  renderConfirmed,
  renderConfirmPrompt,
  renderServiceUnsubscribed,
  subscriptionsWithoutToken,
  subscriptionsWithToken,
} from '../src/landing/services.js';
import { htmlProblems } from './helpers/html.js';
import { runCli, runJson, tempDir } from './helpers/run-cli.js';

const HOSTILE = `<script>alert(1)</script>"' onmouseover="x" </label></textarea><!-- &amp;`;

const SERVICES: ServiceBox[] = [
  { name: 'news', label: 'Weekly news', description: 'Every Friday, one mail' },
  { name: 'offers', label: 'Offers', description: null },
];

function page(over: Partial<PageDefinition> = {}): PageDefinition {
  return parsePageDefinition({ slug: 'club', type: 'acquisition', title: 'Club', channels: ['email', 'sms'], services: ['news', 'offers'], ...over });
}

const boxes = (doc: string) => [...doc.matchAll(/<input type="checkbox"[^>]*>/g)].map((m) => m[0]);

describe('pages with services are valid HTML, in both languages', () => {
  const variants: [string, string][] = [];
  for (const lang of ['en', 'fr'] as const) {
    for (const wording of ['consent', 'optout'] as const) {
      const p = page({ lang, wording });
      variants.push([`${lang} ${wording} generic`, renderPage(p, { action: '/club', version: 1, services: SERVICES })]);
      variants.push([
        `${lang} ${wording} personal`,
        renderPage(p, { action: '/club', version: 1, services: SERVICES, personal: { token: 'tok', optOut: noOptOuts(), firstName: 'Zoé', subscriptions: { news: 'pending' } } }),
      ]);
    }
    variants.push([`${lang} services only`, renderPage(page({ lang, channels: [] }), { action: '/club', services: SERVICES })]);
    variants.push([
      `${lang} hostile labels`,
      renderPage(page({ lang, services: ['news'] }), { action: '/club', services: [{ name: 'news', label: HOSTILE, description: HOSTILE }] }),
    ]);
    variants.push([`${lang} confirm prompt`, renderConfirmPrompt(lang, SERVICES[0]!, 'tok', 'https://pages.example.com')]);
    variants.push([`${lang} confirm prompt, hostile`, renderConfirmPrompt(lang, { name: 'news', label: HOSTILE, description: HOSTILE }, 'tok', '')]);
    variants.push([`${lang} confirmed`, renderConfirmed(lang, SERVICES[1]!)]);
    variants.push([`${lang} unsubscribed`, renderServiceUnsubscribed(lang, { name: 'x', label: HOSTILE, description: null })]);
  }
  it.each(variants)('%s', async (_name, doc) => {
    expect(await htmlProblems(doc)).toEqual([]);
    expect(doc).not.toContain('<script>alert');
    expect(doc).not.toContain(' onmouseover="x"');
  });
});

describe('service boxes', () => {
  it('one box per service with data-service and no data-channel, label and description, in page order', () => {
    const doc = renderPage(page(), { action: '/club', services: [...SERVICES].reverse() });
    const b = boxes(doc);
    expect(b.map((x) => /data-(channel|service)="([a-z]+)"/.exec(x)!.slice(1).join(':'))).toEqual(['channel:email', 'channel:sms', 'service:news', 'service:offers']);
    for (const x of b.filter((x) => x.includes('data-service'))) expect(x).not.toContain('data-channel');
    expect(doc).toContain('<input type="checkbox" name="service-news" value="on" data-service="news">Weekly news<span class="desc">Every Friday, one mail</span></label>');
    expect(doc).toContain('<legend>Send me</legend>');
    expect(renderPage(page({ lang: 'fr' }), { action: '/club', services: SERVICES })).toContain('<legend>Envoyez-moi</legend>');
  });

  it('ticked when subscribed or pending, not when unsubscribed or never subscribed', () => {
    expect((['subscribed', 'pending', 'unsubscribed', null, undefined] as const).map((s) => serviceTicked(s))).toEqual([true, true, false, false, false]);
    const doc = renderPage(page({ services: ['news', 'offers'] }), {
      action: '/club',
      services: SERVICES,
      personal: { token: 't', optOut: noOptOuts(), subscriptions: { news: 'pending', offers: 'unsubscribed' } },
    });
    expect(boxes(doc).filter((x) => x.includes('data-service')).map((x) => x.endsWith(' checked>'))).toEqual([true, false]);
  });

  it('escapes hostile labels and descriptions', () => {
    const doc = renderPage(page({ services: ['news'] }), { action: '/club', services: [{ name: 'news', label: HOSTILE, description: HOSTILE }] });
    expect(doc).toContain('&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39; onmouseover=&quot;x&quot; &lt;/label&gt;');
    // email field, two channels, one service: the hostile </label> did not close anything.
    expect(doc.match(/<label>/g)).toHaveLength(4);
    expect(doc.match(/<\/label>/g)).toHaveLength(4);
  });

  it('a service the caller did not resolve is an error, never a silent gap', () => {
    expect(() => renderPage(page(), { action: '/club', services: [SERVICES[0]!] })).toThrow(/offers/);
  });
});

describe('the page model and the form rules', () => {
  it('services: default none, names checked, no duplicates, none on a blocklist page; a services-only acquisition page; the slug "confirm" is reserved', () => {
    expect(parsePageDefinition({ slug: 'a', type: 'blocklist', title: 'A' }).services).toEqual([]);
    expect(() => page({ services: ['news', 'news'] })).toThrow(/services: a service is listed twice/);
    expect(() => page({ services: ['../x'] })).toThrow(/field services\.0/);
    expect(() => parsePageDefinition({ slug: 'a', type: 'blocklist', title: 'A', services: ['news'] })).toThrow(/field services: a blocklist page/);
    expect(page({ channels: [] }).channels).toEqual([]);
    expect(() => page({ channels: [], services: [] })).toThrow(/at least one channel/);
    expect(() => page({ slug: 'confirm' })).toThrow(/field slug: this slug is reserved/);
  });

  it('with a token: ticked → request, unticked → unsubscribe; without: only the ticked, as unverified requests', () => {
    const p = page();
    const form = { 'service-news': 'on', 'service-ghost': 'on' };
    expect(subscriptionsWithToken(p, form)).toEqual([
      { service: 'news', intent: 'request' },
      { service: 'offers', intent: 'unsubscribe' },
    ]);
    expect(subscriptionsWithoutToken(p, form)).toEqual([{ service: 'news', intent: 'request-unverified' }]);
  });

  it('an unverified request never confirms and never re-subscribes someone who left a single-opt-in service', () => {
    const single = { doubleOptIn: false };
    const double = { doubleOptIn: true };
    expect(planSubscription(single, null, 'request-unverified')).toEqual({ action: 'subscribe', next: 'subscribed' });
    expect(planSubscription(single, 'unsubscribed', 'request-unverified')).toBeNull();
    expect(planSubscription(double, null, 'request-unverified')).toEqual({ action: 'request', next: 'pending' });
    expect(planSubscription(double, 'unsubscribed', 'request-unverified')).toEqual({ action: 'request', next: 'pending' });
    expect(planSubscription(double, 'pending', 'request-unverified')).toBeNull();
  });
});

describe('landing create / edit / publish with --services', () => {
  async function setup() {
    const dir = tempDir();
    const db = join(dir, 'c.db');
    await runJson(db, ['service', 'create', 'news', '--label', 'Weekly news', '--double-opt-in', '--json']);
    await runJson(db, ['profile', 'add', '--email', 'ann@example.com', '--json']);
    return { dir, db };
  }

  it('create takes --services (and the --from JSON), edit changes them; publish refuses unknown services with exit 2 naming them, freezing nothing', async () => {
    const { dir, db } = await setup();
    const created = await runJson(db, ['landing', 'create', 'club', '--type', 'acquisition', '--title', 'Club', '--channels', 'email', '--services', 'news, ghost,phantom', '--json']);
    expect(created.draft.services).toEqual(['news', 'ghost', 'phantom']);
    const out = join(dir, 'public');
    const r = await runCli(['--db', db, 'landing', 'publish', 'club', '--out-dir', out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown service\(s\): ghost, phantom/);
    expect(r.stdout).toBe('');
    expect(existsSync(join(out, 'club'))).toBe(false);
    expect((await runJson(db, ['landing', 'list', '--json']))[0].version).toBeNull();
    expect((await runCli(['--db', db, 'landing', 'render', 'club'])).code).toBe(2);

    const edited = await runJson(db, ['landing', 'edit', 'club', '--services', 'news', '--json']);
    expect(edited.draft).toMatchObject({ channels: ['email'], services: ['news'] });
    expect((await runCli(['--db', db, 'landing', 'publish', 'club', '--out-dir', out])).code).toBe(0);
    expect((await runJson(db, ['landing', 'show', 'club', '--json'])).published.services).toEqual(['news']);

    const fromJson = await runJson(db, ['landing', 'create', 'solo', '--from', '-', '--json'], {
      stdin: JSON.stringify({ type: 'acquisition', title: 'Solo', services: ['news'] }),
    });
    expect(fromJson.draft).toMatchObject({ channels: [], services: ['news'] });
    const onlyServices = await runJson(db, ['landing', 'create', 'solo2', '--type', 'acquisition', '--title', 'S', '--services', 'news', '--json']);
    expect(onlyServices.draft.channels).toEqual([]);
    const bl = await runCli(['--db', db, 'landing', 'create', 'stop', '--type', 'blocklist', '--title', 'S', '--services', 'news']);
    expect(bl.code).toBe(2);
    expect(bl.stderr).toMatch(/services/);
    const reserved = await runCli(['--db', db, 'landing', 'create', 'confirm', '--type', 'blocklist', '--title', 'S']);
    expect(reserved.code).toBe(2);
    expect(reserved.stderr).toMatch(/reserved/);
  });

  it('render --profile ticks the boxes from the subscriptions; service confirmations lists the pending ones as CSV', async () => {
    const { db } = await setup();
    await runJson(db, ['landing', 'create', 'club', '--type', 'acquisition', '--title', 'Club', '--channels', 'email', '--services', 'news', '--json']);
    const before = await runCli(['--db', db, 'landing', 'render', 'club', '--profile', 'ann@example.com']);
    expect(before.stdout).toContain('data-service="news">');
    expect((await runCli(['--db', db, 'service', 'confirmations', 'news'])).stdout).toBe('id,email,service,confirmUrl\n');
    await runCli(['--db', db, 'profile', 'subscribe', 'ann@example.com', 'news']);
    const after = await runCli(['--db', db, 'landing', 'render', 'club', '--profile', 'ann@example.com']);
    expect(after.stdout).toContain('data-service="news" checked>');
    const csv = await runCli(['--db', db, 'service', 'confirmations', 'news', '--base-url', 'https://p.example.com']);
    expect(csv.code).toBe(0);
    expect(csv.stdout).toMatch(/^id,email,service,confirmUrl\n1,ann@example\.com,news,https:\/\/p\.example\.com\/confirm\/news\?t=[A-Za-z0-9_-]{66}\n$/);
    expect(csv.stderr).toMatch(/1 confirmation link\(s\) for pending subscriptions to news/);
    const missing = await runCli(['--db', db, 'service', 'confirmations', 'nope']);
    expect(missing.code).toBe(3);
    expect(missing.stdout).toBe('');
  });
});
