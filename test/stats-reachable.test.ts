/**
 * Issue 16, gap 1: `consent stats` counts per consent state (migration 14's
 * index, one GROUP BY over a few dozen groups, the basis applied to the
 * groups by the domain's rule) and the suppressed from the suppression list
 * joined to profiles. Its counts must be THE predicate's: on a store built
 * through the CLI with every rule in play (an opt-in basis with grants, a
 * basis set and set back, suppressions in force and expired, two profiles
 * sharing a phone, an erasure, `all`), each channel's `reachable` equals
 * `profile list --reachable c`, `optedOut` equals `profile list --opted-out c`,
 * and the counts come from the index (the SQLite plan; PostgreSQL's indexes).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONTACT_CHANNELS } from '../src/consent/channels.js';
import { statesSql } from '../src/store/shared/stats-sql.js';
import { rawSql } from './helpers/raw-store.js';
import { BACKENDS, runCli, tempDir, tempStore } from './helpers/run-cli.js';

const NOW = new Date('2026-06-10T12:00:00.000Z');
const EARLIER = new Date('2026-06-01T12:00:00.000Z');

describe.each(BACKENDS)('stats counts per consent state on %s', (backend) => {
  it('equal profile list --reachable / --opted-out with opt-in bases, grants, suppressions (one expired), a shared phone, an erasure and all', { timeout: 120_000 }, async () => {
    const db = await tempStore(backend);
    const at = async (now: Date, ...argv: string[]) => {
      const r = await runCli(['--db', db, ...argv], { now, env: { CONSENT_ACTOR: 'op' } });
      if (r.code !== 0) throw new Error(`consent ${argv.join(' ')} exited ${r.code}: ${r.stderr}`);
      return r;
    };
    const json = async (...argv: string[]) => JSON.parse((await at(NOW, ...argv)).stdout);
    const csv = join(tempDir(), 'people.csv');
    writeFileSync(
      csv,
      [
        'email,phone,optout_all,optout_email,optout_sms',
        'a@x.io,+33600000001,0,0,0',
        'b@x.io,+33600000002,0,0,0',
        'c@x.io,+33600000003,0,1,0',
        'd@x.io,+33600000004,1,0,0',
        'e@x.io,+33600000005,0,0,0',
        'f@x.io,+33600000005,0,0,0', // shares e's phone
        'g@x.io,,0,0,1',
        'h@x.io,+33600000008,0,0,0',
      ].join('\n') + '\n',
    );
    await at(EARLIER, 'profile', 'import', csv);
    await at(EARLIER, 'policy', 'set', 'email', 'opt-in', '--reason', 'prior consent');
    await at(EARLIER, 'policy', 'set', 'sms', 'opt-in', '--reason', 'prior consent');
    // Grants: a (email, sms), b (email), d (email: refused all the same by `all`), e (sms), h (email, then erased).
    for (const [who, ch] of [['a', 'email,sms'], ['b', 'email'], ['d', 'email'], ['e', 'sms'], ['h', 'email']] as const) {
      await at(EARLIER, 'profile', 'optin', `${who}@x.io`, '--channel', ch, '--reason', 'form 12');
    }
    await at(EARLIER, 'policy', 'set', 'push', 'opt-in', '--reason', 'try');
    await at(EARLIER, 'policy', 'set', 'push', 'opt-out', '--reason', 'back'); // the last policy event wins
    await at(EARLIER, 'suppression', 'add', 'b@x.io', '--reason', 'hard-bounce'); // in force
    await at(EARLIER, 'suppression', 'add', 'a@x.io', '--reason', 'manual', '--expires', '2d'); // expired by NOW
    await at(EARLIER, 'suppression', 'add', '+33600000005', '--reason', 'manual', '--channel', 'sms'); // e and f on sms
    await at(NOW, 'profile', 'erase', 'h@x.io', '--yes', '--reason', 'GDPR request');

    const stats = await json('stats', '--json');
    expect(stats.profiles).toBe(8);
    expect(stats.erased).toBe(1);
    expect(stats.optedOutAll).toBe(1);
    // email (opt-in): a granted (its suppression expired); b suppressed; d refused by all; h erased.
    expect(stats.channels.email).toEqual({ reachable: 1, optedOut: 2, suppressed: 1, erased: 1 });
    // sms (opt-in): a granted; e granted but its phone suppressed (f too, ungranted); g opted out; d all.
    expect(stats.channels.sms).toEqual({ reachable: 1, optedOut: 2, suppressed: 2, erased: 1 });
    for (const c of CONTACT_CHANNELS) {
      const reachable = await json('profile', 'list', '--reachable', c, '--json');
      const optedOut = await json('profile', 'list', '--opted-out', c, '--json');
      expect({ c, reachable: stats.channels[c].reachable, optedOut: stats.channels[c].optedOut }).toEqual({ c, reachable: reachable.length, optedOut: optedOut.length });
    }

    // The counts come from migration 14's index, not a scan of the table.
    if (backend === 'sqlite') {
      const plan = (await rawSql(db, `EXPLAIN QUERY PLAN ${statesSql('sqlite')}`)).map((r) => r.detail).join('\n');
      expect(plan).toMatch(/USING (COVERING )?INDEX profiles_consent_state/);
    } else {
      const indexes = (await rawSql(db, "SELECT indexname FROM pg_indexes WHERE tablename = 'profiles' ORDER BY indexname")).map((r) => r.indexname);
      expect(indexes).toEqual(expect.arrayContaining(['profiles_consent_state', 'profiles_consent_state_erased', 'profiles_phone']));
    }
  });

  it('the report replays reachability at each week end as profile list --reachable --as-of does: suppressions added, expired and lifted, a basis set to opt-in, grants', { timeout: 120_000 }, async () => {
    const db = await tempStore(backend);
    const at = async (when: string, ...argv: string[]) => {
      const r = await runCli(['--db', db, ...argv], { now: new Date(when), env: { CONSENT_ACTOR: 'op' } });
      if (r.code !== 0) throw new Error(`consent ${argv.join(' ')} exited ${r.code}: ${r.stderr}`);
      return r;
    };
    const csv = join(tempDir(), 'people.csv');
    writeFileSync(csv, 'email\na@x.io\nb@x.io\nc@x.io\nd@x.io\n');
    await at('2026-05-04T09:00:00.000Z', 'profile', 'import', csv);
    await at('2026-05-06T09:00:00.000Z', 'suppression', 'add', 'a@x.io', '--reason', 'manual', '--expires', '7d'); // until 05-13
    await at('2026-05-12T09:00:00.000Z', 'suppression', 'add', 'd@x.io', '--reason', 'manual');
    await at('2026-05-13T09:00:00.000Z', 'policy', 'set', 'sms', 'opt-in', '--reason', 'prior consent');
    await at('2026-05-13T10:00:00.000Z', 'profile', 'optin', 'b@x.io', '--channel', 'sms', '--reason', 'form 7');
    await at('2026-05-19T09:00:00.000Z', 'suppression', 'remove', 'd@x.io', '--reason', 'wrong bounce'); // lifted: its row is gone, the ledger keeps its key
    await at('2026-05-20T09:00:00.000Z', 'profile', 'optout', 'c@x.io', '--channel', 'email');
    await at('2026-05-21T09:00:00.000Z', 'profile', 'optin', 'c@x.io', '--channel', 'email', '--reason', 'asked again'); // a grant
    await at('2026-05-27T09:00:00.000Z', 'policy', 'set', 'email', 'opt-in', '--reason', 'prior consent');
    const NOW_ = '2026-06-03T12:00:00.000Z';
    const lines = (await at(NOW_, 'report', '--format', 'csv', '--since', '5w')).stdout.trim().split('\n');
    const series = (c: string) => lines.filter((l) => l.startsWith('reachable-replayed,') && l.split(',')[2] === c).map((l) => [l.split(',')[1]!, Number(l.split(',')[3])] as const);
    const ends = series('email').map(([end]) => end);
    expect(ends).toEqual(['2026-05-04', '2026-05-11', '2026-05-18', '2026-05-25', '2026-06-01', '2026-06-04']);
    // email: a suppressed at 05-11, d at 05-18 (lifted since), c's grant, opt-in from 05-27 (c alone granted).
    // Flags and erasure alone (the old series) gave 0, 4, 4, 4, 4, 4.
    expect(series('email').map(([, n]) => n)).toEqual([0, 3, 3, 4, 1, 1]);
    // sms: opt-in from 05-13, b alone granted (the old series: 0, 4, 4, 4, 4, 4).
    expect(series('sms').map(([, n]) => n)).toEqual([0, 4, 1, 1, 1, 1]);
    for (const c of CONTACT_CHANNELS) {
      for (const [end, n] of series(c)) {
        const r = await runCli(['--db', db, 'profile', 'list', '--reachable', c, '--as-of', end, '--json'], { now: new Date(NOW_) });
        expect({ c, end, n }).toEqual({ c, end, n: JSON.parse(r.stdout).length });
      }
    }
  });
});
