/**
 * Consent basis per channel (issue 15), on both stores, through the command
 * line and the landing server: `policy show|set` with its dry run (exact
 * counts), the three states of `profile show`, grants by an operator, by an
 * import (`consent_<channel>`, --allow-optin and --proof), by a page, and
 * `ledger verify` after policy events and with a tampered grant column.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { form, serverFixture } from './helpers/landing-server.js';
import { rawSql } from './helpers/raw-store.js';
import { BACKENDS, runCli, runJson, tempDb, tempDir, tempStore } from './helpers/run-cli.js';
import { openDatabase } from '../src/store/sqlite/open.js';

type C = 'email' | 'sms' | 'phone' | 'postal' | 'fax' | 'push';
interface View {
  id: number;
  email: string;
  reachable: Record<C, boolean>;
  granted: Record<C, boolean>;
  consent: Record<C, { state: string; basis: string; eventId: number | null; action: string | null; source: string | null; reason: string | null }>;
}

async function ok(db: string, argv: string[]) {
  const r = await runCli(['--db', db, ...argv]);
  expect(r.code, `${argv.join(' ')}: ${r.stderr}`).toBe(0);
  return r;
}
const emails = async (db: string, argv: string[]) => (await runJson<{ email: string }[]>(db, ['profile', 'list', ...argv, '--json'])).map((p) => p.email);
const events = async (db: string) => (await runJson<{ events: number }>(db, ['ledger', 'verify', '--json'])).events;

/**
 * a1, a2: nothing (unknown under opt-in); b: opted out then back in on email
 * (granted); c: opted out of email (refused); d: opted out of all (refused by
 * all); e: email suppressed (no flag, no grant).
 */
async function storeWithPeople(db: string) {
  for (const p of ['a1', 'a2', 'b', 'c', 'd', 'e']) await ok(db, ['profile', 'add', '--email', `${p}@x.io`]);
  await ok(db, ['profile', 'optout', 'b@x.io', '--channel', 'email']);
  await ok(db, ['profile', 'optin', 'b@x.io', '--channel', 'email', '--reason', 'asked again by phone']);
  await ok(db, ['profile', 'optout', 'c@x.io', '--channel', 'email']);
  await ok(db, ['blocklist-all', 'd@x.io']);
  await ok(db, ['suppression', 'add', 'e@x.io', '--reason', 'hard-bounce']);
}

describe.each(BACKENDS)('consent basis on %s', (backend) => {
  it('policy set refuses an unknown channel, `all` and an unknown basis (exit 2, naming the choices); nothing is written', async () => {
    const db = await tempStore(backend);
    await ok(db, ['profile', 'add', '--email', 'ann@example.com']);
    for (const [argv, named] of [
      [['fax', 'maybe'], 'opt-out, opt-in'],
      [['all', 'opt-in'], 'email, sms, phone, postal, fax, push'],
      [['mail', 'opt-in'], 'email, sms, phone, postal, fax, push'],
    ] as const) {
      const r = await runCli(['--db', db, 'policy', 'set', ...argv, '--reason', 'test']);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(named);
    }
    const [{ n }] = await rawSql(db, "SELECT count(*) AS n FROM ledger_events WHERE action = 'policy'");
    expect(Number(n)).toBe(0);
  });

  it('policy set: the dry run counts exactly who would become unreachable and writes nothing; the set records one policy event', async () => {
    const db = await tempStore(backend);
    await storeWithPeople(db);
    expect(await emails(db, ['--reachable', 'email'])).toEqual(['a1@x.io', 'a2@x.io', 'b@x.io']);
    const before = await events(db);

    const dry = await ok(db, ['policy', 'set', 'email', 'opt-in', '--dry-run', '--json']);
    expect(JSON.parse(dry.stdout)).toEqual({ channel: 'email', from: 'opt-out', to: 'opt-in', becomeUnreachable: 2, becomeReachable: 0, eventId: null, changed: false, dryRun: true });
    const dryText = await ok(db, ['policy', 'set', 'email', 'opt-in', '--dry-run']);
    expect(dryText.stdout).toContain('2 profile(s) without a grant on email would become unreachable there');
    expect(await events(db)).toBe(before);
    expect((await runJson(db, ['policy', 'show', '--json'])).channels[0]).toEqual({ channel: 'email', basis: 'opt-out', since: null, eventId: null, reason: null, actor: null });

    const noReason = await runCli(['--db', db, 'policy', 'set', 'email', 'opt-in']);
    expect(noReason.code).toBe(2);
    expect(noReason.stderr).toContain('needs --reason');
    expect(await events(db)).toBe(before);

    const set = JSON.parse((await ok(db, ['policy', 'set', 'email', 'opt-in', '--reason', 'CNIL: prior consent', '--json'])).stdout);
    expect(set).toMatchObject({ channel: 'email', from: 'opt-out', to: 'opt-in', becomeUnreachable: 2, changed: true, eventId: before + 1 });
    expect(await events(db)).toBe(before + 1);
    const shown = await runJson(db, ['policy', 'show', '--json']);
    expect(shown.channels.map((c: { channel: string; basis: string }) => `${c.channel}:${c.basis}`)).toEqual([
      'email:opt-in', 'sms:opt-out', 'phone:opt-out', 'postal:opt-out', 'fax:opt-out', 'push:opt-out',
    ]);
    expect(shown.channels[0]).toMatchObject({ eventId: before + 1, reason: 'CNIL: prior consent' });
    // The store-level event is in the ledger as decided: no profile, evidence the basis.
    const [row] = await rawSql(db, "SELECT profile_id, address_key, service, channel, evidence, reason FROM ledger_events WHERE action = 'policy'");
    expect(row).toEqual({ profile_id: null, address_key: null, service: null, channel: 'email', evidence: '{"basis":"opt-in"}', reason: 'CNIL: prior consent' });

    // Only the granted remain reachable on email; every other channel is as before.
    expect(await emails(db, ['--reachable', 'email'])).toEqual(['b@x.io']);
    expect(await emails(db, ['--unreachable', 'email'])).toEqual(['a1@x.io', 'a2@x.io', 'c@x.io', 'd@x.io', 'e@x.io']);
    expect(await emails(db, ['--reachable', 'sms'])).toEqual(['a1@x.io', 'a2@x.io', 'b@x.io', 'c@x.io', 'e@x.io']);
    const exported = (await ok(db, ['profile', 'export', '--reachable', 'email'])).stdout.trim().split('\n').slice(1).map((l) => l.split(',')[0]);
    expect(exported).toEqual(['b@x.io']);

    // The basis already in force: a no-op, exit 0, nothing written.
    const again = await ok(db, ['policy', 'set', 'email', 'opt-in', '--reason', 'twice']);
    expect(again.stderr).toContain('Nothing changed: email is already opt-in');
    expect(await events(db)).toBe(before + 1);

    // Back to opt-out: the same two become reachable again.
    const back = JSON.parse((await ok(db, ['policy', 'set', 'email', 'opt-out', '--dry-run', '--json'])).stdout);
    expect(back).toMatchObject({ from: 'opt-in', to: 'opt-out', becomeUnreachable: 0, becomeReachable: 2, changed: false });
    await ok(db, ['policy', 'set', 'email', 'opt-out', '--reason', 'B2B list only']);
    expect(await emails(db, ['--reachable', 'email'])).toEqual(['a1@x.io', 'a2@x.io', 'b@x.io']);
    expect((await runJson(db, ['ledger', 'verify', '--json'])).ok).toBe(true);
  });

  it('profile show: granted, refused or unknown per channel under opt-in, with the deciding event; an operator opt-in is a grant and needs --reason', async () => {
    const db = await tempStore(backend);
    await storeWithPeople(db);
    await ok(db, ['policy', 'set', 'email', 'opt-in', '--reason', 'CNIL']);
    const show = (ref: string) => runJson<View>(db, ['profile', 'show', ref, '--json']);
    const history = (ref: string) => runJson<{ id: number; channel: string; action: string }[]>(db, ['profile', 'history', ref, '--json']);

    const b = await show('b@x.io');
    expect(b.consent.email).toMatchObject({ state: 'granted', basis: 'opt-in', action: 'optin', source: 'operator', reason: 'asked again by phone' });
    expect(b.consent.email.eventId).toBe((await history('b@x.io'))[0]!.id);
    expect(b.reachable.email).toBe(true);
    const c = await show('c@x.io');
    expect(c.consent.email).toMatchObject({ state: 'refused', action: 'optout', eventId: (await history('c@x.io'))[0]!.id });
    const d = await show('d@x.io');
    expect(d.consent.email).toMatchObject({ state: 'refused', action: 'optout' });
    expect((await history('d@x.io'))[0]).toMatchObject({ id: d.consent.email.eventId, channel: 'all' });
    const a1 = await show('a1@x.io');
    expect(a1.consent.email).toEqual({ state: 'unknown', basis: 'opt-in', eventId: null, action: null, source: null, actor: null, reason: null, occurredAt: null });
    expect(a1.reachable).toEqual({ email: false, sms: true, phone: true, postal: true, fax: true, push: true });
    expect(a1.consent.sms).toMatchObject({ state: 'unknown', basis: 'opt-out' });
    const text = (await ok(db, ['profile', 'show', 'a1@x.io'])).stdout;
    expect(text).toContain('Consent on email (opt-in): unknown, no grant recorded');
    expect((await ok(db, ['profile', 'show', 'b@x.io'])).stdout).toMatch(/Consent on email \(opt-in\): granted, event \d+: optin by /);

    // The operator's opt-in of an opt-in channel is a grant: refused without its proof, recorded with it.
    const before = await events(db);
    const bare = await runCli(['--db', db, 'profile', 'optin', 'a1@x.io', '--channel', 'email']);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain('email is opt-in');
    expect(bare.stderr).toContain('--reason');
    expect(await events(db)).toBe(before);
    const granted = await runCli(['--db', db, 'profile', 'optin', 'a1@x.io', '--channel', 'email', '--reason', 'signed form #12', '--json']);
    expect(granted.code).toBe(0);
    expect(JSON.parse(granted.stdout).changes).toEqual([{ channel: 'email', action: 'optin' }]);
    expect((await show('a1@x.io')).consent.email).toMatchObject({ state: 'granted', reason: 'signed form #12' });
    expect(await emails(db, ['--reachable', 'email'])).toEqual(['a1@x.io', 'b@x.io']);
    // A second grant records nothing; under opt-out (sms) an opt-in that changes no flag records nothing, as always.
    expect((await ok(db, ['profile', 'optin', 'a1@x.io', '--channel', 'email', '--reason', 'again'])).stderr).toContain('Nothing changed');
    expect((await ok(db, ['profile', 'optin', 'a1@x.io', '--channel', 'sms'])).stderr).toContain('Nothing changed');
    expect(await events(db)).toBe(before + 1);
    // An opt-out of all refuses without taking the grant back; clearing all makes it reachable again.
    await ok(db, ['blocklist-all', 'a1@x.io']);
    expect((await show('a1@x.io')).consent.email.state).toBe('refused');
    expect((await show('a1@x.io')).granted.email).toBe(true);
    await ok(db, ['profile', 'optin', 'a1@x.io', '--all']);
    expect((await show('a1@x.io')).consent.email.state).toBe('granted');
  });

  it('ledger verify accepts policy events and finds a grant column changed behind its back', async () => {
    const db = await tempStore(backend);
    await storeWithPeople(db);
    await ok(db, ['policy', 'set', 'email', 'opt-in', '--reason', 'CNIL']);
    await ok(db, ['policy', 'set', 'sms', 'opt-in', '--reason', 'CNIL']);
    await ok(db, ['profile', 'optin', 'a1@x.io', '--channel', 'email,sms', '--reason', 'form']);
    await ok(db, ['policy', 'set', 'sms', 'opt-out', '--reason', 'undo']);
    const v = await runJson(db, ['ledger', 'verify', '--json']);
    expect(v.ok).toBe(true);
    await rawSql(db, "UPDATE profiles SET granted_email = 1 WHERE email = 'a2@x.io'");
    const r = await runCli(['--db', db, 'ledger', 'verify', '--json']);
    expect(r.code).toBe(6);
    const out = JSON.parse(r.stderr).error.details;
    expect(out.disagreement).toMatchObject({ kind: 'grant', channel: 'email', stored: 'granted', ledger: 'none', eventId: null });
    expect(out.problem).toMatch(/^profile \d+: granted_email is 1 but the ledger has no optin or optout on email$/);
    // A grant taken away behind its back is found too (the ledger's optin says granted).
    await rawSql(db, "UPDATE profiles SET granted_email = 0 WHERE email = 'a2@x.io'");
    expect((await runCli(['--db', db, 'ledger', 'verify'])).code).toBe(0);
    await rawSql(db, "UPDATE profiles SET granted_sms = 0 WHERE email = 'a1@x.io'");
    const r2 = await runCli(['--db', db, 'ledger', 'verify', '--json']);
    expect(r2.code).toBe(6);
    expect(JSON.parse(r2.stderr).error.details.disagreement).toMatchObject({ kind: 'grant', channel: 'sms', stored: 'none', ledger: 'granted' });
  });

  it('an import grants with consent_<channel>=1 only with --allow-optin and --proof, kept as evidence; 0 refuses', async () => {
    const db = await tempStore(backend);
    const dir = tempDir();
    await storeWithPeople(db);
    await ok(db, ['policy', 'set', 'email', 'opt-in', '--reason', 'CNIL']);
    const file = join(dir, 'crm.csv');
    writeFileSync(file, 'email,consent_email,consent_sms\nnew@x.io,1,0\na2@x.io,1,\nc@x.io,1,\na1@x.io,0,\n');
    const before = await events(db);

    for (const [flags, missing] of [
      [[], /consent_email, consent_sms grant consent \(a 1\), which needs --allow-optin and --proof/],
      [['--allow-optin'], /which needs --proof "<statement>"; nothing was written/],
    ] as const) {
      const r = await runCli(['--db', db, 'profile', 'import', file, ...flags]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(missing);
      expect(await events(db)).toBe(before);
      expect((await runCli(['--db', db, 'profile', 'show', 'new@x.io'])).code).toBe(3);
    }
    const proof = 'web form v3 (checkbox unticked by default), collected 2026-10';
    const summary = await runJson(db, ['profile', 'import', file, '--allow-optin', '--proof', proof, '--json']);
    expect(summary).toMatchObject({ new: 1, grantsAsked: 3, grantEvents: 2, optInsApplied: 1 });
    // new (created, granted), a2 (flag clear: a grant-only optin), c (its opt-out cleared: the optin is the grant); a1 refused.
    expect(await emails(db, ['--reachable', 'email'])).toEqual(['a2@x.io', 'b@x.io', 'c@x.io', 'new@x.io']);
    const shown = await runJson<View>(db, ['profile', 'show', 'new@x.io', '--json']);
    expect(shown.consent.email).toMatchObject({ state: 'granted', source: 'import:crm.csv' });
    expect(shown.consent.sms.state).toBe('refused');
    expect((await runJson<View>(db, ['profile', 'show', 'a1@x.io', '--json'])).consent.email.state).toBe('refused');
    const hist = await runJson<{ channel: string; action: string; evidence: unknown }[]>(db, ['profile', 'history', 'a2@x.io', '--json']);
    expect(hist[0]).toMatchObject({ channel: 'email', action: 'optin', evidence: { proof } });
    expect((await runJson(db, ['ledger', 'verify', '--json'])).ok).toBe(true);
    // Only refusals need no flag.
    writeFileSync(file, 'email,consent_email\nb@x.io,0\n');
    await ok(db, ['profile', 'import', file]);
    expect(await emails(db, ['--reachable', 'email'])).toEqual(['a2@x.io', 'c@x.io', 'new@x.io']);
  });

  it('a sign-up that ticked one box grants only that channel (real server, static and personal pages)', async () => {
    const f = await serverFixture({ backend });
    for (const c of ['email', 'sms', 'phone']) await f.cli('policy', 'set', c, 'opt-in', '--reason', 'CNIL');
    // The static page (prefs: email, sms, postal; consent wording): the person ticks Email only.
    const r = await fetch(`${f.url}/prefs`, { method: 'POST', body: form({ email: 'new@example.com', 'channel-email': 'on', v: '1' }) });
    expect(r.status).toBe(200);
    const p = await runJson<View>(f.db, ['profile', 'show', 'new@example.com', '--json']);
    expect(p.reachable).toEqual({ email: true, sms: false, phone: false, postal: false, fax: true, push: true });
    expect(p.consent.email).toMatchObject({ state: 'granted', action: 'optin', source: 'landing:prefs@v1' });
    expect(p.consent.phone.state).toBe('unknown');
    expect(p.consent.sms.state).toBe('refused');
    const grant = (await f.history('new@example.com')).find((e) => e.channel === 'email')!;
    expect(grant).toMatchObject({ action: 'optin', actor: 'email-form' });
    expect(grant.evidence).toMatchObject({ page: 'prefs', version: 1 });
    expect(await emails(f.db, ['--reachable', 'email'])).toEqual(['new@example.com']);
    expect(await emails(f.db, ['--reachable', 'phone'])).toEqual([]);

    // Bob's own page shows the opt-in channels he has not granted unticked; his tick grants email.
    const bob = await f.link('prefs', 'bob@example.com');
    const page = await (await fetch(`${f.url}${bob.url}`)).text();
    expect(page).toMatch(/data-channel="email">/);
    expect(page).toMatch(/data-channel="postal" checked>/);
    const newLink = await f.link('prefs', 'new@example.com');
    expect(await (await fetch(`${f.url}${newLink.url}`)).text()).toMatch(/data-channel="email" checked>/);
    const post = await fetch(`${f.url}/prefs`, { method: 'POST', body: form({ t: bob.token, v: '1', 'channel-email': 'on', 'channel-postal': 'on' }) });
    expect(post.status).toBe(200);
    const b = await runJson<View>(f.db, ['profile', 'show', 'bob@example.com', '--json']);
    expect(b.consent.email).toMatchObject({ state: 'granted', source: 'landing:prefs@v1' });
    expect(b.reachable.email).toBe(true);
    expect(b.reachable.sms).toBe(false);
    expect(await emails(f.db, ['--reachable', 'email'])).toEqual(['bob@example.com', 'new@example.com']);
    expect((await runJson(f.db, ['ledger', 'verify', '--json'])).ok).toBe(true);
  });
});

describe('migration 9 on a store with history', () => {
  it('fills the grants from the ledger: granted iff the last optin/optout on the channel itself is an optin', () => {
    const path = tempDb();
    const old = openDatabase(path, { targetVersion: 8 });
    const at = '2026-01-01T00:00:00.000Z';
    for (const e of ['regranted@x.io', 'refused@x.io', 'all-only@x.io']) old.prepare('INSERT INTO profiles (email, created_at, updated_at) VALUES (?, ?, ?)').run(e, at, at);
    const ev = old.prepare('INSERT INTO ledger_events (profile_id, channel, service, action, source, actor, occurred_at) VALUES (?, ?, ?, ?, ?, ?, ?)');
    ev.run(1, 'email', null, 'optout', 'seed', 'seed', at);
    ev.run(1, 'email', null, 'optin', 'seed', 'seed', at);
    ev.run(1, 'sms', 'texts', 'subscribe', 'seed', 'seed', at); // a subscription event is no grant
    ev.run(2, 'email', null, 'optin', 'seed', 'seed', at);
    ev.run(2, 'email', null, 'optout', 'seed', 'seed', at);
    ev.run(3, 'all', null, 'optin', 'seed', 'seed', at); // `all` grants no channel
    old.close();
    const db = openDatabase(path);
    expect(db.prepare('SELECT email, granted_email, granted_sms FROM profiles ORDER BY id').all()).toEqual([
      { email: 'regranted@x.io', granted_email: 1, granted_sms: 0 },
      { email: 'refused@x.io', granted_email: 0, granted_sms: 0 },
      { email: 'all-only@x.io', granted_email: 0, granted_sms: 0 },
    ]);
    db.close();
  });
});
