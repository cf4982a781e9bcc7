/**
 * Issue 16, "Overview": `consent stats` exact counts and `consent report`
 * (csv series, html validated) on both stores, on a fixture built through the
 * public surface: an import, operator opt-outs and an opt-in, a suppression,
 * services (one pending), a one-click POST to the real server, an SMS STOP, a
 * mailbox provider's complaint, an erasure, and an unsubscribe-survey answer
 * (a `reason` event, shared decision 3: none is written by main yet, so it is
 * seeded with SQL). The reachable counts must equal `profile list --reachable`.
 * The html report in Debian's chromium: test/stats-report-browser.test.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONTACT_CHANNELS } from '../src/consent/channels.js';
import { htmlProblems } from './helpers/html.js';
import { BACKENDS, runCli, tempDir, tempStore } from './helpers/run-cli.js';
import { NOW, seedReason, statsFixture } from './helpers/stats-fixture.js';

describe.each(BACKENDS)('consent stats and report on %s', (backend) => {
  it('stats --json gives exact counts; reachable equals profile list --reachable; the report csv and html carry the same series', { timeout: 120_000 }, async () => {
    const { f, at, json } = await statsFixture(backend);
    const stats = await json('stats', '--json');
    expect(stats).toEqual({
      at: NOW.toISOString(),
      profiles: 6,
      erased: 1,
      optedOutAll: 2, // c2 (import), c4 (one-click)
      channels: {
        email: { reachable: 1, optedOut: 4, suppressed: 2, erased: 1 }, // ann; bob c1 c2 c4 out; bob (complaint) and c3 (hard-bounce) suppressed
        sms: { reachable: 3, optedOut: 3, suppressed: 0, erased: 1 }, // ann bob c1; c2 c3 c4 out
        phone: { reachable: 4, optedOut: 2, suppressed: 0, erased: 1 },
        postal: { reachable: 3, optedOut: 3, suppressed: null, erased: 1 }, // bob out
        fax: { reachable: 4, optedOut: 2, suppressed: null, erased: 1 },
        push: { reachable: 4, optedOut: 2, suppressed: null, erased: 1 },
      },
      services: [
        { name: 'digest', channel: 'email', subscribed: 0, pending: 1, receiving: 0 },
        { name: 'news', channel: 'email', subscribed: 2, pending: 0, receiving: 1 },
      ],
      period: {
        since: '2026-05-11T12:00:00.000Z',
        until: NOW.toISOString(),
        optOuts: {
          total: 6,
          bySource: { operator: 1, import: 2, page: 0, 'one-click': 1, sms: 1, feedback: 1, other: 0 },
          byChannel: { all: 2, email: 2, sms: 1, phone: 0, postal: 1, fax: 0, push: 0 },
        },
        optIns: {
          total: 1,
          bySource: { operator: 1, import: 0, page: 0, 'one-click': 0, sms: 0, feedback: 0, other: 0 },
          byChannel: { all: 0, email: 0, sms: 1, phone: 0, postal: 0, fax: 0, push: 0 },
        },
      },
    });
    for (const c of CONTACT_CHANNELS) {
      const listed = await json('profile', 'list', '--reachable', c, '--json');
      expect(listed.length, c).toBe(stats.channels[c].reachable);
    }
    // A shorter period: 5 days before 06-10T12:00 leaves out the import (05-20) and the one-click (06-01).
    const recent = await json('stats', '--since', '5d', '--json');
    expect(recent.period.optOuts.bySource).toEqual({ operator: 1, import: 0, page: 0, 'one-click': 0, sms: 1, feedback: 1, other: 0 });
    const human = await at('stats');
    expect(human.stdout).toMatch(/6 profiles \(1 erased; 2 opted out of every channel\)/);

    await seedReason(f.db, 'c4@x.io', 'too-many', '2026-06-01T10:00:05.000Z');
    const csv = (await at('report', '--format', 'csv', '--since', '30d')).stdout;
    const lines = csv.trim().split('\n');
    expect(lines[0]).toBe('series,period,key,value');
    for (const l of lines.slice(1)) expect(l).toMatch(/^[a-z-]+,\d{4}-\d{2}-\d{2}(\/\d{4}-\d{2}-\d{2})?,[^,]+,\d+$/);
    const row = (series: string, period: string, key: string) => lines.find((l) => l.startsWith(`${series},${period},${key},`))?.split(',')[3];
    // Weeks are named by their Monday: 2026-05-18 (the import), 2026-06-01 (the one-click), 2026-06-08 (the rest, Wednesday 06-10).
    expect(row('optouts-by-source', '2026-05-18', 'import')).toBe('2');
    expect(row('optouts-by-source', '2026-06-01', 'one-click')).toBe('1');
    expect(row('optouts-by-source', '2026-06-08', 'import')).toBe('0');
    expect(row('optouts-by-source', '2026-06-08', 'feedback')).toBe('1');
    expect(row('optouts-by-channel', '2026-05-18', 'all')).toBe('1');
    expect(row('optouts-by-channel', '2026-06-01', 'all')).toBe('1');
    expect(row('optouts-by-channel', '2026-06-08', 'email')).toBe('1');
    expect(row('optins-by-source', '2026-06-08', 'operator')).toBe('1');
    // Replayed from the ledger at each week's end (the period is the end, exclusive): what
    // `profile list --reachable c --as-of <end>` gives. Before 05-18 only ann (sms out since
    // January) and bob existed. The one-click (server clock 06-01) was committed after the
    // operator's blocks of 06-10, so "as of" 06-08 (a prefix of the chain) does not hold it.
    expect(row('reachable-replayed', '2026-05-18', 'email')).toBe('2');
    expect(row('reachable-replayed', '2026-05-18', 'sms')).toBe('1');
    expect(row('reachable-replayed', '2026-06-08', 'email')).toBe('4');
    for (const end of ['2026-05-18', '2026-05-25', '2026-06-01', '2026-06-08', '2026-06-11']) {
      for (const c of CONTACT_CHANNELS) {
        const asOf = await json('profile', 'list', '--reachable', c, '--as-of', end, '--json');
        expect({ end, c, n: row('reachable-replayed', end, c) }).toEqual({ end, c, n: String(asOf.length) });
      }
    }
    expect(row('reachable-now', '2026-06-10', 'email')).toBe('1');
    expect(row('subscriptions', '2026-06-10', 'digest:pending')).toBe('1');
    expect(row('subscriptions', '2026-06-10', 'news:subscribed')).toBe('2');
    expect(row('unsubscribe-reasons', '2026-05-11/2026-06-10', 'too-many')).toBe('1');
    expect(row('optout-delay', '2026-05-11/2026-06-10', 'under-1s')).toBe('6');

    const dir = tempDir();
    const written = await json('report', '--out', join(dir, 'report.html'), '--lang', 'fr', '--json');
    expect(written).toMatchObject({ out: join(dir, 'report.html'), format: 'html', since: '2026-03-12T12:00:00.000Z', until: NOW.toISOString() });
    const page = readFileSync(join(dir, 'report.html'), 'utf8');
    expect(page).toContain('<html lang="fr">');
    expect(await htmlProblems(page)).toEqual([]);
    // The survey's free text is data, never markup: `<` is escaped inside the JSON script element.
    expect(page).not.toContain('</script><script>alert(1)');
    expect(page.match(/<script\b/g)).toHaveLength(3); // data, the library, the drawing
    // Nothing to fetch: no src or href outside the inline scripts, and a CSP that allows no network.
    expect(page.replace(/<script\b[\s\S]*?<\/script>/g, '')).not.toMatch(/\b(src|href)=/);
    const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]*)">/.exec(page)![1]!.replaceAll('&#39;', "'");
    expect(csp).toMatch(/^default-src 'none'; script-src 'sha256-[^']+' 'sha256-[^']+'; style-src 'sha256-[^']+'; img-src 'none';/);
    expect(csp).not.toContain('unsafe');
  });

  it('refuses a bad --since and an html report without --out (exit 2, nothing written)', async () => {
    const db = await tempStore(backend);
    expect((await runCli(['--db', db, 'profile', 'add', '--email', 'a@x.io'])).code).toBe(0);
    const f = { db };
    const bad = await runCli(['--db', f.db, 'stats', '--since', 'last month'], { now: NOW });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/Invalid --since "last month"/);
    const noOut = await runCli(['--db', f.db, 'report'], { now: NOW });
    expect(noOut.code).toBe(2);
    expect(noOut.stderr).toMatch(/give --out/);
    expect(noOut.stdout).toBe('');
  });
});
