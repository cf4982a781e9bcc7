/**
 * "Reachable on c" has one definition (isReachable in src/consent/profile.ts)
 * and one SQL form (src/store/shared/reachability-sql.ts). These tests hold
 * them against each other through the command line, on a store with every
 * combination of the seven flags: `--reachable c` and `--unreachable c`
 * partition the store for every channel, each side agrees with the
 * `reachable` of `profile show --json` (the domain function), and
 * `--opted-out c` counts an opt-out of `all`. Some addresses are on the
 * suppression list (emails of profiles with and without flags, a phone two
 * profiles share, an expired entry), so the partition also covers "not opted
 * out, but its address is suppressed".
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHANNELS, CONTACT_CHANNELS, type OptOutFlags } from '../src/consent/channels.js';
import { isOptedOut, isReachable } from '../src/consent/profile.js';
import type { GrantFlags } from '../src/consent/policy.js';
import { BACKENDS, runCli, runJson, tempStore } from './helpers/run-cli.js';

interface Listed {
  id: number;
  email: string;
  optOut: OptOutFlags;
  reachable: Record<string, boolean>;
  suppressions: { channel: string }[];
}

const ids = (list: { id: number }[]) => list.map((p) => p.id);
const csvColumn = (csv: string, i: number) => csv.trim().split('\n').slice(1).map((l) => l.split(',')[i]);
const csvEmails = (csv: string) => csvColumn(csv, 0);

describe.each(BACKENDS)('on %s', (backend) => {
// One folder (and one store) per backend for the whole file (built once: 128 profiles and a published page).
const dir = mkdtempSync(join(tmpdir(), 'consent-partition-'));
let db: string;
let everyone: Listed[];

beforeAll(async () => {
  db = backend === 'postgres' ? await tempStore(backend) : join(dir, 'consent.db');
  // Every combination of the seven flags: profile n has flag i set when bit i of n is.
  let csv = `email,${CHANNELS.map((c) => `optout_${c}`).join(',')}\n`;
  for (let n = 0; n < 2 ** CHANNELS.length; n++) {
    csv += `p${n}@x.io,${CHANNELS.map((_, i) => ((n >> i) & 1 ? '1' : '0')).join(',')}\n`;
  }
  const file = join(dir, 'every-combination.csv');
  writeFileSync(file, csv);
  await runJson(db, ['profile', 'import', file, '--json']);
  // And a few set one at a time, by the operator's commands rather than the import's set-based SQL.
  await runJson(db, ['profile', 'add', '--email', 'op-all@x.io', '--json']);
  await runJson(db, ['profile', 'add', '--email', 'op-sms@x.io', '--json']);
  await runJson(db, ['profile', 'add', '--email', 'op-none@x.io', '--json']);
  await runJson(db, ['profile', 'add', '--email', 'op-cleared@x.io', '--json']);
  expect((await runCli(['--db', db, 'blocklist-all', 'op-all@x.io'])).code).toBe(0);
  expect((await runCli(['--db', db, 'profile', 'optout', 'op-sms@x.io', '--channel', 'sms'])).code).toBe(0);
  expect((await runCli(['--db', db, 'profile', 'optout', 'op-cleared@x.io', '--channel', 'all,email'])).code).toBe(0);
  expect((await runCli(['--db', db, 'profile', 'optin', 'op-cleared@x.io', '--all'])).code).toBe(0);
  // Suppressed addresses: emails of a profile with no flag (p0), one opted out of sms only (p4) and one of all (p1);
  // a phone two profiles share, on sms only; an entry already expired (never blocks).
  await runJson(db, ['profile', 'add', '--email', 'op-phone1@x.io', '--phone', '+33600000001', '--json']);
  await runJson(db, ['profile', 'add', '--email', 'op-phone2@x.io', '--phone', '+33600000001', '--json']);
  expect((await runCli(['--db', db, 'suppression', 'add', 'p0@x.io', 'p4@x.io', 'p1@x.io', '--reason', 'hard-bounce'])).code).toBe(0);
  expect((await runCli(['--db', db, 'suppression', 'add', '+33600000001', '--channel', 'sms', '--reason', 'sms-stop'])).code).toBe(0);
  expect((await runCli(['--db', db, 'suppression', 'add', 'p2@x.io', '--reason', 'manual', '--expires', '1h'], { now: new Date('2025-01-01T00:00:00Z') })).code).toBe(0);
  await runJson(db, ['landing', 'create', 'stop', '--type', 'blocklist', '--title', 'Stop', '--json']);
  mkdirSync(join(dir, 'public'));
  await runJson(db, ['landing', 'publish', 'stop', '--out-dir', join(dir, 'public'), '--json']);
  everyone = await runJson<Listed[]>(db, ['profile', 'list', '--json']);
  expect(everyone).toHaveLength(2 ** CHANNELS.length + 6);
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('--reachable c and --unreachable c partition the store, for every channel', () => {
  for (const c of CONTACT_CHANNELS) {
    it(`on ${c}: disjoint, together everyone, each as the domain's reachability says`, async () => {
      const reachable = await runJson<Listed[]>(db, ['profile', 'list', '--reachable', c, '--json']);
      const unreachable = await runJson<Listed[]>(db, ['profile', 'list', '--unreachable', c, '--json']);
      const r = new Set(ids(reachable));
      expect(ids(unreachable).filter((id) => r.has(id))).toEqual([]);
      expect([...ids(reachable), ...ids(unreachable)].sort((a, b) => a - b)).toEqual(ids(everyone));
      // The SQL predicate against the domain's reachability() (profile JSON's `reachable`).
      expect(ids(reachable)).toEqual(ids(everyone.filter((p) => p.reachable[c])));
      expect(ids(unreachable)).toEqual(ids(everyone.filter((p) => !p.reachable[c])));
      // And against the domain's definition itself (unreachable = opted out of c or of all, or its address suppressed on c).
      expect(ids(reachable)).toEqual(ids(everyone.filter((p) => isReachable(p.optOut, c, p.suppressions))));
      expect(ids(unreachable)).toEqual(ids(everyone.filter((p) => p.optOut.all || p.optOut[c] || p.suppressions.some((s) => s.channel === c))));
      // The suppression list is part of it: on email and sms some are unreachable with no flag set.
      const suppressedOnly = unreachable.filter((p) => !p.optOut.all && !p.optOut[c]);
      expect(suppressedOnly.map((p) => p.email)).toEqual(
        c === 'email' ? ['p0@x.io', 'p4@x.io'] : c === 'sms' ? ['op-phone1@x.io', 'op-phone2@x.io'] : [],
      );
      expect(unreachable.length).toBeGreaterThan(0);
      expect(reachable.length).toBeGreaterThan(0);

      // The export and the links file follow the same predicate.
      const exR = await runCli(['--db', db, 'profile', 'export', '--reachable', c]);
      const exU = await runCli(['--db', db, 'profile', 'export', '--unreachable', c]);
      expect([exR.code, exU.code]).toEqual([0, 0]);
      expect(csvEmails(exR.stdout)).toEqual(reachable.map((p) => p.email));
      expect(csvEmails(exU.stdout)).toEqual(unreachable.map((p) => p.email));
      const links = await runCli(['--db', db, 'landing', 'links', 'stop', '--reachable', c, '--base-url', 'https://p.example.com']);
      expect(links.code).toBe(0);
      expect(csvColumn(links.stdout, 0).map(Number)).toEqual(ids(reachable)); // id,email,url,oneClickUrl
    });
  }

  it('combines with the other filters (AND) and with --limit', async () => {
    const both = await runJson<Listed[]>(db, ['profile', 'list', '--reachable', 'email', '--unreachable', 'sms', '--json']);
    expect(ids(both)).toEqual(ids(everyone.filter((p) => p.reachable.email && !p.reachable.sms)));
    expect(both.length).toBeGreaterThan(0);
    const limited = await runJson<Listed[]>(db, ['profile', 'list', '--unreachable', 'push', '--limit', '3', '--json']);
    expect(ids(limited)).toEqual(ids(everyone.filter((p) => !p.reachable.push)).slice(0, 3));
    // The same channel on both sides matches no one: refused, not an empty list that looks like "nobody to suppress".
    for (const cmd of ['list', 'export']) {
      const none = await runCli(['--db', db, 'profile', cmd, '--reachable', 'sms', '--unreachable', 'sms']);
      expect(none.code).toBe(2);
      expect(none.stdout).toBe('');
      expect(none.stderr).toContain('--reachable sms and --unreachable sms together match no one');
    }
    const bad = await runCli(['--db', db, 'profile', 'list', '--unreachable', 'all']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/email, sms, phone, postal, fax, push/);
  });
});

describe('--opted-out', () => {
  it('--opted-out <channel> includes those opted out of all; --opted-out all means all itself', async () => {
    for (const c of CONTACT_CHANNELS) {
      const listed = await runJson<Listed[]>(db, ['profile', 'list', '--opted-out', c, '--json']);
      expect(ids(listed)).toEqual(ids(everyone.filter((p) => p.optOut[c] || p.optOut.all)));
      expect(ids(listed)).toEqual(ids(everyone.filter((p) => isOptedOut(p.optOut, c))));
      // Someone opted out of all but not of c is in it.
      expect(listed.some((p) => p.optOut.all && !p.optOut[c])).toBe(true);
      const exported = await runCli(['--db', db, 'profile', 'export', '--opted-out', c]);
      expect(csvEmails(exported.stdout)).toEqual(listed.map((p) => p.email));
    }
    const all = await runJson<Listed[]>(db, ['profile', 'list', '--opted-out', 'all', '--json']);
    expect(ids(all)).toEqual(ids(everyone.filter((p) => p.optOut.all)));
    expect(all.map((p) => p.email)).toContain('op-all@x.io');
    expect(all.map((p) => p.email)).not.toContain('op-cleared@x.io');
  });
});

// Last: it changes the store's basis. Under opt-in a channel is reachable only with a grant (issue 15).
describe('under an opt-in basis (email, sms, push)', () => {
  it('--reachable c and --unreachable c still partition the store, as the domain says with the basis and grants', async () => {
    for (const c of ['email', 'sms', 'push']) expect((await runCli(['--db', db, 'policy', 'set', c, 'opt-in', '--reason', 'CNIL'])).code).toBe(0);
    const grant = async (ref: string, channels: string) =>
      expect((await runCli(['--db', db, 'profile', 'optin', ref, '--channel', channels, '--reason', 'signed form'])).code).toBe(0);
    await grant('op-none@x.io', 'email,sms'); // nothing set: grant-only events
    await grant('op-cleared@x.io', 'email'); // its email opt-out cleared: the optin is the grant
    await grant('p0@x.io', 'email'); // granted, but its email is suppressed
    await grant('p2@x.io', 'email'); // opted out of email before, expired suppression
    await grant('op-sms@x.io', 'push');
    await grant('op-phone1@x.io', 'sms'); // granted, but its phone is suppressed on sms
    const now = await runJson<(Listed & { granted: GrantFlags })[]>(db, ['profile', 'list', '--json']);
    const bases = { email: 'opt-in', sms: 'opt-in', phone: 'opt-out', postal: 'opt-out', fax: 'opt-out', push: 'opt-in' } as const;
    for (const c of CONTACT_CHANNELS) {
      const reachable = await runJson<Listed[]>(db, ['profile', 'list', '--reachable', c, '--json']);
      const unreachable = await runJson<Listed[]>(db, ['profile', 'list', '--unreachable', c, '--json']);
      const r = new Set(ids(reachable));
      expect(ids(unreachable).filter((id) => r.has(id))).toEqual([]);
      expect([...ids(reachable), ...ids(unreachable)].sort((a, b) => a - b)).toEqual(ids(now));
      expect(ids(reachable)).toEqual(ids(now.filter((p) => p.reachable[c])));
      expect(ids(reachable)).toEqual(ids(now.filter((p) => isReachable(p.optOut, c, p.suppressions, { bases, granted: p.granted }))));
      const exR = await runCli(['--db', db, 'profile', 'export', '--reachable', c]);
      expect(csvEmails(exR.stdout)).toEqual(reachable.map((p) => p.email));
      const links = await runCli(['--db', db, 'landing', 'links', 'stop', '--reachable', c, '--base-url', 'https://p.example.com']);
      expect(csvColumn(links.stdout, 0).map(Number)).toEqual(ids(reachable));
      if (bases[c] === 'opt-in') {
        // Only the granted, not refused, not suppressed.
        const expected = { email: ['op-cleared@x.io', 'op-none@x.io', 'p2@x.io'], sms: ['op-none@x.io'], push: ['op-sms@x.io'] }[c as 'email' | 'sms' | 'push'];
        expect(reachable.map((p) => p.email).sort()).toEqual(expected);
      } else {
        // Opt-out channels are as before the change of basis.
        expect(ids(reachable)).toEqual(ids(everyone.filter((p) => p.reachable[c])));
      }
    }
  });
});
});
