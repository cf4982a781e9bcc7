import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, runJson, tempDb, tempDir, BACKENDS, tempStore } from './helpers/run-cli.js';

describe.each(BACKENDS)('on %s', (backend) => {

async function services(db: string) {
  await runJson(db, ['service', 'create', 'news', '--label', 'News', '--json']);
  await runJson(db, ['service', 'create', 'offers', '--label', 'Offers', '--channel', 'sms', '--double-opt-in', '--json']);
}

/**
 * a: news subscribed; b: offers pending; c: news unsubscribed; d: news
 * subscribed but opted out of email; e: offers subscribed (confirmed); f: none.
 */
async function seed() {
  const db = (await tempStore(backend));
  await services(db);
  for (const e of ['a@x.io', 'b@x.io', 'c@x.io', 'd@x.io', 'e@x.io', 'f@x.io']) await runJson(db, ['profile', 'add', '--email', e, '--json']);
  await runJson(db, ['profile', 'subscribe', 'a@x.io', 'news', '--json']);
  await runJson(db, ['profile', 'subscribe', 'b@x.io', 'offers', '--json']);
  await runJson(db, ['profile', 'subscribe', 'c@x.io', 'news', '--json']);
  await runJson(db, ['profile', 'unsubscribe', 'c@x.io', 'news', '--json']);
  await runJson(db, ['profile', 'subscribe', 'd@x.io', 'news', '--json']);
  await runCli(['--db', db, 'profile', 'optout', 'd@x.io', '--channel', 'email']);
  await runJson(db, ['profile', 'subscribe', 'e@x.io', 'offers', '--confirmed', '--reason', 'signed form', '--json']);
  return db;
}

async function statuses(db: string) {
  const out: Record<string, Record<string, string>> = {};
  for (const p of await runJson(db, ['profile', 'list', '--json'])) {
    const s = await runJson(db, ['profile', 'show', p.email, '--json']);
    out[p.email] = Object.fromEntries(s.subscriptions.map((x: { service: string; status: string }) => [x.service, x.status]));
  }
  return out;
}

describe('profile export: subscriptions', () => {
  it('writes one subscribe_<service> column per service: 1 subscribed or pending, 0 unsubscribed, empty for none', async () => {
    const db = await seed();
    const r = await runCli(['--db', db, 'profile', 'export']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe('email,phone,first_name,last_name,optout_all,optout_email,optout_sms,optout_phone,optout_postal,optout_fax,optout_push,subscribe_news,subscribe_offers');
    expect(lines.slice(1)).toEqual([
      'a@x.io,,,,0,0,0,0,0,0,0,1,',
      'b@x.io,,,,0,0,0,0,0,0,0,,1',
      'c@x.io,,,,0,0,0,0,0,0,0,0,',
      'd@x.io,,,,0,1,0,0,0,0,0,1,',
      'e@x.io,,,,0,0,0,0,0,0,0,,1',
      'f@x.io,,,,0,0,0,0,0,0,0,,',
    ]);
  });

  it('--subscribed <service> exports only who may receive it (subscribed and reachable on its channel)', async () => {
    const db = await seed();
    const news = await runCli(['--db', db, 'profile', 'export', '--subscribed', 'news']);
    expect(news.stdout.trim().split('\n').slice(1).map((l) => l.split(',')[0])).toEqual(['a@x.io']);
    const offers = await runCli(['--db', db, 'profile', 'export', '--subscribed', 'offers', '--format', 'jsonl']);
    expect(offers.stdout.trim().split('\n').map((l) => JSON.parse(l).email)).toEqual(['e@x.io']);
    const none = await runCli(['--db', db, 'profile', 'export', '--subscribed', 'nope']);
    expect(none.code).toBe(3);
    expect(none.stdout).toBe('');
    expect(none.stderr).toContain('No service nope');
    // --out is not even created when the filter is refused.
    const out = join(tempDir(), 'audience.csv');
    expect((await runCli(['--db', db, 'profile', 'export', '--subscribed', 'nope', '--out', out])).code).toBe(3);
    expect(existsSync(out)).toBe(false);
  });

  it('JSON lines carry the exact statuses and times', async () => {
    const db = await seed();
    const r = await runCli(['--db', db, 'profile', 'export', '--format', 'jsonl']);
    const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(rows.find((p) => p.email === 'b@x.io').subscriptions).toEqual([{ service: 'offers', status: 'pending', since: '2026-01-02T03:04:05.000Z' }]);
    expect(rows.find((p) => p.email === 'f@x.io').subscriptions).toEqual([]);
  });

  it('round-trips into an empty store with the same services; only a confirmed double opt-in comes back pending', async () => {
    const db = await seed();
    const out = join(tempDir(), 'all.csv');
    expect((await runCli(['--db', db, 'profile', 'export', '--out', out])).code).toBe(0);
    const copy = (await tempStore(backend));
    await services(copy);
    const s = await runJson(copy, ['profile', 'import', out, '--json']);
    expect(s).toMatchObject({ new: 6, subscriptionsSet: 2, subscriptionsPending: 2, unsubscribed: 1, subscriptionsNotApplied: 0 });
    const before = await statuses(db);
    const after = await statuses(copy);
    expect(after).toEqual({ ...before, 'e@x.io': { offers: 'pending' } });
    expect(before['e@x.io']).toEqual({ offers: 'subscribed' });
    // And the copy exports the same file, but for e's confirmation.
    const again = (await runCli(['--db', copy, 'profile', 'export'])).stdout;
    expect(again).toBe(readFileSync(out, 'utf8'));
  });
});
});
