/**
 * Changes of phone number in the ledger (issue 15's last gap), on both stores,
 * through the command line: `profile import` records each change of an
 * existing profile's phone as an `address` event (the keys of the old and new
 * number, never a number) in its own block; the as-of replay then matches sms
 * and phone suppressions with the number a profile had at the moment asked:
 * `profile show --as-of`, `profile list --reachable sms|phone --as-of`, an sms
 * manifest written before the change (`audience verify` and `prove`), and the
 * report's reach-over-time points, which equal the `--as-of` counts.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { rawSql } from './helpers/raw-store.js';
import { receiver } from './helpers/webhook-receiver.js';
import { BACKENDS, runCli, runJson, tempDir, tempStore } from './helpers/run-cli.js';

const D1 = new Date('2025-12-29T10:00:00.000Z'); // profiles and suppressions (a Monday)
const D2 = new Date('2025-12-30T10:00:00.000Z'); // the sms manifest
const D3 = new Date('2026-01-07T10:00:00.000Z'); // the import that changes phones (the next week)
const D4 = new Date('2026-01-09T12:00:00.000Z'); // reading
const BEFORE = '2026-01-05'; // a week's end between the manifest and the import (midnight UTC)
const AFTER = '2026-01-08T00:00:00Z';

const P = { a: '+33612345671', a2: '+33612345677', c: '+33612345673', c2: '+33612345679', d: '+33612345676', d2: '+33612345678', b2: '+33612345675', e: '+33612345672', e2: '+33612345674' };

async function ok(db: string, argv: string[], now: Date) {
  const r = await runCli(['--db', db, ...argv], { now });
  expect(r.code, `${argv.join(' ')}: ${r.stderr}`).toBe(0);
  return r;
}

const json = (db: string, argv: string[]) => runJson(db, argv, { now: D4 });
const audience = async (db: string, channel: string, asOf?: string) =>
  (await json(db, ['profile', 'list', '--reachable', channel, ...(asOf ? ['--as-of', asOf] : []), '--json'])).map((p: { id: number }) => p.id);
const addressEvents = (db: string) =>
  rawSql(db, "SELECT CAST(id AS integer) AS id, profile_id, channel, service, address_key, evidence FROM ledger_events WHERE action = 'address' ORDER BY id");

describe.each(BACKENDS)('changes of phone number in the ledger, on %s', (backend) => {
  it('an import records each change of phone (keys only, one block, none on a re-import, counted by a dry run); the replay, the manifest and the report follow the number a profile had then', { timeout: 120_000 }, async () => {
    const db = await tempStore(backend);
    const dir = tempDir();
    await ok(db, ['profile', 'add', '--email', 'a@x.io', '--phone', P.a], D1); // 1: P.a, free; moves to a2, suppressed
    await ok(db, ['profile', 'add', '--email', 'b@x.io'], D1); // 2: no phone; gets one
    await ok(db, ['profile', 'add', '--email', 'c@x.io', '--phone', P.c], D1); // 3: P.c suppressed; moves to c2, free
    await ok(db, ['profile', 'add', '--email', 'd@x.io', '--phone', P.d], D1); // 4: P.d suppressed; moves to d2, free
    // 5: opted out of all, then its phone changes: the replay of its flags must not take the change for its last `all` event.
    await ok(db, ['profile', 'add', '--email', 'e@x.io', '--phone', P.e], D1);
    await ok(db, ['profile', 'optout', 'e@x.io', '--all', '--reason', 'asked'], D1);
    for (const n of [P.c, P.d, P.a2]) await ok(db, ['suppression', 'add', n, '--channel', 'sms', '--reason', 'manual'], D1);
    // On phone: c's old number (suppressed by the number it had then) and d's new one (not by the number it has now).
    for (const n of [P.c, P.d2]) await ok(db, ['suppression', 'add', n, '--channel', 'phone', '--reason', 'manual'], D1);
    const manifest = join(dir, 'sms.json');
    await ok(db, ['profile', 'export', '--reachable', 'sms', '--out', join(dir, 'sms.csv'), '--manifest', manifest], D2);
    expect(JSON.parse(readFileSync(manifest, 'utf8')).count).toBe(2); // a and b

    // A webhook on changes of phone only.
    const rx = await receiver();
    await ok(db, ['webhook', 'add', rx.url, '--events', 'address'], D2);

    const file = join(dir, 'phones.csv');
    writeFileSync(file, `email,phone\na@x.io,${P.a2}\nb@x.io,${P.b2}\nc@x.io,${P.c2}\nd@x.io,${P.d2}\ne@x.io,${P.e2}\n`);
    // A dry run counts the changes and writes none.
    const dry = await runJson(db, ['profile', 'import', file, '--dry-run', '--json'], { now: D3 });
    expect(dry).toMatchObject({ dryRun: true, updated: 5, phoneChanges: 5, events: 0 });
    expect(await addressEvents(db)).toEqual([]);
    const blocksBefore = (await rawSql(db, 'SELECT CAST(count(*) AS integer) AS n FROM ledger_blocks'))[0].n;
    const done = await runJson(db, ['profile', 'import', file, '--json'], { now: D3 });
    expect(done).toMatchObject({ dryRun: false, updated: 5, phoneChanges: 5, events: 0 });
    // One event per change, in one new block, channel all, keys only.
    const events = await addressEvents(db);
    expect(events.map((e) => e.profile_id)).toEqual([1, 2, 3, 4, 5]);
    expect((await rawSql(db, 'SELECT CAST(count(*) AS integer) AS n FROM ledger_blocks'))[0].n).toBe(blocksBefore + 1);
    const keyOf = async (n: string) =>
      (await rawSql(db, "SELECT address_key FROM ledger_events WHERE action = 'suppress' AND channel = 'sms' ORDER BY id")).map((r) => r.address_key)[[P.c, P.d, P.a2].indexOf(n)];
    const [ea, eb, ec, ed] = events.map((e) => ({ ...e, evidence: JSON.parse(e.evidence) }));
    for (const e of [ea, eb, ec, ed]) {
      expect(e).toMatchObject({ channel: 'all', service: null, address_key: null });
      expect(Object.keys(e.evidence)).toEqual(['from', 'to']);
      for (const k of [e.evidence.from, e.evidence.to]) if (k !== null) expect(k).toMatch(/^[0-9a-f]{64}$/);
    }
    // The keys are the suppression list's (the erase events' addressKeys function): the same number, the same key.
    expect(ea!.evidence.to).toBe(await keyOf(P.a2));
    expect(ec!.evidence.from).toBe(await keyOf(P.c));
    expect(ed!.evidence.from).toBe(await keyOf(P.d));
    expect(eb!.evidence.from).toBeNull();
    expect(new Set([ea!.evidence.from, eb!.evidence.to, ec!.evidence.to, ed!.evidence.to]).size).toBe(4);
    // No number in clear anywhere in the ledger.
    const ledgerText = JSON.stringify(await rawSql(db, 'SELECT * FROM ledger_events'));
    for (const n of Object.values(P)) expect(ledgerText).not.toContain(n.slice(3));

    // A re-import of the same numbers records nothing.
    const again = await runJson(db, ['profile', 'import', file, '--json'], { now: D4 });
    expect(again).toMatchObject({ unchanged: 5, phoneChanges: 0, events: 0 });
    expect(await addressEvents(db)).toHaveLength(5);
    // The chain covers the events.
    expect((await runCli(['--db', db, 'ledger', 'verify'], { now: D4 })).code).toBe(0);

    // The audience before the import: a (its old, free number) and b; c and d were suppressed by their old numbers.
    expect(await audience(db, 'sms', BEFORE)).toEqual([1, 2]);
    // On phone, before: c out by its old number, d in (its old number was free, its new one is suppressed); e opted out of all.
    expect(await audience(db, 'phone', BEFORE)).toEqual([1, 2, 4]);
    // After: a is suppressed by its new number, c and d are free.
    expect(await audience(db, 'sms', AFTER)).toEqual([2, 3, 4]);
    expect(await audience(db, 'sms')).toEqual([2, 3, 4]);
    expect(await audience(db, 'phone', AFTER)).toEqual([1, 2, 3]);
    expect(await audience(db, 'phone')).toEqual([1, 2, 3]);

    // One profile at a time, the suppression of the number it had then decides.
    const suppressEvent = async (n: string) =>
      (await rawSql(db, "SELECT CAST(id AS integer) AS id FROM ledger_events WHERE action = 'suppress' AND channel = 'sms' AND address_key = ?", [await keyOf(n)]))[0].id;
    const show = (ref: string, asOf: string) => json(db, ['profile', 'show', ref, '--as-of', asOf, '--json']);
    const c0 = await show('c@x.io', BEFORE);
    expect(c0.channels.sms).toMatchObject({ reachable: false, decidingEvents: [await suppressEvent(P.c)] });
    expect(c0.channels.sms.why).toMatch(/suppressed on sms \(manual/);
    expect((await show('c@x.io', AFTER)).channels.sms).toMatchObject({ reachable: true });
    expect((await show('a@x.io', BEFORE)).channels.sms).toMatchObject({ reachable: true });
    const a1 = await show('a@x.io', AFTER);
    expect(a1.channels.sms).toMatchObject({ reachable: false, decidingEvents: [await suppressEvent(P.a2)] });
    expect(a1.suppressions).toMatchObject([{ channel: 'sms', reason: 'manual' }]);

    // The manifest written before the change still verifies, and proves a member and a non-member.
    const verify = await runCli(['--db', db, 'audience', 'verify', manifest, '--file', join(dir, 'sms.csv')], { now: D4 });
    expect(verify.code, verify.stderr).toBe(0);
    expect(await json(db, ['audience', 'prove', manifest, 'a@x.io', '--json'])).toMatchObject({ profileId: 1, member: true, verified: true });
    const proofC = await json(db, ['audience', 'prove', manifest, 'c@x.io', '--json']);
    expect(proofC).toMatchObject({ profileId: 3, member: false });
    expect(proofC.why).toMatch(/suppressed on sms/);

    // The report's reachable-over-time points are the --as-of counts, at a week's end before the change and now.
    const csv = (await ok(db, ['report', '--format', 'csv', '--since', '30d'], D4)).stdout.trim().split('\n');
    const point = (end: string, c: string) => csv.find((l) => l.startsWith(`reachable-replayed,${end},${c},`))?.split(',')[3];
    expect(point(BEFORE, 'sms')).toBe('2');
    for (const end of [BEFORE, '2026-01-10']) {
      for (const c of ['sms', 'phone', 'email']) expect({ end, c, n: point(end, c) }).toEqual({ end, c, n: String((await audience(db, c, end)).length) });
    }

    // The readers: the person's report names the change without a number; the feed lists it.
    const report = await json(db, ['profile', 'report', 'c@x.io']);
    const changed = report.events.filter((e: { action: string }) => e.action === 'address');
    expect(changed).toMatchObject([{ channel: 'all', description: 'phone number changed' }]);
    expect(JSON.stringify(changed)).not.toContain(P.c.slice(3));
    expect(JSON.stringify(changed)).not.toContain(P.c2.slice(3));
    const html = join(dir, 'report.html');
    await ok(db, ['profile', 'report', 'c@x.io', '--format', 'html', '--lang', 'fr', '--out', html], D4);
    expect(readFileSync(html, 'utf8')).toContain('numéro de téléphone modifié');
    // `profile show`'s last changes are consent changes: a change of phone is not one.
    expect((await json(db, ['profile', 'show', 'c@x.io', '--json'])).lastChanged).toEqual({});
    const feed = (await ok(db, ['changes', '--channel', 'sms'], D4)).stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(feed.filter((e) => e.action === 'address').map((e) => e.profileId)).toEqual([1, 2, 3, 4, 5]);
    expect((await json(db, ['webhook', 'deliver', '--once', '--json'])).delivered).toBe(5);
    expect(rx.received.map((x) => [x.body.type, x.body.data.profileId, x.body.data.channel])).toEqual([1, 2, 3, 4, 5].map((id) => ['profile.address', id, 'all']));
    // Still opted out of all, as its last optout says (the change of phone is no flag event).
    expect((await json(db, ['profile', 'show', 'e@x.io', '--json'])).optOut.all).toBe(true);
    expect((await show('e@x.io', AFTER)).channels.sms).toMatchObject({ reachable: false });
    for (const n of Object.values(P)) expect(JSON.stringify(rx.received.map((x) => x.body))).not.toContain(n.slice(3));

    // ledger verify checks each live profile's phone against its last change: an erasure (phone gone) is fine,
    // a phone changed behind the tool is not (exit 6, keys only in the message).
    await ok(db, ['profile', 'erase', 'a@x.io', '--yes', '--reason', 'request 1'], D4);
    expect((await runCli(['--db', db, 'ledger', 'verify'], { now: D4 })).code).toBe(0);
    await rawSql(db, "UPDATE profiles SET phone = '+33600000009' WHERE id = 3");
    const bad = await runCli(['--db', db, 'ledger', 'verify'], { now: D4 });
    expect(bad.code).toBe(6);
    expect(bad.stderr + bad.stdout).toMatch(/profile 3: its phone \(key [0-9a-f]{12}…\) is not what its last change of phone \(event \d+\) recorded/);
    expect(bad.stderr + bad.stdout).not.toContain('600000009');
    // A later import then records that number → another: the phone agrees with the last change again, but that
    // change does not start from the number the one before it left, so the moment between them is unknowable.
    const later = join(dir, 'later.csv');
    writeFileSync(later, 'email,phone\nc@x.io,+33612345670\n');
    await ok(db, ['profile', 'import', later, '--json'], D4);
    const gap = await runCli(['--db', db, 'ledger', 'verify'], { now: D4 });
    expect(gap.code).toBe(6);
    expect(gap.stderr + gap.stdout).toMatch(/profile 3: its change of phone of event \d+ starts from the number of key [0-9a-f]{12}…, but its change of event \d+ left the number of key [0-9a-f]{12}…/);
    for (const n of ['600000009', '612345670', P.c2.slice(3)]) expect(gap.stderr + gap.stdout).not.toContain(n);
  });

  it("reach over time matches a profile erased after a point by the keys its erasure recorded, as --as-of does (the report's points use the as-of engine's lists)", async () => {
    const db = await tempStore(backend);
    await ok(db, ['profile', 'add', '--email', 'x@x.io', '--phone', P.a], D1);
    await ok(db, ['profile', 'add', '--email', 'y@x.io'], D1);
    await ok(db, ['suppression', 'add', 'x@x.io', '--reason', 'hard-bounce'], D1);
    await ok(db, ['suppression', 'add', P.a, '--channel', 'sms', '--reason', 'manual'], D1);
    await ok(db, ['profile', 'erase', 'x@x.io', '--yes', '--reason', 'request 9'], D3);
    expect(await audience(db, 'email', BEFORE)).toEqual([2]);
    expect(await audience(db, 'sms', BEFORE)).toEqual([2]);
    const csv = (await ok(db, ['report', '--format', 'csv', '--since', '30d'], D4)).stdout.trim().split('\n');
    const point = (end: string, c: string) => csv.find((l) => l.startsWith(`reachable-replayed,${end},${c},`))?.split(',')[3];
    for (const c of ['email', 'sms']) expect({ c, n: point(BEFORE, c) }).toEqual({ c, n: '1' });
  });
});
