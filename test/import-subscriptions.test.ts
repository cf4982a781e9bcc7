import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { rawSql } from './helpers/raw-store.js';
import { describe, expect, it } from 'vitest';
import { runCli, runJson, tempDb, tempDir, BACKENDS, tempStore } from './helpers/run-cli.js';

describe.each(BACKENDS)('on %s', (backend) => {

const fx = (name: string) => join(process.cwd(), 'fixtures/import', name);

/** a, b, c; news (email, single opt-in) and offers (sms, double opt-in); b subscribed to news, c unsubscribed from it. */
async function setup() {
  const db = (await tempStore(backend));
  for (const e of ['a@x.io', 'b@x.io', 'c@x.io']) await runJson(db, ['profile', 'add', '--email', e, '--json']);
  await runJson(db, ['service', 'create', 'news', '--label', 'News', '--json']);
  await runJson(db, ['service', 'create', 'offers', '--label', 'Offers', '--channel', 'sms', '--double-opt-in', '--json']);
  await runJson(db, ['profile', 'subscribe', 'b@x.io', 'news', '--json']);
  await runJson(db, ['profile', 'subscribe', 'c@x.io', 'news', '--json']);
  await runJson(db, ['profile', 'unsubscribe', 'c@x.io', 'news', '--json']);
  return db;
}

async function subs(db: string, ref: string): Promise<Record<string, string>> {
  const p = await runJson(db, ['profile', 'show', ref, '--json']);
  return Object.fromEntries(p.subscriptions.map((s: { service: string; status: string }) => [s.service, s.status]));
}

async function snapshot(db: string): Promise<string> {
  const all = [];
  for (const q of ['SELECT * FROM profiles ORDER BY id', 'SELECT * FROM ledger_events ORDER BY id', 'SELECT * FROM ledger_blocks ORDER BY id',
    'SELECT * FROM subscriptions ORDER BY profile_id, service_id']) all.push(await rawSql(db, q));
  return JSON.stringify(all);
}

describe('profile import: subscribe_<service> columns', () => {
  it('subscribes (pending for double opt-in), unsubscribes, keeps the unsubscribed without --allow-optin, merges duplicates with 0 winning', async () => {
    const db = await setup();
    const s = await runJson(db, ['profile', 'import', fx('subscriptions.csv'), '--json']);
    expect(s).toMatchObject({
      rows: 6, profiles: 5, new: 2, duplicatesMerged: 1, optOutsSet: 1,
      subscriptionsSet: 2, subscriptionsPending: 2, unsubscribed: 3, subscriptionsNotApplied: 1, events: 8,
    });
    expect(await subs(db, 'a@x.io')).toEqual({ news: 'subscribed', offers: 'pending' });
    expect(await subs(db, 'b@x.io')).toEqual({ news: 'unsubscribed' });
    expect(await subs(db, 'c@x.io')).toEqual({ news: 'unsubscribed' });
    // A 0 for someone never subscribed is recorded: resubscribing them later needs --allow-optin.
    expect(await subs(db, 'new@x.io')).toEqual({ news: 'subscribed', offers: 'unsubscribed' });
    expect(await subs(db, 'dup@x.io')).toEqual({ news: 'unsubscribed', offers: 'pending' });

    const h = await runJson(db, ['profile', 'history', 'a@x.io', '--json']);
    expect(h.map((e: { service: string; action: string; source: string; channel: string }) => [e.service, e.action, e.source, e.channel])).toEqual([
      ['offers', 'request', 'import:subscriptions.csv', 'sms'],
      ['news', 'subscribe', 'import:subscriptions.csv', 'email'],
    ]);
    // All the import's events are one block, verified like any other.
    const blocks = await rawSql(db, "SELECT b.event_count FROM ledger_blocks b JOIN ledger_events e ON e.id = b.first_event_id WHERE e.source = 'import:subscriptions.csv'");
    expect(blocks).toEqual([{ event_count: 8 }]);
    expect((await runCli(['--db', db, 'ledger', 'verify'])).code).toBe(0);

    // Human summary names the refused subscription.
    const again = await runCli(['--db', db, 'profile', 'import', fx('subscriptions.csv')]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/subscriptions not applied: 1 \(use --allow-optin\)/);
    expect(again.stderr).toMatch(/1 subscription\(s\) of unsubscribed profiles not applied; use --allow-optin/);
  });

  it('resubscribes the unsubscribed with --allow-optin', async () => {
    const db = await setup();
    const s = await runJson(db, ['profile', 'import', fx('subscriptions.csv'), '--allow-optin', '--json']);
    expect(s).toMatchObject({ subscriptionsSet: 3, subscriptionsNotApplied: 0 });
    expect(await subs(db, 'c@x.io')).toEqual({ news: 'subscribed' });
  });

  it('--dry-run counts the same changes and writes nothing', async () => {
    const db = await setup();
    const before = await snapshot(db);
    const s = await runJson(db, ['profile', 'import', fx('subscriptions.csv'), '--dry-run', '--json']);
    expect(s).toMatchObject({ dryRun: true, subscriptionsSet: 2, subscriptionsPending: 2, unsubscribed: 3, subscriptionsNotApplied: 1 });
    expect(await snapshot(db)).toBe(before);
    // The events too: those the real run then records.
    const real = await runJson(db, ['profile', 'import', fx('subscriptions.csv'), '--json']);
    expect(real.events).toBeGreaterThan(0);
    expect(s.events).toBe(real.events);
  });

  it('fails with exit 2 naming a column of an unknown service, and writes nothing', async () => {
    const db = await setup();
    const before = await snapshot(db);
    const r = await runCli(['--db', db, 'profile', 'import', fx('unknown-service.csv')]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('column "subscribe_Nope" names no service "nope"');
    expect(await snapshot(db)).toBe(before);
  });

  it('rejects a bad subscription value naming line and column', async () => {
    const db = await setup();
    const dir = tempDir();
    const f = join(dir, 'bad.csv');
    writeFileSync(f, 'email,subscribe_news\na@x.io,1\nb@x.io,maybe\n');
    const before = await snapshot(db);
    const r = await runCli(['--db', db, 'profile', 'import', f]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('line 3, column subscribe_news: "maybe" is not a subscription value');
    expect(await snapshot(db)).toBe(before);
  });

  it('a big file (parsed in the worker thread) into an empty store subscribes every row', async () => {
    const db = (await tempStore(backend));
    await runJson(db, ['service', 'create', 'news', '--label', 'News', '--json']);
    const dir = tempDir();
    const f = join(dir, 'big.csv');
    const n = 90_000;
    let text = 'email,first_name,last_name,optout_email,subscribe_news\n';
    for (let i = 0; i < n; i++) text += `person${(i * 7919) % n}@example.com,First${i},Last${i},${i % 10 === 0 ? 1 : 0},${i % 3 === 0 ? 0 : 1}\n`;
    writeFileSync(f, text);
    const s = await runJson(db, ['profile', 'import', f, '--json']);
    expect(s).toMatchObject({ new: n, optOutsSet: n / 10, subscriptionsSet: n - n / 3, unsubscribed: n / 3, events: n / 10 + n });
    const list = await runJson(db, ['service', 'show', 'news', '--json']);
    expect(list.subscribers).toBe(n - n / 3);
    expect((await runCli(['--db', db, 'ledger', 'verify'])).code).toBe(0);
  });
});
});
