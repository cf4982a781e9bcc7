import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openStore } from '../src/store/index.js';
import { canonicalEvent } from '../src/consent/ledger.js';
import { CANONICAL_SQL, verifyState, verifyStateSql } from '../src/store/sqlite/verify.js';
import { form, serverFixture } from './helpers/landing-server.js';
import { rawSql, tamper } from './helpers/raw-store.js';
import { BACKENDS, runCli, runJson, tempDb, tempDir, tempStore } from './helpers/run-cli.js';

describe.each(BACKENDS)('on %s', (backend) => {
/**
 * Profiles 1 (a: email opted out, then sms out and back in), 2 (b: blocklisted),
 * 3 (c: no event at all), 4 (d: pending for news, subscribed to offers),
 * 5 (e: unsubscribed from offers).
 */
async function storeWithState() {
  const db = await tempStore(backend);
  const cli = async (...argv: string[]) => {
    const r = await runCli(['--db', db, ...argv]);
    if (r.code !== 0) throw new Error(`consent ${argv.join(' ')} exited ${r.code}: ${r.stderr}`);
  };
  for (const e of ['a', 'b', 'c', 'd', 'e']) await cli('profile', 'add', '--email', `${e}@x.io`);
  await cli('profile', 'optout', '1', '--channel', 'email,sms');
  await cli('profile', 'optin', '1', '--channel', 'sms');
  await cli('blocklist-all', 'b@x.io');
  await cli('service', 'create', 'news', '--label', 'News', '--double-opt-in');
  await cli('service', 'create', 'offers', '--label', 'Offers');
  await cli('profile', 'subscribe', '4', 'news');
  await cli('profile', 'subscribe', '4', 'offers');
  await cli('profile', 'subscribe', '5', 'offers');
  await cli('profile', 'unsubscribe', '5', 'offers');
  return db;
}

const lastEventOf = async (db: string, profileId: number, channel: string) =>
  Number((await rawSql(db, 'SELECT max(id) AS id FROM ledger_events WHERE profile_id = ? AND channel = ? AND service IS NULL', [profileId, channel]))[0].id);

/**
 * The store's state checks on the store: on SQLite both (the fast one and the
 * set-based reference), on PostgreSQL its one set-based check, twice the same.
 */
async function bothChecks(db: string) {
  if (backend === 'postgres') {
    const store = await openStore(db);
    try {
      const v = await store.verifyLedger();
      const d = !v.ok && 'disagreement' in v ? v.disagreement : null;
      return { fast: d, sql: d };
    } finally {
      await store.close();
    }
  }
  const raw = new Database(db, { readonly: true });
  try {
    return { fast: verifyState(raw), sql: verifyStateSql(raw) };
  } finally {
    raw.close();
  }
}

describe('ledger verify: the state agrees with the ledger', () => {
  it('an untampered store says intact, and both checks find nothing', async () => {
    const db = await storeWithState();
    const r = await runCli(['--db', db, 'ledger', 'verify']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Ledger intact: 8 events in 7 blocks, and every profile's state agrees with it\. Head hash: [0-9a-f]{64}\n$/);
    expect(r.stderr).toBe('');
    expect(await bothChecks(db)).toEqual({ fast: null, sql: null });
  });

  it('a blocklisted person made reachable by a direct UPDATE: exit 6 naming the profile, the flag and the event', async () => {
    const db = await storeWithState();
    await tamper(db, 'UPDATE profiles SET optout_all = 0 WHERE id = 2');
    const event = await lastEventOf(db, 2, 'all');
    const r = await runCli(['--db', db, 'ledger', 'verify']);
    expect(r.code).toBe(6);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`The ledger is intact but does not vouch for the state: profile 2: optout_all is 0 but the ledger says optout (event ${event}).`);
    expect(r.stderr).toMatch(/The chain itself is intact \(7 blocks, 8 events\)/);
    expect(r.stderr).not.toMatch(/at .*\.ts:\d+/); // no stack trace
  });

  it('a flag set without an event, even on a profile with no event at all', async () => {
    let db = await storeWithState();
    await tamper(db, 'UPDATE profiles SET optout_fax = 1 WHERE id = 3');
    let r = await runCli(['--db', db, 'ledger', 'verify']);
    expect(r.code).toBe(6);
    expect(r.stderr).toContain('profile 3: optout_fax is 1 but the ledger has no event for it (so optin)');

    db = await storeWithState();
    await tamper(db, 'UPDATE profiles SET optout_sms = 1 WHERE id = 1'); // opted back in by its last event
    r = await runCli(['--db', db, 'ledger', 'verify']);
    expect(r.code).toBe(6);
    expect(r.stderr).toContain(`profile 1: optout_sms is 1 but the ledger says optin (event ${await lastEventOf(db, 1, 'sms')})`);
  });

  it('a subscription status changed, added or removed behind the tool', async () => {
    let db = await storeWithState();
    await tamper(db, "UPDATE subscriptions SET status = 'subscribed' WHERE profile_id = 4 AND service_id = (SELECT id FROM services WHERE name = 'news')");
    let r = await runCli(['--db', db, 'ledger', 'verify']);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/profile 4: the subscription to news is subscribed but the ledger says pending \(event \d+\)/);

    db = await storeWithState();
    await tamper(db, "UPDATE subscriptions SET status = 'subscribed' WHERE profile_id = 5");
    r = await runCli(['--db', db, 'ledger', 'verify']);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/profile 5: the subscription to offers is subscribed but the ledger says unsubscribed \(event \d+\)/);

    db = await storeWithState();
    await tamper(db, "INSERT INTO subscriptions (profile_id, service_id, status, since) SELECT 3, id, 'subscribed', 'now' FROM services WHERE name = 'offers'");
    r = await runCli(['--db', db, 'ledger', 'verify']);
    expect(r.code).toBe(6);
    expect(r.stderr).toContain('profile 3: the subscription to offers is subscribed but the ledger has no event for it');

    db = await storeWithState();
    await tamper(db, 'DELETE FROM subscriptions WHERE profile_id = 5');
    r = await runCli(['--db', db, 'ledger', 'verify']);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/profile 5: the subscription to offers is absent but the ledger says unsubscribed \(event \d+\)/);
  });

  it('a deleted profile row', async () => {
    const db = await storeWithState();
    await tamper(db, 'DELETE FROM profiles WHERE id = 1');
    const r = await runCli(['--db', db, 'ledger', 'verify']);
    expect(r.code).toBe(6);
    expect(r.stderr).toContain(`profile 1: the profile row is missing but the ledger has events for it (the last is event ${await lastEventOf(db, 1, 'sms')})`);
  });

  it('names the lowest profile id when several disagree, and both checks agree on every case', async () => {
    const cases = [
      'UPDATE profiles SET optout_all = 0 WHERE id = 2; UPDATE profiles SET optout_push = 1 WHERE id = 5; DELETE FROM profiles WHERE id = 4',
      "DELETE FROM profiles WHERE id = 4; UPDATE subscriptions SET status = 'pending' WHERE profile_id = 5",
      'UPDATE profiles SET optout_email = 0 WHERE id = 1',
      "INSERT INTO profiles (id, email, optout_postal, created_at, updated_at) VALUES (77, 'ghost@x.io', 1, 'now', 'now')",
      "INSERT INTO profiles (id, email, created_at, updated_at) VALUES (78, 'quiet@x.io', 'now', 'now')", // no flag, no event: agrees
    ];
    const lowest = [2, 4, 1, 77, null];
    for (const [i, sql] of cases.entries()) {
      const db = await storeWithState();
      await tamper(db, sql);
      const { fast, sql: reference } = await bothChecks(db);
      expect(fast?.profileId ?? null, sql).toBe(lowest[i]);
      expect(fast, sql).toEqual(reference);
      const r = await runCli(['--db', db, 'ledger', 'verify']);
      expect(r.code, sql).toBe(lowest[i] === null ? 0 : 6);
    }
  });

  it('the store result carries the disagreement as data (the shape of --json errors\' details)', async () => {
    const db = await storeWithState();
    await tamper(db, 'UPDATE profiles SET optout_all = 0 WHERE id = 2');
    const store = await openStore(db);
    try {
      const v = await store.verifyLedger();
      expect(v).toEqual({
        ok: false,
        check: 'state',
        blocks: 7,
        events: 8,
        head: expect.stringMatching(/^[0-9a-f]{64}$/),
        problem: `profile 2: optout_all is 0 but the ledger says optout (event ${await lastEventOf(db, 2, 'all')})`,
        disagreement: {
          profileId: 2,
          kind: 'flag',
          channel: 'all',
          service: null,
          stored: 'optin',
          ledger: 'optout',
          eventId: await lastEventOf(db, 2, 'all'),
          detail: `profile 2: optout_all is 0 but the ledger says optout (event ${await lastEventOf(db, 2, 'all')})`,
        },
      });
    } finally {
      await store.close();
    }
  });

  it('a broken chain is reported as before, without a state check', async () => {
    const db = await storeWithState();
    await tamper(db, `UPDATE ledger_events SET action = 'optin' WHERE id = 1;
      UPDATE profiles SET optout_all = 0 WHERE id = 2`);
    const r = await runCli(['--db', db, 'ledger', 'verify']);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/broken at event 1: an event among 1–2 was edited/);
  });
});

describe('ledger verify: progress', () => {
  it('on a terminal, stderr shows the chain, the replay and the profiles, then clears the line; stdout has the result only', async () => {
    const db = await storeWithState();
    const r = await runCli(['--db', db, 'ledger', 'verify'], { tty: true });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Ledger intact: 8 events/);
    expect(r.stderr).toContain('\rVerifying chain… 0 / 8 events');
    expect(r.stderr).toContain('\rReplaying ledger… 8 / 8 events');
    expect(r.stderr).toContain('\rChecking state of profiles… 5 / 5');
    expect(r.stderr.endsWith('\r\x1b[K')).toBe(true);
  });

  it('nothing on a pipe, nothing with --json', async () => {
    const db = await storeWithState();
    expect((await runCli(['--db', db, 'ledger', 'verify'])).stderr).toBe('');
    const j = await runCli(['--db', db, 'ledger', 'verify', '--json'], { tty: true });
    expect(j.code).toBe(0);
    expect(j.stderr).toBe('');
    expect(JSON.parse(j.stdout)).toMatchObject({ ok: true, blocks: 7, events: 8 });
  });
});

describe('backup checks the state too', () => {
  it('a backup of a tampered store exits 6 and leaves no file', async () => {
    const db = await storeWithState();
    await tamper(db, 'UPDATE profiles SET optout_all = 0 WHERE id = 2');
    const dir = tempDir();
    const out = join(dir, 'copy.db');
    const r = await runCli(['--db', db, 'backup', out]);
    expect(r.code).toBe(6);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain("The backup copy's state disagrees with its ledger: profile 2: optout_all is 0 but the ledger says optout");
    expect(r.stderr).toContain('No backup was written.');
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a backup of an untampered store still works', async () => {
    const db = await storeWithState();
    const out = join(tempDir(), 'copy.db');
    const r = await runCli(['--db', db, 'backup', out, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ path: out, profiles: 5, events: 8 });
  });
});

describe('every write path of the tool leaves a state its ledger vouches for', () => {
  it('add, optout/optin, blocklist-all, imports (new, re-import with --allow-optin, subscriptions), subscribe/confirm/unsubscribe, page submissions', async () => {
    const f = await serverFixture({ backend });
    await f.cli('service', 'create', 'news', '--label', 'News', '--double-opt-in');
    await f.cli('service', 'create', 'offers', '--label', 'Offers');
    await f.cli('landing', 'create', 'club', '--type', 'acquisition', '--title', 'Club', '--channels', 'email,sms', '--services', 'news,offers');
    await f.cli('landing', 'publish', 'club', '--out-dir', join(f.dir, 'public'));
    await f.cli('profile', 'optout', 'bob@example.com', '--all');
    await f.cli('profile', 'optin', 'bob@example.com', '--all');
    await f.cli('blocklist-all', 'ann@example.com');
    const csv = join(f.dir, 'people.csv');
    writeFileSync(csv, 'email,optout_email,optout_sms,subscribe_news,subscribe_offers\nann@example.com,1,0,1,0\nnew1@example.com,1,,1,1\nnew2@example.com,0,1,0,\n');
    await f.cli('profile', 'import', csv);
    writeFileSync(csv, 'email,optout_email,optout_sms,subscribe_news,subscribe_offers\nann@example.com,0,0,1,1\nnew1@example.com,0,1,0,1\nnew3@example.com,,1,,1\n');
    await f.cli('profile', 'import', csv, '--allow-optin');
    await f.cli('profile', 'subscribe', 'bob@example.com', 'news', '--confirmed', '--reason', 'paper form');
    await f.cli('profile', 'unsubscribe', 'bob@example.com', 'news');
    await f.cli('profile', 'subscribe', 'new2@example.com', 'offers');
    // The server: a personal page, the static page (a new and a known address), a confirmation, a one-click blocklist.
    const { token } = await f.link('club', 'bob@example.com');
    expect((await fetch(`${f.url}/club`, { method: 'POST', body: form({ t: token, v: '1', 'channel-email': 'on', 'service-news': 'on' }) })).status).toBe(200);
    expect((await fetch(`${f.url}/club`, { method: 'POST', body: form({ email: 'walkin@example.com', v: '1', 'channel-email': 'on', 'service-offers': 'on', 'service-news': 'on' }) })).status).toBe(200);
    expect((await fetch(`${f.url}/club`, { method: 'POST', body: form({ email: 'new2@example.com', v: '1', 'service-news': 'on' }) })).status).toBe(200);
    const confirmations = await runCli(['--db', f.db, 'service', 'confirmations', 'news', '--format', 'jsonl']);
    const pending = confirmations.stdout.trim().split('\n').map((l) => JSON.parse(l) as { confirmUrl: string });
    expect(pending.length).toBeGreaterThan(0);
    const t = new URL(pending[0]!.confirmUrl, 'http://x').searchParams.get('t')!;
    expect((await fetch(`${f.url}/confirm/news`, { method: 'POST', body: form({ t }) })).status).toBe(200);
    const stop = await f.link('stop', 'new3@example.com');
    expect((await fetch(`${f.url}${stop.oneClickUrl}`, { method: 'POST', body: form({ 'List-Unsubscribe': 'One-Click' }) })).status).toBeLessThan(300);

    const v = await runJson(f.db, ['ledger', 'verify', '--json']);
    expect(v).toMatchObject({ ok: true });
    expect(await bothChecks(f.db)).toEqual({ fast: null, sql: null });
    // And the store saw real variety: flags set and cleared, all three statuses.
    const statuses = (await rawSql(f.db, 'SELECT DISTINCT status FROM subscriptions ORDER BY 1')).map((r) => r.status);
    const actions = (await rawSql(f.db, 'SELECT DISTINCT action FROM ledger_events ORDER BY 1')).map((r) => r.action);
    expect(statuses).toEqual(['pending', 'subscribed', 'unsubscribed']);
    expect(actions).toEqual(['confirm', 'optin', 'optout', 'request', 'subscribe', 'unsubscribe']);
  });
});

});

describe('the chain check reads texts built by SQLite: they must be canonicalEvent\'s, byte for byte', () => {
  it('actors, reasons and evidence with quotes, backslashes, control characters and non-ASCII text verify, and an edit of one still fails', async () => {
    const db = tempDb();
    await runCli(['--db', db, 'profile', 'add', '--email', 'a@x.io']);
    const odd = ['quote " and \\ backslash', 'tab\tnew\nline\r\u0001\u001f\u007f', 'é ü 中文 😀 \u2028\u2029', '</script>'];
    for (const [i, reason] of odd.entries()) {
      const r = await runCli(['--db', db, '--actor', reason, i % 2 ? 'profile optin' : 'profile optout', '1', '--channel', 'email', '--reason', reason].flatMap((x) => (x.startsWith('profile ') ? x.split(' ') : [x])));
      expect(r.code, r.stderr).toBe(0);
    }
    // The fast path's text is canonicalEvent's for every row (else verify would only pass by its row-by-row fallback).
    const raw = new Database(db, { readonly: true });
    const rows = raw.prepare(`SELECT *, ${CANONICAL_SQL} AS text FROM ledger_events ORDER BY id`).all() as any[];
    raw.close();
    expect(rows).toHaveLength(4);
    for (const e of rows) {
      expect(e.text).toBe(canonicalEvent({ ...e, profileId: e.profile_id, evidenceJson: e.evidence, occurredAt: e.occurred_at }));
    }
    expect(rows.map((e) => e.reason)).toEqual(odd);
    const store = await openStore(db);
    try {
      expect(await store.verifyLedger()).toMatchObject({ ok: true, events: 4 });
    } finally {
      await store.close();
    }
    await tamper(db, `UPDATE ledger_events SET reason = reason || ' ' WHERE id = 3`);
    const r = await runCli(['--db', db, 'ledger', 'verify']);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/broken at event 3: event 3 was edited/);
  });
});

describe.each(BACKENDS)('on %s', (backend) => {
describe('a big block (an import) is read in pages of SQL-built text', () => {
  it('30,000 opt-outs in one block verify; one of them edited is found, and so is a flag changed among them', async () => {
    const dir = tempDir();
    const db = backend === 'postgres' ? await tempStore(backend) : join(dir, 'consent.db');
    const csv = join(dir, 'big.csv');
    let text = 'email,optout_email,optout_sms\n';
    for (let i = 0; i < 20_000; i++) text += `p${i}@x.io,1,${i % 2}\n`;
    writeFileSync(csv, text);
    const imported = await runJson(db, ['profile', 'import', csv, '--json']);
    expect(imported.events).toBe(30_000);
    const ok = await runJson(db, ['ledger', 'verify', '--json']);
    expect(ok).toMatchObject({ ok: true, blocks: 1, events: 30_000 });

    await tamper(db, 'UPDATE profiles SET optout_sms = 0 WHERE id = 12346');
    let r = await runCli(['--db', db, 'ledger', 'verify']);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/profile 12346: optout_sms is 0 but the ledger says optout \(event \d+\)/);

    await tamper(db, "UPDATE ledger_events SET actor = 'someone else' WHERE id = 25000");
    r = await runCli(['--db', db, 'ledger', 'verify']);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/broken at event 1: an event among 1–30000 was edited after it was recorded \(block 1 no longer matches its hash\)/);
  });
});
});
