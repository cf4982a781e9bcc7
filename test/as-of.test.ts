/**
 * The state at any past moment, and send manifests (issue 15), on both
 * stores, through the command line: `profile show --as-of` before and after
 * each kind of change (opt-out, opt-in/grant, subscription, suppression added
 * and lifted, erasure, a change of basis); `profile list|export --reachable
 * --as-of` (the SQL replay) agreeing with the domain replay of every profile
 * at every moment, and with today's audience at the head; a manifest proved
 * for a member and a non-member, verified after later changes and refused
 * (exit 6) after tampering; an export file checked.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONTACT_CHANNELS } from '../src/consent/channels.js';
import { tamper } from './helpers/raw-store.js';
import { BACKENDS, FIXED_NOW, runCli, runJson, tempDir, tempStore } from './helpers/run-cli.js';

/** Minute i after FIXED_NOW; each change below happens at its own minute. */
const t = (i: number) => new Date(FIXED_NOW.getTime() + i * 60_000);
const iso = (i: number) => t(i).toISOString();
/** Half a minute before / after change i. */
const before = (i: number) => new Date(t(i).getTime() - 30_000).toISOString();
const after = (i: number) => new Date(t(i).getTime() + 30_000).toISOString();

async function ok(db: string, argv: string[], at: number) {
  const r = await runCli(['--db', db, ...argv], { now: t(at) });
  expect(r.code, `${argv.join(' ')}: ${r.stderr}`).toBe(0);
  return r;
}

/** A channel's basis: the store-level `policy` event of shared decision 1, written by `consent policy set`. */
async function setBasis(db: string, channel: string, basis: 'opt-in' | 'opt-out', at: number): Promise<void> {
  await ok(db, ['policy', 'set', channel, basis, '--reason', 'CNIL: prior consent'], at);
}

const show = (db: string, ref: string, asOf: string) => runJson(db, ['profile', 'show', ref, '--as-of', asOf, '--json'], { now: t(99) });
const ids = (list: { id: number }[]) => list.map((p) => p.id);
const audienceAsOf = async (db: string, channel: string, asOf: string) =>
  ids(await runJson(db, ['profile', 'list', '--reachable', channel, '--as-of', asOf, '--json'], { now: t(99) }));

describe.each(BACKENDS)('as of a past moment, and send manifests, on %s', (backend) => {
  it('replays each kind of change, in SQL and in the domain alike, and equals today at the head', async () => {
    const db = await tempStore(backend);
    await ok(db, ['profile', 'add', '--email', 'ann@x.io', '--phone', '+33612345678'], 1);
    await ok(db, ['profile', 'add', '--email', 'bob@x.io'], 1);
    await ok(db, ['profile', 'add', '--email', 'cy@x.io'], 1);
    await ok(db, ['service', 'create', 'news', '--label', 'News'], 2);
    await ok(db, ['profile', 'subscribe', 'ann@x.io', 'news'], 3); // a subscription
    await ok(db, ['profile', 'optout', 'bob@x.io', '--channel', 'email'], 4); // an opt-out
    await ok(db, ['profile', 'optin', 'bob@x.io', '--channel', 'email', '--reason', 'ticket 12'], 5); // an opt-in: a grant
    await ok(db, ['suppression', 'add', 'ann@x.io', '--reason', 'hard-bounce'], 6); // a suppression
    await ok(db, ['suppression', 'remove', 'ann@x.io', '--reason', 'mailbox works again'], 7); // lifted
    await ok(db, ['profile', 'erase', 'cy@x.io', '--yes', '--reason', 'art. 17 request 7'], 8); // an erasure
    await ok(db, ['profile', 'add', '--email', 'dee@x.io'], 9); // a profile that did not exist before
    await setBasis(db, 'email', 'opt-in', 10); // a change of basis
    await setBasis(db, 'email', 'opt-out', 11); // and back

    // The subscription.
    expect((await show(db, 'ann@x.io', before(3))).subscriptions).toEqual([]);
    expect((await show(db, 'ann@x.io', after(3))).subscriptions).toMatchObject([{ service: 'news', status: 'subscribed', since: iso(3) }]);
    // The opt-out, then the grant.
    const bob4 = await show(db, 'bob@x.io', before(4));
    expect(bob4.channels.email).toMatchObject({ state: 'unknown', reachable: true, basis: 'opt-out' });
    const bob5 = await show(db, 'bob@x.io', before(5));
    expect(bob5.optOut.email).toBe(true);
    expect(bob5.channels.email).toMatchObject({ state: 'refused', reachable: false });
    expect(bob5.channels.email.decidingEvents).toEqual([bob5.flagEvents.email]);
    const bob6 = await show(db, 'bob@x.io', after(5));
    expect(bob6.channels.email).toMatchObject({ state: 'granted', reachable: true });
    expect(bob6.flagEvents.email).toBeGreaterThan(bob5.flagEvents.email);
    // The suppression, added and lifted.
    expect((await show(db, 'ann@x.io', before(6))).channels.email.reachable).toBe(true);
    const ann6 = await show(db, 'ann@x.io', after(6));
    expect(ann6.channels.email).toMatchObject({ reachable: false });
    expect(ann6.channels.email.why).toMatch(/suppressed on email \(hard-bounce/);
    expect(ann6.suppressions).toMatchObject([{ channel: 'email', reason: 'hard-bounce', since: iso(6), expiresAt: null }]);
    expect(ann6.channels.sms.reachable).toBe(true);
    const ann7 = await show(db, 'ann@x.io', after(7));
    expect(ann7.channels.email.reachable).toBe(true);
    expect(ann7.suppressions).toEqual([]);
    // The erasure.
    const cy = await show(db, '3', before(8));
    expect(cy).toMatchObject({ erased: false, existed: true, reachable: { email: true, postal: true } });
    const cyAfter = await show(db, '3', after(8));
    expect(cyAfter).toMatchObject({ erased: true, reachable: { email: false, sms: false, postal: false } });
    expect(cyAfter.channels.email.decidingEvents).toEqual([cyAfter.erasedBy]);
    // A profile is known from its creation on.
    expect(await show(db, 'dee@x.io', before(9))).toMatchObject({ existed: false, reachable: { email: false } });
    // The change of basis: email becomes opt-in; only bob granted it; postal stays opt-out.
    const ann10 = await show(db, 'ann@x.io', after(10));
    expect(ann10.channels.email).toMatchObject({ basis: 'opt-in', state: 'unknown', reachable: false });
    expect(ann10.channels.postal).toMatchObject({ basis: 'opt-out', reachable: true });
    expect((await show(db, 'bob@x.io', after(10))).channels.email).toMatchObject({ basis: 'opt-in', state: 'granted', reachable: true });
    expect((await show(db, 'ann@x.io', before(10))).channels.email).toMatchObject({ basis: 'opt-out', reachable: true });
    // Back to opt-out: ann (no grant) reachable again from then on, still unknown; the moment in between keeps opt-in.
    const ann11 = await show(db, 'ann@x.io', after(11));
    expect(ann11.channels.email).toMatchObject({ basis: 'opt-out', state: 'unknown', reachable: true });
    expect(ann11.channels.email.decidingEvents).toHaveLength(1); // the policy event back to opt-out
    expect(ann11.channels.email.decidingEvents[0]).toBeGreaterThan(ann10.channels.email.decidingEvents[0]);
    expect((await show(db, 'ann@x.io', before(11))).channels.email).toMatchObject({ basis: 'opt-in', reachable: false });
    expect((await show(db, 'bob@x.io', after(11))).channels.email).toMatchObject({ basis: 'opt-out', state: 'granted', reachable: true });

    // The audiences replayed in SQL, moment by moment.
    expect(await audienceAsOf(db, 'email', before(1))).toEqual([]);
    expect(await audienceAsOf(db, 'email', after(1))).toEqual([1, 2, 3]);
    expect(await audienceAsOf(db, 'email', after(4))).toEqual([1, 3]);
    expect(await audienceAsOf(db, 'email', after(5))).toEqual([1, 2, 3]);
    expect(await audienceAsOf(db, 'email', after(6))).toEqual([2, 3]);
    expect(await audienceAsOf(db, 'email', after(7))).toEqual([1, 2, 3]);
    expect(await audienceAsOf(db, 'email', after(8))).toEqual([1, 2]);
    expect(await audienceAsOf(db, 'email', after(9))).toEqual([1, 2, 4]);
    expect(await audienceAsOf(db, 'email', after(10))).toEqual([2]);
    expect(await audienceAsOf(db, 'postal', after(10))).toEqual([1, 2, 4]);
    expect(await audienceAsOf(db, 'email', after(11))).toEqual([1, 2, 4]);

    // The SQL replay and the domain replay agree on every channel at every moment, under both bases.
    for (const moment of [after(1), after(4), after(6), after(8), after(9), after(10), after(11)]) {
      const views = await Promise.all([1, 2, 3, 4].map((id) => show(db, String(id), moment)));
      for (const c of CONTACT_CHANNELS) {
        const domain = views.filter((v) => v.reachable[c]).map((v) => v.id);
        expect(await audienceAsOf(db, c, moment), `${c} at ${moment}`).toEqual(domain);
      }
    }

    // Under the opt-out basis the head is today's state: as of now = the current audience, on every channel.
    const dbOut = await tempStore(backend);
    const phones = ['+33612345601', '+33612345600', '+33612345600', '+33612345699'];
    for (const [i, e] of ['a@x.io', 'b@x.io', 'c@x.io', 'd@x.io'].entries()) await ok(dbOut, ['profile', 'add', '--email', e, '--phone', phones[i]!], 1);
    await ok(dbOut, ['profile', 'optout', 'a@x.io', '--all'], 2);
    await ok(dbOut, ['profile', 'optout', 'b@x.io', '--channel', 'sms,postal'], 2);
    await ok(dbOut, ['suppression', 'add', 'c@x.io', '--reason', 'complaint'], 3);
    await ok(dbOut, ['suppression', 'add', '+33612345600', '--channel', 'phone', '--reason', 'manual', '--expires', '2d'], 3);
    await ok(dbOut, ['profile', 'erase', 'd@x.io', '--yes', '--reason', 'request 9'], 4);
    for (const c of CONTACT_CHANNELS) {
      const now = ids(await runJson(dbOut, ['profile', 'list', '--reachable', c, '--json'], { now: t(5) }));
      const replayed = ids(await runJson(dbOut, ['profile', 'list', '--reachable', c, '--as-of', iso(5), '--json'], { now: t(5) }));
      expect(replayed, c).toEqual(now);
    }
    // Under an opt-in basis too (the head against today's predicate, which knows bases and grants since t15-basis).
    await setBasis(dbOut, 'email', 'opt-in', 6);
    await setBasis(dbOut, 'sms', 'opt-in', 6);
    await ok(dbOut, ['profile', 'optin', 'c@x.io', '--channel', 'sms', '--reason', 'signed form 3'], 7); // a grant
    for (const c of CONTACT_CHANNELS) {
      const now = ids(await runJson(dbOut, ['profile', 'list', '--reachable', c, '--json'], { now: t(8) }));
      const replayed = ids(await runJson(dbOut, ['profile', 'list', '--reachable', c, '--as-of', iso(8), '--json'], { now: t(8) }));
      expect(replayed, `${c} under opt-in`).toEqual(now);
    }
    expect(await audienceAsOf(dbOut, 'sms', iso(8))).toEqual([3]);
    expect(await audienceAsOf(dbOut, 'email', iso(8))).toEqual([]);
    // The phone entry expires: as of day 3, it no longer blocks (the replay judges expiry at the moment).
    const later = new Date(t(3).getTime() + 3 * 86_400_000).toISOString();
    expect(await audienceAsOf(dbOut, 'phone', iso(5))).toEqual([]);
    expect(await audienceAsOf(dbOut, 'phone', later)).toEqual([2, 3]);
    expect(await audienceAsOf(dbOut, 'sms', later)).toEqual([3]); // b opted out of sms; c granted it under opt-in

    // Bad input: exit 2, nothing printed on stdout.
    const bad = await runCli(['--db', db, 'profile', 'show', '1', '--as-of', 'yesterday']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--as-of "yesterday" is not an ISO 8601 time/);
    const noChannel = await runCli(['--db', db, 'profile', 'export', '--as-of', iso(5)]);
    expect(noChannel.code).toBe(2);
    expect(noChannel.stderr).toMatch(/--as-of needs --reachable/);
    expect(noChannel.stdout).toBe('');
  });

  it('writes a manifest, proves a member and a non-member, verifies after later changes, refuses tampering with exit 6', async () => {
    const db = await tempStore(backend);
    const dir = tempDir();
    for (const e of ['a@x.io', 'b@x.io', 'c@x.io', 'd@x.io', 'e@x.io']) await ok(db, ['profile', 'add', '--email', e], 1);
    await ok(db, ['profile', 'optout', 'b@x.io', '--channel', 'email'], 2);
    await ok(db, ['suppression', 'add', 'd@x.io', '--reason', 'hard-bounce'], 2);
    const csv = join(dir, 'send.csv');
    const manifestPath = join(dir, 'send.json');
    const exported = await ok(db, ['profile', 'export', '--reachable', 'email', '--out', csv, '--manifest', manifestPath], 3);
    expect(exported.stderr).toMatch(/Exported 3 profile\(s\) to .*send\.csv\. Left out 2 profile\(s\) not reachable on email then\./);
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
    const head = await runJson(db, ['ledger', 'verify', '--json']);
    expect(manifest).toMatchObject({
      kind: 'consent-send-manifest',
      filter: { reachable: 'email' },
      count: 3,
      leftOut: 2,
      ledger: { hash: head.head, at: iso(3) },
      digest: { algorithm: 'merkle-sha256-rfc6962' },
      file: { format: 'csv' },
    });
    expect(readFileSync(csv, 'utf8').trim().split('\n').slice(1).map((l) => l.split(',')[0])).toEqual(['a@x.io', 'c@x.io', 'e@x.io']);

    // Later changes: the manifest still holds (it names its ledger position).
    await ok(db, ['profile', 'optout', 'a@x.io', '--all'], 4);
    await ok(db, ['profile', 'optin', 'b@x.io', '--channel', 'email', '--reason', 'ticket 4'], 4);
    await ok(db, ['profile', 'add', '--email', 'f@x.io'], 5);
    await ok(db, ['profile', 'erase', 'e@x.io', '--yes', '--reason', 'request 5'], 5);
    // The suppressed non-member erased too: its hard-bounce entry was stronger, so the erasure adds no entry; its erase
    // event records its address keys, by which the replay still finds what was suppressed for it before.
    await ok(db, ['profile', 'erase', 'd@x.io', '--yes', '--reason', 'request 6'], 5);
    const dBefore = await show(db, '4', manifest.ledger.at);
    expect(dBefore).toMatchObject({ existed: true, erased: false, reachable: { email: false } });
    expect(dBefore.suppressions).toMatchObject([{ channel: 'email', reason: 'hard-bounce', since: iso(2) }]);
    expect(dBefore.channels.email.why).toMatch(/suppressed on email \(hard-bounce/);
    expect(await audienceAsOf(db, 'email', manifest.ledger.at)).toEqual([1, 3, 5]);
    // Keys only: the erase event names no address.
    const erase = (await runJson<{ action: string; evidence: unknown }[]>(db, ['profile', 'history', '4', '--json'])).find((e) => e.action === 'erase');
    expect(erase?.evidence).toMatchObject({ addressKeys: { email: expect.stringMatching(/^[0-9a-f]{64}$/), phone: null } });
    expect(JSON.stringify(erase)).not.toContain('d@x.io');
    await setBasis(db, 'email', 'opt-in', 6);
    const verified = await runJson(db, ['audience', 'verify', manifestPath, '--file', csv, '--json'], { now: t(7) });
    expect(verified).toMatchObject({ ok: true, count: 3, root: manifest.digest.root, file: { rows: 3 } });

    // A member: its leaf, its path, checked; and the events that decided it.
    const member = await runJson(db, ['audience', 'prove', manifestPath, 'a@x.io', '--json'], { now: t(7) });
    expect(member).toMatchObject({ profileId: 1, member: true, leafIndex: 0, size: 3, verified: true, root: manifest.digest.root });
    expect(member.path).toHaveLength(2);
    const human = await ok(db, ['audience', 'prove', manifestPath, '3'], 7);
    expect(human.stdout).toMatch(/Profile 3 WAS in the audience/);
    // Non-members, and why, from the replay at the manifest's head (not today's state).
    const optedOut = await runJson(db, ['audience', 'prove', manifestPath, 'b@x.io', '--json'], { now: t(7) });
    expect(optedOut).toMatchObject({ member: false, path: null, leafIndex: null });
    expect(optedOut.why).toMatch(/opted out of email \(event \d+\)/);
    expect(optedOut.decidingEvents).toHaveLength(1);
    const suppressed = await runJson(db, ['audience', 'prove', manifestPath, 'd@x.io', '--json'], { now: t(7) });
    expect(suppressed).toMatchObject({ member: false });
    expect(suppressed.why).toMatch(/suppressed on email \(hard-bounce/);
    const newcomer = await ok(db, ['audience', 'prove', manifestPath, 'f@x.io'], 7);
    expect(newcomer.stdout).toMatch(/Profile 6 was NOT in the audience .*did not exist yet/);

    // An export file that is not the audience fails (exit 6); so does an altered manifest.
    const other = join(dir, 'other.jsonl');
    writeFileSync(other, [1, 3].map((id) => JSON.stringify({ id })).join('\n') + '\n');
    const noManifestFile = { ...manifest, file: null };
    const m2 = join(dir, 'nofile.json');
    writeFileSync(m2, JSON.stringify(noManifestFile));
    const wrongFile = await runCli(['--db', db, 'audience', 'verify', m2, '--file', other], { now: t(7) });
    expect(wrongFile.code, wrongFile.stderr).toBe(6);
    expect(wrongFile.stderr).toMatch(/is not the audience: 0 profile\(s\) not in it \(\), 1 missing \(5\)/);
    const notTheFile = await runCli(['--db', db, 'audience', 'verify', manifestPath, '--file', other], { now: t(7) });
    expect(notTheFile.code).toBe(6);
    expect(notTheFile.stderr).toMatch(/is not the exported file/);
    const forged = join(dir, 'forged.json');
    writeFileSync(forged, JSON.stringify({ ...manifest, count: 2, digest: { ...manifest.digest, root: 'ab'.repeat(32) } }));
    const forgedRun = await runCli(['--db', db, 'audience', 'verify', forged], { now: t(7) });
    expect(forgedRun.code).toBe(6);
    expect(forgedRun.stderr).toMatch(/is not the manifest's: 3 profile\(s\)/);
    const elsewhere = join(dir, 'elsewhere.json');
    writeFileSync(elsewhere, JSON.stringify({ ...manifest, ledger: { ...manifest.ledger, hash: 'cd'.repeat(32) } }));
    const elsewhereRun = await runCli(['--db', db, 'audience', 'prove', elsewhere, '1'], { now: t(7) });
    expect(elsewhereRun.code).toBe(6);
    expect(elsewhereRun.stderr).toMatch(/is not in this store's chain/);
    const notManifest = await runCli(['--db', db, 'audience', 'verify', csv]);
    expect(notManifest.code).toBe(2);

    // The store rewritten behind the tool: b's opt-out turned into an opt-in. The manifest's head no longer stands.
    await tamper(db, `UPDATE ledger_events SET action = 'optin' WHERE id = ${optedOut.decidingEvents[0]}`);
    for (const argv of [['audience', 'verify', manifestPath], ['audience', 'prove', manifestPath, '1']]) {
      const r = await runCli(['--db', db, ...argv], { now: t(7) });
      expect(r.code, `${argv.join(' ')}: ${r.stderr}`).toBe(6);
      expect(r.stderr).toMatch(/ledger does not verify/);
      expect(r.stdout).toBe('');
    }
  });
  it('an sms manifest after a phone changed by an import still verifies (the change is an address event), and so does an email manifest', async () => {
    const db = await tempStore(backend);
    const dir = tempDir();
    await ok(db, ['profile', 'add', '--email', 'a@x.io', '--phone', '+33612345671'], 1);
    await ok(db, ['profile', 'add', '--email', 'c@x.io', '--phone', '+33612345673'], 1);
    await ok(db, ['suppression', 'add', '+33612345673', '--channel', 'sms', '--reason', 'manual'], 2);
    const sms = join(dir, 'sms.json');
    const email = join(dir, 'email.json');
    await ok(db, ['profile', 'export', '--reachable', 'sms', '--out', join(dir, 'sms.csv'), '--manifest', sms], 3);
    await ok(db, ['profile', 'export', '--reachable', 'email', '--out', join(dir, 'email.csv'), '--manifest', email], 3);
    const file = join(dir, 'phones.csv');
    writeFileSync(file, 'email,phone\nc@x.io,+33612345679\n');
    await ok(db, ['profile', 'import', file], 4);
    const r = await runCli(['--db', db, 'audience', 'verify', sms], { now: t(5) });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/has 1 profile\(s\)/);
    expect((await runCli(['--db', db, 'audience', 'verify', email], { now: t(5) })).code).toBe(0);
    // A manifest altered: exit 6, and the message no longer offers a change of phone as a cause.
    const m = JSON.parse(readFileSync(sms, 'utf8'));
    writeFileSync(sms, JSON.stringify({ ...m, count: 2 }));
    const bad = await runCli(['--db', db, 'audience', 'verify', sms], { now: t(5) });
    expect(bad.code).toBe(6);
    expect(bad.stderr).toMatch(/The manifest was altered/);
    expect(bad.stderr).not.toMatch(/phone/);
  });
  it('an address erased twice (the second erasure finds its erasure entry in force and adds no entry): the replay and prove find the second profile by the keys its erase event recorded', async () => {
    const db = await tempStore(backend);
    const manifestPath = join(tempDir(), 'm.json');
    await ok(db, ['profile', 'add', '--email', 'x@x.io'], 1);
    await ok(db, ['profile', 'add', '--email', 'y@x.io'], 1);
    await ok(db, ['profile', 'erase', 'x@x.io', '--yes', '--reason', 'request 1'], 2);
    await ok(db, ['profile', 'add', '--email', 'x@x.io'], 3); // profile 3: its erasure entry matches it again
    await ok(db, ['profile', 'export', '--reachable', 'email', '--out', join(tempDir(), 'm.csv'), '--manifest', manifestPath], 4);
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
    expect(manifest.count).toBe(1);
    await ok(db, ['profile', 'erase', 'x@x.io', '--yes', '--reason', 'request 2'], 5);
    expect((await runCli(['--db', db, 'audience', 'verify', manifestPath], { now: t(6) })).code).toBe(0);
    const then = await show(db, '3', manifest.ledger.at);
    expect(then).toMatchObject({ existed: true, erased: false, reachable: { email: false } });
    expect(then.suppressions).toMatchObject([{ channel: 'email', reason: 'erasure' }]);
    const proof = await runJson(db, ['audience', 'prove', manifestPath, 'x@x.io', '--json'], { now: t(6) });
    expect(proof).toMatchObject({ profileId: 3, member: false });
    expect(proof.why).toMatch(/suppressed on email \(erasure/);
  });
});
