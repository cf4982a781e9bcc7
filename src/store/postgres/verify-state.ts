/**
 * The second half of `ledger verify` on PostgreSQL: the ledger replayed and
 * compared with every profile's flags and subscriptions (the domain's rule,
 * replayLedger/compareState in src/consent/ledger.ts). Set-based, one range of
 * profile ids per query that returns only the lowest disagreeing id; the
 * domain's own replay of that one profile then says what disagrees. Runs on
 * the caller's connection, inside its snapshot.
 */
import { SUPPRESSION_KEY_SQL, suppressionSecret } from '../shared/suppression-rows.js';
import { NON_CONSENT_PROFILE_ACTIONS_SQL } from '../shared/ledger-chain.js';
import { addressKey } from '../../consent/suppressions.js';
import { firstPhoneChangeBreak, firstPhoneDisagreement, LAST_PHONE_CHANGES_SQL, PHONE_CHANGE_PAIRS_SQL, type LastPhoneChangeRow, type PhoneChangePairRow } from '../shared/phone-changes.js';
import type pg from 'pg';
import { CHANNELS, CONTACT_CHANNELS, type Channel } from '../../consent/channels.js';
import { GRANT_COLUMNS, GRANT_EVENTS_WHERE, grantMismatchSql } from '../shared/policy-sql.js';
import { compareState, explainGrants, replayLedger, SUBSCRIPTION_STATUS_AFTER, type StateDisagreement, type VerifyOptions } from '../../consent/ledger.js';

const STATE_RANGE = 100_000;

const bitOf = (column: string) => `CASE ${column} ${CHANNELS.map((c, i) => `WHEN '${c}' THEN ${1 << i}`).join(' ')} END`;
const storedMask = (p: string) => CHANNELS.map((c, i) => `(${p}optout_${c} << ${i})`).join(' | ');
const statusOf = (column: string) =>
  `CASE ${column} ${Object.entries(SUBSCRIPTION_STATUS_AFTER).map(([a, s]) => `WHEN '${a}' THEN '${s}'`).join(' ')} END`;

/**
 * The lowest profile id in [$1, $2] whose state disagrees with the replay, or
 * null. `last` is each (profile, channel, service)'s last event; the four arms:
 * flags that differ (no event = 0), events of a profile row that is gone,
 * subscription rows the replay does not give, replayed subscriptions without their row.
 */
const STATE_SQL = `
WITH last AS (
  SELECT DISTINCT ON (profile_id, channel, service) profile_id, channel, service, action
  FROM ledger_events WHERE profile_id BETWEEN $1 AND $2 AND action NOT IN ${NON_CONSENT_PROFILE_ACTIONS_SQL}
  ORDER BY profile_id, channel, service, id DESC
),
flags AS (
  SELECT profile_id, sum(CASE WHEN action = 'optout' THEN ${bitOf('channel')} ELSE 0 END) AS mask
  FROM last WHERE service IS NULL GROUP BY profile_id
),
subs AS (
  SELECT l.profile_id, v.id AS service_id, ${statusOf('l.action')} AS status
  FROM last l LEFT JOIN services v ON v.name = l.service WHERE l.service IS NOT NULL
)
SELECT min(pid) AS pid FROM (
  SELECT p.id AS pid FROM profiles p LEFT JOIN flags f ON f.profile_id = p.id
    WHERE p.id BETWEEN $1 AND $2 AND (${storedMask('p.')}) <> coalesce(f.mask, 0)
  UNION ALL
  SELECT l.profile_id FROM last l WHERE NOT EXISTS (SELECT 1 FROM profiles p WHERE p.id = l.profile_id)
  UNION ALL
  SELECT s.profile_id FROM subscriptions s WHERE s.profile_id BETWEEN $1 AND $2
    AND NOT EXISTS (SELECT 1 FROM subs x WHERE x.profile_id = s.profile_id AND x.service_id = s.service_id AND x.status = s.status)
  UNION ALL
  SELECT x.profile_id FROM subs x
    WHERE NOT EXISTS (SELECT 1 FROM subscriptions s WHERE s.profile_id = x.profile_id AND s.service_id IS NOT DISTINCT FROM x.service_id)
) d`;

export async function verifyPgState(client: pg.PoolClient, options: VerifyOptions = {}): Promise<StateDisagreement | null> {
  const one = async (sql: string): Promise<number> => Number((await client.query(sql)).rows[0]?.v ?? 0);
  const top = Math.max(
    await one('SELECT coalesce(max(id), 0) AS v FROM profiles'),
    await one('SELECT coalesce(max(profile_id), 0) AS v FROM ledger_events'),
    await one('SELECT coalesce(max(profile_id), 0) AS v FROM subscriptions'),
  );
  const total = await one('SELECT count(*) AS v FROM profiles');
  const totalEvents = await one('SELECT count(*) AS v FROM ledger_events');
  // One pass replays and compares a range of profiles at a time: both phases advance together.
  let replayed = 0;
  let checked = 0;
  options.onProgress?.({ phase: 'replay', events: 0, total: totalEvents });
  for (let lo = 1; lo <= top; lo += STATE_RANGE) {
    const hi = lo + STATE_RANGE - 1;
    const id = (await client.query<{ pid: number | null }>(STATE_SQL, [lo, hi])).rows[0]?.pid ?? null;
    if (id !== null) return explainAlways(client, id);
    if (options.onProgress) {
      replayed += Number((await client.query('SELECT count(*) AS v FROM ledger_events WHERE profile_id BETWEEN $1 AND $2', [lo, hi])).rows[0].v);
      checked += Number((await client.query('SELECT count(*) AS v FROM profiles WHERE id BETWEEN $1 AND $2', [lo, hi])).rows[0].v);
      options.onProgress({ phase: 'replay', events: replayed, total: totalEvents });
      options.onProgress({ phase: 'state', profiles: checked, total });
    }
  }
  // Ids below 1 cannot come from the tool; rows there disagree by existing unless they are empty.
  const low = (
    await client.query<{ pid: number | null }>(
      `SELECT min(pid) AS pid FROM (SELECT id AS pid FROM profiles WHERE id < 1 AND (${storedMask('')}) <> 0
        UNION ALL SELECT profile_id FROM ledger_events WHERE profile_id < 1 UNION ALL SELECT profile_id FROM subscriptions WHERE profile_id < 1) d`,
    )
  ).rows[0]?.pid;
  return low === null || low === undefined ? null : explainAlways(client, low);
}

/** Each live profile's phone against its last change of phone (comparePhone): the first disagreement, or null (see verifyPhones for SQLite). */
export async function verifyPgPhones(client: pg.PoolClient): Promise<StateDisagreement | null> {
  const rows = (await client.query<LastPhoneChangeRow>(LAST_PHONE_CHANGES_SQL)).rows;
  if (rows.length === 0) return null;
  const secret = suppressionSecret((await client.query<{ value: string }>(SUPPRESSION_KEY_SQL)).rows[0], `database ${client.database ?? '?'}`);
  return firstPhoneDisagreement(rows, (phone) => addressKey(secret, 'phone', phone)) ?? firstPhoneChangeBreak((await client.query<PhoneChangePairRow>(PHONE_CHANGE_PAIRS_SQL)).rows);
}

/** The grants (granted_<channel>) against the ledger in one pass: the first disagreement of the lowest profile id, or null (see verifyGrants for SQLite). */
export async function verifyPgGrants(client: pg.PoolClient): Promise<StateDisagreement | null> {
  const sql = grantMismatchSql(
    `SELECT DISTINCT ON (profile_id, channel) profile_id, channel, action FROM ledger_events WHERE ${GRANT_EVENTS_WHERE} ORDER BY profile_id, channel, id DESC`,
  );
  const id = (await client.query<{ pid: number | null }>(sql)).rows[0]?.pid ?? null;
  if (id === null) return null;
  const [row] = (await client.query(`SELECT ${GRANT_COLUMNS.join(', ')} FROM profiles WHERE id = $1`, [id])).rows;
  const events = (
    await client.query<{ id: number; channel: string; service: string | null; action: string }>(
      'SELECT id, channel, service, action FROM ledger_events WHERE profile_id = $1 ORDER BY id',
      [id],
    )
  ).rows;
  const stored = Object.fromEntries(CONTACT_CHANNELS.map((c) => [c, row[`granted_${c}`] === 1]));
  return explainGrants(id, stored, replayLedger(events));
}

/** What disagrees for one profile, by the domain's replay of its events; a value no write path makes when that finds nothing. */
async function explainAlways(client: pg.PoolClient, profileId: number): Promise<StateDisagreement> {
  const [row] = (await client.query(`SELECT ${CHANNELS.map((c) => `optout_${c}`).join(', ')} FROM profiles WHERE id = $1`, [profileId])).rows;
  const events = (
    await client.query<{ id: number; channel: string; service: string | null; action: string }>(
      'SELECT id, channel, service, action FROM ledger_events WHERE profile_id = $1 ORDER BY id',
      [profileId],
    )
  ).rows;
  const subscriptions = new Map<string, string>();
  for (const s of (
    await client.query<{ name: string | null; service_id: number; status: string }>(
      'SELECT v.name, s.service_id, s.status FROM subscriptions s LEFT JOIN services v ON v.id = s.service_id WHERE s.profile_id = $1',
      [profileId],
    )
  ).rows) {
    subscriptions.set(s.name ?? `#${s.service_id}`, s.status);
  }
  const optOut = row ? (Object.fromEntries(CHANNELS.map((c) => [c, row[`optout_${c}`] === 1])) as Record<Channel, boolean>) : null;
  return (
    compareState(profileId, { optOut, subscriptions }, replayLedger(events), CHANNELS, events.length ? events[events.length - 1]!.id : null) ?? {
      profileId,
      kind: 'flag',
      channel: null,
      service: null,
      stored: null,
      ledger: null,
      eventId: null,
      detail: `profile ${profileId}: its stored state holds a value the ledger cannot give`,
    }
  );
}
