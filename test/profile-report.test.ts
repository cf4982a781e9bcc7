/**
 * What a person can ask for (GDPR art. 15, #15), on both stores: `profile
 * report` as JSON (Kantara Consent Receipt fields where they fit; exact on a
 * known fixture) and as an HTML page (valid, self-contained, strict CSP, in
 * English and French, hostile text escaped), an erased person's report, and
 * the ledger digest it names.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { form, serverFixture, type Fixture } from './helpers/landing-server.js';
import { htmlProblems } from './helpers/html.js';
import { rawSql } from './helpers/raw-store.js';
import { BACKENDS, FIXED_NOW, runCli, runJson } from './helpers/run-cli.js';

const UA = 'Mozilla/5.0 (report test)';
const NOW = FIXED_NOW.toISOString();
const PAGE_TIME = '2026-06-01T10:00:00.000Z';
const HOSTILE = '<script>alert(1)</script>';

/**
 * serverFixture (ann opted out of sms by an operator; pages prefs and stop),
 * plus: a brand, a service ann subscribes to, a suppression of her email, and
 * her sign-up on the static `prefs` page (email ticked; sms and postal not).
 */
async function fixture(backend: (typeof BACKENDS)[number]): Promise<Fixture> {
  const f = await serverFixture({ backend });
  await f.cli('brand', 'set', '--name', 'Acme & Co', '--privacy-url', 'https://acme.example/privacy', '--contact', 'dpo@acme.example');
  await f.cli('service', 'create', 'news', '--label', 'The News', '--description', 'Our weekly letter');
  await f.cli('profile', 'subscribe', 'ann@example.com', 'news', '--reason', 'asked at the desk');
  await f.cli('suppression', 'add', 'ann@example.com', '--reason', 'manual', '--note', 'paper form');
  await f.cli('policy', 'set', 'email', 'opt-in', '--reason', 'CNIL: prior consent');
  await f.cli('policy', 'set', 'fax', 'opt-in', '--reason', 'CNIL: prior consent');
  await f.cli('profile', 'optin', 'ann@example.com', '--channel', 'email', '--reason', 'signed paper form');
  const r = await fetch(`${f.url}/prefs`, { method: 'POST', body: form({ email: 'ann@example.com', v: '1', 'channel-email': 'on' }), headers: { 'user-agent': UA }, redirect: 'manual' });
  expect(r.status).toBe(200);
  return f;
}

const lastChange = (eventId: number, action: string, occurredAt: string, source: string, actor: string, reason: string | null) => ({ eventId, action, occurredAt, source, actor, reason });
type Change = ReturnType<typeof lastChange>;
const channel = (c: string, label: string, optedOut: boolean, reachable: boolean | null, basis: string | null, consent: string | null, decidedBy: Change | null = null, last: Change | null = decidedBy) =>
  ({ channel: c, label, optedOut, reachable, basis, consent, decidedBy, lastChange: last });

describe.each(BACKENDS)('profile report on %s', (backend) => {
  it('JSON: the Kantara fields where they fit, every channel and service with its last change, every event with its evidence, the page version seen, suppressions, the ledger digest', async () => {
    const f = await fixture(backend);
    const report = await runJson(f.db, ['profile', 'report', 'ann@example.com']);
    const [head] = await rawSql(f.db, 'SELECT id, hash, created_at FROM ledger_blocks ORDER BY id DESC LIMIT 1');
    const pageEvidence = { page: 'prefs', version: 1, brandVersion: 1, via: 'email-form', submittedAt: PAGE_TIME, userAgent: UA, client: expect.stringMatching(/^[0-9a-f]{32}$/) };
    expect(report).toEqual({
      version: 'consent-person-report/1',
      jurisdiction: null,
      consentTimestamp: PAGE_TIME,
      collectionMethod: 'landing:prefs@v1',
      consentReceiptID: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/),
      language: 'en',
      piiPrincipalId: 'ann@example.com',
      piiControllers: [{ piiController: 'Acme & Co', contact: 'dpo@acme.example', address: null, privacyUrl: 'https://acme.example/privacy' }],
      policyUrl: 'https://acme.example/privacy',
      generatedAt: NOW,
      profile: { id: 1, email: 'ann@example.com', phone: null, firstName: 'Ann', lastName: null, createdAt: NOW, updatedAt: PAGE_TIME, erased: false, erasedAt: null },
      channels: [
        channel('all', 'Any channel', false, null, null, null),
        // Opt-in, granted, but her address is suppressed: unreachable (THE reachability rule).
        channel('email', 'Email', false, false, 'opt-in', 'granted', lastChange(6, 'optin', NOW, 'operator', 'op', 'signed paper form')),
        channel('sms', 'SMS', true, false, 'opt-out', 'refused', lastChange(1, 'optout', NOW, 'operator', 'op', 'setup')),
        channel('phone', 'Phone', false, true, 'opt-out', 'unknown'),
        channel('postal', 'Direct mail', true, false, 'opt-out', 'refused', lastChange(7, 'optout', PAGE_TIME, 'landing:prefs@v1', 'email-form', null)),
        // Opt-in and never granted: unreachable.
        channel('fax', 'Fax', false, false, 'opt-in', 'unknown'),
        channel('push', 'Push notification', false, true, 'opt-out', 'unknown'),
      ],
      services: [
        {
          service: 'The News', name: 'news', channel: 'email', status: 'subscribed', since: NOW,
          lastChange: lastChange(2, 'subscribe', NOW, 'operator', 'op', 'asked at the desk'),
          purposes: [{ purpose: 'Our weekly letter', consentType: 'expressed', piiCategory: ['email address'], primaryPurpose: true, termination: 'until unsubscribed or opted out of its channel', thirdPartyDisclosure: false }],
        },
      ],
      events: [
        { id: 1, occurredAt: NOW, channel: 'sms', service: null, action: 'optout', source: 'operator', actor: 'op', reason: 'setup', evidence: null },
        { id: 2, occurredAt: NOW, channel: 'email', service: 'news', action: 'subscribe', source: 'operator', actor: 'op', reason: 'asked at the desk', evidence: null },
        { id: 6, occurredAt: NOW, channel: 'email', service: null, action: 'optin', source: 'operator', actor: 'op', reason: 'signed paper form', evidence: null },
        { id: 7, occurredAt: PAGE_TIME, channel: 'postal', service: null, action: 'optout', source: 'landing:prefs@v1', actor: 'email-form', reason: null, evidence: pageEvidence },
      ],
      pagesSeen: [
        {
          slug: 'prefs', version: 1, publishedAt: NOW, eventIds: [7],
          definition: { slug: 'prefs', type: 'acquisition', title: 'Prefs', intro: null, lang: 'en', channels: ['email', 'sms', 'postal'], wording: 'consent', confirmation: null, services: [], askReason: false },
        },
      ],
      suppressions: [{ channel: 'email', address: 'ann@example.com', reason: 'manual', origin: 'operator', since: NOW, expiresAt: null, note: 'paper form' }],
      sensitive: false,
      spiCat: [],
      ledgerDigest: { format: 'consent-ledger-digest/1', database: expect.any(String), blockId: Number(head.id), hash: head.hash, events: 7, lastCommitTime: head.created_at, at: NOW },
    });
    // The digest in the report is a digest like any other: `ledger verify --digest` accepts it.
    const out = join(f.dir, 'report.json');
    const w = await runCli(['--db', f.db, 'profile', 'report', '1', '--out', out]);
    expect(w.code, w.stderr).toBe(0);
    expect(w.stdout).toBe('');
    const digestFile = join(f.dir, 'digest.json');
    (await import('node:fs')).writeFileSync(digestFile, JSON.stringify(JSON.parse(readFileSync(out, 'utf8')).ledgerDigest));
    expect((await runCli(['--db', f.db, 'ledger', 'verify', '--digest', digestFile])).code).toBe(0);
    // An unknown person: exit 3, nothing on stdout.
    const none = await runCli(['--db', f.db, 'profile', 'report', 'nobody@example.com']);
    expect([none.code, none.stdout]).toEqual([3, '']);
  });

  it('HTML: valid, self-contained under a strict CSP, in English and French, hostile text escaped', async () => {
    const f = await fixture(backend);
    await f.cli('profile', 'add', '--email', 'eve@example.com', '--first-name', HOSTILE, '--last-name', '"><img src=x onerror=alert(2)>');
    await f.cli('profile', 'optout', 'eve@example.com', '--channel', 'fax', '--reason', '</td><script>alert(3)</script>');
    for (const lang of ['en', 'fr'] as const) {
      for (const ref of ['ann@example.com', 'eve@example.com']) {
        const out = join(f.dir, `${ref}.${lang}.html`);
        const r = await runCli(['--db', f.db, 'profile', 'report', ref, '--format', 'html', '--lang', lang, '--out', out]);
        expect(r.code, r.stderr).toBe(0);
        const page = readFileSync(out, 'utf8');
        expect(await htmlProblems(page), `${ref} ${lang}`).toEqual([]);
        expect(page).toContain(`<html lang="${lang}">`);
        expect(page.replaceAll('&#39;', "'")).toMatch(/<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'sha256-[A-Za-z0-9+/=]+'; img-src 'none'; form-action 'none'; base-uri 'none'">/);
        // Nothing external, nothing that runs: no script element, no src, no link, no url().
        expect(page).not.toMatch(/<(script|img|link|iframe|object|embed)|\s(src|href)="|url\(/i);
        expect(page).toContain(lang === 'fr' ? 'Les données que nous détenons sur vous' : 'The data we hold about you');
        expect(page).toContain(lang === 'fr' ? 'Ne plus contacter' : 'No longer contact');
        expect(page).toContain('Acme &amp; Co');
        if (ref === 'ann@example.com') expect(page).toContain(lang === 'fr' ? '<td>seulement avec votre accord (opt-in)</td><td>donné</td>' : '<td>only with your consent (opt-in)</td><td>given</td>');
      }
    }
    const eve = readFileSync(join(f.dir, 'eve@example.com.en.html'), 'utf8');
    expect(eve).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(eve).toContain('&quot;&gt;&lt;img src=x onerror=alert(2)&gt;');
    expect(eve).toContain('&lt;/td&gt;&lt;script&gt;alert(3)&lt;/script&gt;');
    const ann = readFileSync(join(f.dir, 'ann@example.com.fr.html'), 'utf8');
    expect(ann).toContain('Pages que vous avez utilisées');
    expect(ann).toContain(UA); // the user agent kept beside the event, while it is kept
    // To stdout without --out; --json with --format html contradict.
    const stdout = await runCli(['--db', f.db, 'profile', 'report', '1', '--format', 'html']);
    expect(stdout.stdout.startsWith('<!DOCTYPE html>')).toBe(true);
    expect((await runCli(['--db', f.db, 'profile', 'report', '1', '--format', 'html', '--json'])).code).toBe(2);
  });

  it('is in the language of the last page the person used unless --lang says otherwise; English when they used none', async () => {
    const f = await fixture(backend);
    await f.cli('landing', 'create', 'prefs-fr', '--type', 'acquisition', '--title', 'Préférences', '--channels', 'email,sms', '--lang', 'fr');
    await f.cli('landing', 'publish', 'prefs-fr', '--out-dir', join(f.dir, 'public'));
    const r = await fetch(`${f.url}/prefs-fr`, { method: 'POST', body: form({ email: 'bob@example.com', v: '1', 'channel-email': 'on' }), redirect: 'manual' });
    expect(r.status).toBe(200);
    await f.cli('profile', 'add', '--email', 'cy@example.com');
    const langOf = async (...argv: string[]) => {
      const out = await runCli(['--db', f.db, 'profile', 'report', ...argv]);
      expect(out.code, out.stderr).toBe(0);
      return argv.includes('html') ? /<html lang="([a-z]+)">/.exec(out.stdout)![1] : JSON.parse(out.stdout).language;
    };
    expect(await langOf('bob@example.com', '--format', 'html')).toBe('fr');
    expect(await langOf('bob@example.com', '--json')).toBe('fr');
    expect(await langOf('bob@example.com', '--format', 'html', '--lang', 'en')).toBe('en');
    expect(await langOf('ann@example.com', '--format', 'html')).toBe('en'); // her page, prefs, is in English
    expect(await langOf('cy@example.com', '--format', 'html')).toBe('en'); // no page used
    expect(await langOf('cy@example.com', '--format', 'html', '--lang', 'fr')).toBe('fr');
  });

  it('an erased person: the report says so and shows only what remains (no address, no name, no user agent)', async () => {
    const f = await fixture(backend);
    await f.cli('profile', 'erase', 'ann@example.com', '--reason', 'ticket-9', '--yes');
    const report = await runJson(f.db, ['profile', 'report', '1']);
    expect(report.profile).toEqual({ id: 1, email: null, phone: null, firstName: null, lastName: null, createdAt: NOW, updatedAt: NOW, erased: true, erasedAt: NOW });
    expect(report.piiPrincipalId).toBeNull();
    expect(report.suppressions).toEqual([]);
    expect(report.channels.filter((c: { reachable: boolean | null }) => c.reachable !== null).every((c: { reachable: boolean }) => c.reachable === false)).toBe(true);
    expect(report.events.map((e: { id: number; action: string }) => `${e.id} ${e.action}`)).toEqual(['1 optout', '2 subscribe', '6 optin', '7 optout', expect.stringMatching(/^\d+ erase$/)]);
    expect(report.events[3].evidence).toMatchObject({ page: 'prefs', userAgentDigest: expect.stringMatching(/^[0-9a-f]{64}$/) });
    const text = JSON.stringify(report);
    expect(text).not.toContain('ann@example.com');
    expect(text).not.toContain('"Ann"');
    expect(text).not.toContain(UA);
    const page = (await runCli(['--db', f.db, 'profile', 'report', '1', '--format', 'html', '--lang', 'fr'])).stdout;
    expect(await htmlProblems(page)).toEqual([]);
    expect(page).toContain('Vos données personnelles ont été effacées le');
    expect(page).not.toContain('ann@example.com');
  });
});
