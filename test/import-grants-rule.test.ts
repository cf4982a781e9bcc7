/**
 * The import's set-based grant rule (src/store/shared/import-grants.ts) is the
 * domain's planGrants (src/consent/profile.ts), over every combination: a plan
 * row's current, set and clear bits on `all`, email and sms, the grants the
 * profile holds, the four bases of email and sms, with and without
 * --allow-optin. Run on an in-memory SQLite database (the SQL is the stores'
 * shared text); the channels of the grant-only events must be the ones
 * planGrants gives, for an existing profile and for a new one.
 */
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { CHANNELS, CONTACT_CHANNELS, type Channel, type ContactChannel } from '../src/consent/channels.js';
import { noGrants, type Bases } from '../src/consent/policy.js';
import { planChanges, planGrants } from '../src/consent/profile.js';
import { grantCountSql, grantEventMask, grantEventsSql } from '../src/store/shared/import-grants.js';
import { foldedClear, newMaskSql } from '../src/store/shared/import-rules.js';

const bit = (c: Channel) => 1 << CHANNELS.indexOf(c);
const TESTED = ['all', 'email', 'sms'] as const;

describe('the import grant rule (SQL) is planGrants (domain)', () => {
  it('agrees on every combination of flags, cells, held grants, bases and --allow-optin', () => {
    const db = new Database(':memory:');
    db.exec(`CREATE TABLE plan (clearm INTEGER, setm INTEGER, curm INTEGER, newm INTEGER, profile_id INTEGER);
      CREATE TABLE profiles (id INTEGER PRIMARY KEY, ${CONTACT_CHANNELS.map((c) => `granted_${c} INTEGER`).join(', ')});`);
    const insertPlan = db.prepare('INSERT INTO plan (clearm, setm, curm, profile_id) VALUES (?, ?, ?, ?)');
    const insertProfile = db.prepare(`INSERT INTO profiles VALUES (1, ${CONTACT_CHANNELS.map(() => '?').join(', ')})`);
    const setNewm = new Map<boolean, Database.Statement>();
    const byMask = new Map<number, { events: Database.Statement; count: Database.Statement }>();
    const statements = (mask: number) => {
      if (!byMask.has(mask)) {
        byMask.set(mask, {
          events: db.prepare(grantEventsSql({ plan: 'plan', profiles: 'profiles', pid: 'coalesce(ip.profile_id, 0)', order: 'ip.rowid', mask })).raw(),
          count: db.prepare(grantCountSql({ plan: 'plan', profiles: 'profiles', mask })).pluck(),
        });
      }
      return byMask.get(mask)!;
    };
    let cases = 0;
    let withGrants = 0;
    const disagreements: string[] = [];
    for (const allowOptin of [true, false]) {
      for (let bm = 0; bm < 4; bm++) {
        const bases = Object.fromEntries(CONTACT_CHANNELS.map((c) => [c, 'opt-out'])) as Bases;
        if (bm & 1) bases.email = 'opt-in';
        if (bm & 2) bases.sms = 'opt-in';
        const mask = grantEventMask(bit('email') | bit('sms'), bases);
        for (let combo = 0; combo < 1 << 12; combo++) {
          let cur = 0;
          let set = 0;
          let clear = 0;
          const held: Partial<Record<ContactChannel, boolean>> = {};
          TESTED.forEach((c, i) => {
            const b = (combo >> (4 * i)) & 15;
            if (b & 1) cur |= bit(c);
            if (b & 2) set |= bit(c);
            if (b & 4) clear |= bit(c);
            if (c !== 'all' && b & 8) held[c] = true;
          });
          if (CONTACT_CHANNELS.some((c) => held[c] && cur & bit(c))) continue; // a set flag never holds a grant
          for (const existing of [true, false]) {
            if (!existing && (cur !== 0 || Object.keys(held).length > 0)) continue; // a new profile: no flag, no grant
            db.exec('DELETE FROM plan; DELETE FROM profiles');
            insertPlan.run(clear, set, cur, existing ? 1 : null);
            if (!setNewm.has(allowOptin)) setNewm.set(allowOptin, db.prepare(`UPDATE plan SET newm = ${newMaskSql(allowOptin)}`));
            setNewm.get(allowOptin)!.run();
            const newm = db.prepare('SELECT newm FROM plan').pluck().get() as number;
            if (existing) insertProfile.run(...CONTACT_CHANNELS.map((c) => (held[c] ? 1 : 0)));
            const sqlChannels = mask === 0 ? [] : (statements(mask).events.all() as unknown[][]).map((r) => r[1] as string);
            const sqlCount = mask === 0 ? 0 : Number(statements(mask).count.get());
            const optOut = Object.fromEntries(CHANNELS.map((c) => [c, !!(cur & bit(c))])) as Record<Channel, boolean>;
            const wanted = Object.fromEntries(CHANNELS.filter((c) => (set | clear) & bit(c)).map((c) => [c, !!(newm & bit(c))]));
            const asked = (['email', 'sms'] as const).filter((c) => foldedClear(set, clear) & bit(c));
            const domain = planGrants({ optOut, granted: { ...noGrants(), ...held } }, planChanges(optOut, wanted), asked, bases).map((g) => g.channel);
            cases++;
            if (sqlCount > 0) withGrants++;
            if (JSON.stringify(sqlChannels) !== JSON.stringify(domain) || sqlCount !== domain.length) {
              disagreements.push(`allowOptin=${allowOptin} bases=${bm} cur=${cur} set=${set} clear=${clear} held=${JSON.stringify(held)} existing=${existing}: sql ${sqlChannels} domain ${domain}`);
            }
          }
        }
      }
    }
    db.close();
    expect(disagreements.slice(0, 5)).toEqual([]);
    expect(cases).toBeGreaterThan(18_000);
    expect(withGrants).toBeGreaterThan(700); // the rule is exercised, not only its empty answers
  });
});
