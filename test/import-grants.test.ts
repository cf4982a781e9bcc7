/**
 * The grants of an import's consent_<channel>=1 cells (issue 15), on both
 * stores through the command line: written in the import's own transaction
 * and ledger block (one block per import), with the import's source and
 * --proof as evidence; the dry run counts them as the real run writes them;
 * a re-import of the same file records nothing; a first load into an empty
 * store grants too, and the replay (--as-of) sees the grants. (The kill -9 case is in test/helpers/import-kill.ts.)
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { rawSql } from './helpers/raw-store.js';
import { BACKENDS, FIXED_NOW, runCli, runJson, tempDir, tempStore } from './helpers/run-cli.js';

async function ok(db: string, argv: string[]) {
  const r = await runCli(['--db', db, ...argv]);
  expect(r.code, `${argv.join(' ')}: ${r.stderr}`).toBe(0);
  return r;
}
const blocks = async (db: string) =>
  (await rawSql(db, 'SELECT id, first_event_id, last_event_id FROM ledger_blocks ORDER BY id')).map((b) => ({
    id: Number(b.id),
    first: Number(b.first_event_id),
    last: Number(b.last_event_id),
  }));
const lastEventId = async (db: string) => Number((await rawSql(db, 'SELECT coalesce(max(id), 0) AS n FROM ledger_events'))[0].n);
const granted = async (db: string, email: string) =>
  Number((await rawSql(db, 'SELECT granted_email AS g FROM profiles WHERE email = ?', [email]))[0].g);

const PROOF = 'CRM form v2 (box unticked by default), collected 2026-09';

describe.each(BACKENDS)('import grants on %s', (backend) => {
  it('are written in the import’s one transaction and block; the dry run counts the same; a re-import records nothing', async () => {
    const db = await tempStore(backend);
    // a: nothing; b: opted out of email (the file clears it: its optin is the grant); c: granted already;
    // d: opted out of all (a grant-only event, still refused by all).
    for (const p of ['a', 'b', 'c', 'd']) await ok(db, ['profile', 'add', '--email', `${p}@x.io`]);
    await ok(db, ['profile', 'optout', 'b@x.io', '--channel', 'email']);
    await ok(db, ['profile', 'optout', 'c@x.io', '--channel', 'email']);
    await ok(db, ['profile', 'optin', 'c@x.io', '--channel', 'email', '--reason', 'asked by phone']);
    await ok(db, ['blocklist-all', 'd@x.io']);
    await ok(db, ['policy', 'set', 'email', 'opt-in', '--reason', 'CNIL']);
    const file = join(tempDir(), 'crm.csv');
    // dup and dup2: a 0 in any row of an email wins (refused); sms stays opt-out: its 1 needs no grant-only event.
    writeFileSync(file, 'email,consent_email,consent_sms\nnew@x.io,1,1\na@x.io,1,\nb@x.io,1,\nc@x.io,1,\nd@x.io,1,\ndup@x.io,1,\ndup@x.io,0,\ndup2@x.io,0,\ndup2@x.io,1,\nempty@x.io,,\n');
    const flags = ['--allow-optin', '--proof', PROOF, '--json'];

    const before = await blocks(db);
    const head = await lastEventId(db);
    const dry = await runJson(db, ['profile', 'import', file, '--dry-run', ...flags]);
    expect(await blocks(db)).toEqual(before);
    expect(await lastEventId(db)).toBe(head);

    const real = await runJson(db, ['profile', 'import', file, ...flags]);
    // Grant-only events: new, a and d (email). b's cleared flag is its grant; c holds one; dup, dup2 refused.
    expect(real).toMatchObject({ grantsAsked: 8, grantEvents: 3, optInsApplied: 1, new: 4 });
    // A grant changes the profile, as `profile optin` does: a and d (grant-only) and b (its flag) are updated, c not.
    expect(real).toMatchObject({ updated: 3, unchanged: 1 });
    expect(dry).toMatchObject({ updated: 3, unchanged: 1 });
    expect(real.grantsNotRecorded).toEqual({ sms: 1 }); // new@x.io's consent_sms=1: sms is opt-out

    // Exactly one new block, holding every event of the import, the grants included.
    const after = await blocks(db);
    expect(after).toHaveLength(before.length + 1);
    const block = after[after.length - 1]!;
    expect(block).toMatchObject({ first: head + 1, last: await lastEventId(db) });
    expect(block.last - block.first + 1).toBe(real.events + real.grantEvents);
    const grants = await rawSql(
      db,
      `SELECT p.email, e.channel, e.source, e.evidence FROM ledger_events e JOIN profiles p ON p.id = e.profile_id
       WHERE e.id BETWEEN ? AND ? AND e.action = 'optin' AND e.service IS NULL ORDER BY p.email`,
      [block.first, block.last],
    );
    expect(grants.map((g) => [g.email, g.channel])).toEqual([['a@x.io', 'email'], ['b@x.io', 'email'], ['d@x.io', 'email'], ['new@x.io', 'email']]);
    for (const g of grants) expect(g).toMatchObject({ source: 'import:crm.csv', evidence: JSON.stringify({ proof: PROOF }) });
    for (const p of ['new', 'a', 'b', 'c', 'd']) expect(await granted(db, `${p}@x.io`), p).toBe(1);
    for (const p of ['dup', 'dup2', 'empty']) expect(await granted(db, `${p}@x.io`), p).toBe(0);
    const reachable = (await runJson<{ email: string }[]>(db, ['profile', 'list', '--reachable', 'email', '--json'])).map((p) => p.email);
    expect(reachable).toEqual(['a@x.io', 'b@x.io', 'c@x.io', 'new@x.io']);
    expect((await runJson(db, ['ledger', 'verify', '--json'])).ok).toBe(true);
    expect(dry).toMatchObject({ dryRun: true, grantEvents: real.grantEvents, events: real.events, optInsApplied: 1, optOutsSet: real.optOutsSet });

    // Nothing changed, nothing recorded.
    const again = await runJson(db, ['profile', 'import', file, ...flags]);
    expect(again).toMatchObject({ grantEvents: 0, events: 0 });
    expect(await blocks(db)).toEqual(after);
  });

  it('a first load of an empty store under opt-in grants in its one block; the replay as of its block sees the grants', async () => {
    const db = await tempStore(backend);
    const minute = (i: number) => new Date(FIXED_NOW.getTime() - (10 - i) * 60_000);
    expect((await runCli(['--db', db, 'policy', 'set', 'email', 'opt-in', '--reason', 'CNIL'], { now: minute(1) })).code).toBe(0);
    const file = join(tempDir(), 'first.csv');
    writeFileSync(file, 'email,consent_email\n' + Array.from({ length: 50 }, (_, i) => `p${i}@x.io,${i % 5 === 0 ? 0 : 1}\n`).join(''));
    const before = await blocks(db);
    const dry = await runJson(db, ['profile', 'import', file, '--dry-run', '--allow-optin', '--proof', PROOF, '--json']);
    const real = await runJson(db, ['profile', 'import', file, '--allow-optin', '--proof', PROOF, '--json']);
    expect(real).toMatchObject({ new: 50, grantsAsked: 40, grantEvents: 40, optOutsSet: 10, events: 10 });
    expect(dry).toMatchObject({ grantEvents: 40, events: 10 });
    const after = await blocks(db);
    expect(after).toHaveLength(before.length + 1);
    expect(after[after.length - 1]!.last - after[after.length - 1]!.first + 1).toBe(50);
    expect((await runJson<unknown[]>(db, ['profile', 'list', '--reachable', 'email', '--json'])).length).toBe(40);
    expect((await runJson(db, ['ledger', 'verify', '--json'])).ok).toBe(true);
    // The import's block (at FIXED_NOW) as seen by the replay: granted from it on, with the grant as deciding event.
    const asOf = (at: string) => runJson(db, ['profile', 'show', 'p1@x.io', '--as-of', at, '--json']);
    expect((await asOf(minute(5).toISOString())).existed).toBe(false);
    const then = await asOf(FIXED_NOW.toISOString());
    expect(then.channels.email).toMatchObject({ state: 'granted', reachable: true });
    const [grant] = await rawSql(db, "SELECT e.id FROM ledger_events e JOIN profiles p ON p.id = e.profile_id WHERE p.email = 'p1@x.io' AND e.action = 'optin'");
    expect(then.channels.email.decidingEvents).toContain(Number(grant.id));
    expect((await runJson<unknown[]>(db, ['profile', 'list', '--reachable', 'email', '--as-of', FIXED_NOW.toISOString(), '--json'])).length).toBe(40);
  });
  it('one grant for an email given twice; a 0 on one channel and a 1 on another; optout_all=0 with a 1; consent_ beside subscribe_; an erased address; a 1 under opt-out said, not silent', async () => {
    const db = await tempStore(backend);
    await ok(db, ['profile', 'add', '--email', 'all0@x.io']);
    await ok(db, ['profile', 'optout', 'all0@x.io', '--all']);
    await ok(db, ['profile', 'add', '--email', 'gone@x.io']);
    await ok(db, ['profile', 'erase', 'gone@x.io', '--yes', '--reason', 'request 1']);
    await ok(db, ['service', 'create', 'news', '--label', 'News']);
    await ok(db, ['policy', 'set', 'email', 'opt-in', '--reason', 'CNIL']);
    await ok(db, ['policy', 'set', 'sms', 'opt-in', '--reason', 'CNIL']); // phone stays opt-out
    const file = join(tempDir(), 'mixed.csv');
    writeFileSync(
      file,
      'email,consent_email,consent_sms,consent_phone,optout_all,subscribe_news\n' +
        'twice@x.io,1,,,,\ntwice@x.io,1,,,,\n' + // one grant, not two
        'mix@x.io,0,1,,,\nmix@x.io,,1,,,\n' + // email refused, sms granted
        'all0@x.io,1,,,0,\n' + // all lifted (its optin), email granted (a grant-only event)
        'sub@x.io,1,,1,,1\n' + // email granted, subscribed; phone under opt-out: its 1 records nothing
        'p2@x.io,,,1,,\n' +
        'gone@x.io,1,,,,\n', // an erased address: a new profile, granted, but suppressed
    );
    const flags = ['--allow-optin', '--proof', PROOF];
    const dry = await runJson(db, ['profile', 'import', file, '--dry-run', ...flags, '--json']);
    const run = await runCli(['--db', db, 'profile', 'import', file, ...flags, '--json']);
    expect(run.code, run.stderr).toBe(0);
    const real = JSON.parse(run.stdout);
    expect(real).toMatchObject({ grantsAsked: 9, grantEvents: 5, optInsApplied: 1, optOutsSet: 1, erasedAddresses: 1, grantsNotRecorded: { phone: 2 } });
    expect(real.subscriptionsSet + real.subscriptionsPending).toBe(1);
    expect(dry).toMatchObject({ grantEvents: real.grantEvents, events: real.events, grantsNotRecorded: { phone: 2 } });
    expect(run.stderr).toContain('2 consent_phone=1 cell(s) recorded no grant: phone\'s basis is opt-out');
    expect(run.stderr).toContain('run `consent policy set phone opt-in` first, then import');
    const state = async (email: string) => {
      const v = await runJson(db, ['profile', 'show', email, '--json']);
      return Object.fromEntries(Object.entries(v.consent as Record<string, object>).map(([c, x]) => [c, { ...x, reachable: v.reachable[c] }]));
    };
    const optins = async (email: string, channel: string) =>
      Number((await rawSql(db, "SELECT count(*) AS n FROM ledger_events e JOIN profiles p ON p.id = e.profile_id WHERE p.email = ? AND e.channel = ? AND e.action = 'optin'", [email, channel]))[0].n);
    expect(await optins('twice@x.io', 'email')).toBe(1);
    expect(await state('twice@x.io')).toMatchObject({ email: { state: 'granted', reachable: true } });
    expect(await state('mix@x.io')).toMatchObject({ email: { state: 'refused', reachable: false }, sms: { state: 'granted' } });
    expect(await state('all0@x.io')).toMatchObject({ email: { state: 'granted', reachable: true } });
    expect(await optins('all0@x.io', 'all')).toBe(1);
    expect(await state('sub@x.io')).toMatchObject({ email: { state: 'granted', reachable: true }, phone: { basis: 'opt-out', state: 'unknown', reachable: true } });
    expect(await optins('sub@x.io', 'phone')).toBe(0);
    expect(await state('gone@x.io')).toMatchObject({ email: { state: 'granted', reachable: false } });
    expect((await runJson(db, ['ledger', 'verify', '--json'])).ok).toBe(true);
    // Without consent_ columns, no such field.
    const plain = join(tempDir(), 'plain.csv');
    writeFileSync(plain, 'email\nplain@x.io\n');
    expect(await runJson(db, ['profile', 'import', plain, '--json'])).not.toHaveProperty('grantsNotRecorded');
  });
});
