/**
 * The overview's SQL (`consent stats`, `consent report`), one text for both
 * stores except where the dialects differ (`Dialect`). Every count is one
 * set-based statement: one scan of profiles with filtered counts for the counts
 * now, the ledger's occurred_at index for a period, and window functions for
 * the replay of reachability over time.
 */
import { CHANNELS, CONTACT_CHANNELS, type Channel } from '../../consent/channels.js';
import { basesFromRows } from '../../consent/policy.js';
import {
  countsFromStates,
  DELAY_BOUNDS,
  DELAY_BUCKETS,
  SUPPRESSIBLE_CHANNELS,
  type ChangeRow,
  type ProfileCounts,
  type StateGroup,
  type SuppressibleChannel,
} from '../../consent/stats.js';
import { CURRENT_POLICY_SQL } from './policy-sql.js';

export interface Dialect {
  /** The n-th (1-based) parameter's placeholder. */
  param(n: number): string;
  /** Seconds from ISO text `a` to ISO text `b` (b − a), as a number. */
  seconds(a: string, b: string): string;
  /** `evidence`'s top-level string member `key` (a constant name). */
  evidenceText(column: string, key: string): string;
}

/** The flag and grant columns in the order of their bits (STATE_BITS): optout_all, optout_<c>…, granted_<c>…. */
const STATE_COLUMNS = [...CHANNELS.map((c) => `optout_${c}`), ...CONTACT_CHANNELS.map((c) => `granted_${c}`)];

/**
 * A profile's state mask (src/consent/stats.ts STATE_BITS) in SQL. SQLite:
 * exactly the expression of migration 14's index profiles_consent_state (the
 * planner matches it, and then counts from the index alone; the stats test
 * checks the plan). PostgreSQL: the columns of its two partial indexes, the
 * erased bit a constant per index.
 */
export const STATE_MASK_SQLITE = `${STATE_COLUMNS.map((c, i) => `(${c} << ${i})`).join(' | ')} | ((erased_at IS NOT NULL) << 13)`;
const pgMask = (erased: string) => `(${STATE_COLUMNS.map((c, i) => `(${c} << ${i})`).join(' | ')} | ${erased})`;

/** In force at `now` on the suppression list of `channel`: its addresses. */
const suppressedAddresses = (c: SuppressibleChannel, now: string) =>
  `SELECT s.address FROM suppressions s WHERE s.channel = '${c}' AND s.address IS NOT NULL AND (s.expires_at IS NULL OR s.expires_at > ${now})`;

/**
 * The profiles whose address for `c` has an entry in force (the predicate's
 * suppression test: email for email, the phone for sms and phone), per state
 * mask: the suppression list joined to profiles through profiles_email /
 * profiles_phone, so its cost follows the list, not the profiles.
 */
export function suppressedStatesSql(dialect: 'sqlite' | 'postgres', c: SuppressibleChannel, now: string): string {
  const mask = dialect === 'sqlite' ? STATE_MASK_SQLITE : pgMask('(CASE WHEN erased_at IS NULL THEN 0 ELSE 8192 END)');
  return `SELECT ${mask} AS mask, count(*) AS n FROM profiles WHERE ${c === 'email' ? 'email' : 'phone'} IN (${suppressedAddresses(c, now)}) GROUP BY ${mask}`;
}

/** Every profile per state mask: one index-only GROUP BY (migration 14). */
export function statesSql(dialect: 'sqlite' | 'postgres'): string {
  if (dialect === 'sqlite') return `SELECT ${STATE_MASK_SQLITE} AS mask, count(*) AS n FROM profiles GROUP BY ${STATE_MASK_SQLITE}`;
  const cols = STATE_COLUMNS.join(', ');
  return `SELECT ${pgMask('0')} AS mask, count(*) AS n FROM profiles WHERE erased_at IS NULL GROUP BY ${cols}
UNION ALL
SELECT ${pgMask('8192')} AS mask, count(*) AS n FROM profiles WHERE erased_at IS NOT NULL GROUP BY ${cols}`;
}

type Rows = readonly { [k: string]: unknown }[];

/** The statements of a store's counts now, each run in one snapshot: every state, the suppressed per channel, the bases in force. */
export function profileCountQueries(dialect: 'sqlite' | 'postgres', now: string): { states: string; suppressed: Record<SuppressibleChannel, string>; policy: string } {
  const suppressed = {} as Record<SuppressibleChannel, string>;
  for (const c of SUPPRESSIBLE_CHANNELS) suppressed[c] = suppressedStatesSql(dialect, c, now);
  return { states: statesSql(dialect), suppressed, policy: CURRENT_POLICY_SQL };
}

/** The rows of profileCountQueries, counted by the domain's rule (countsFromStates). */
export function profileCountsFrom(rows: { states: Rows; suppressed: Record<SuppressibleChannel, Rows>; policy: Rows }): ProfileCounts {
  const groups = (r: Rows): StateGroup[] => r.map((x) => ({ mask: Number(x.mask), count: Number(x.n) }));
  const suppressed = {} as Record<SuppressibleChannel, StateGroup[]>;
  for (const c of SUPPRESSIBLE_CHANNELS) suppressed[c] = groups(rows.suppressed[c]);
  return countsFromStates(groups(rows.states), suppressed, basesFromRows(rows.policy as { channel: string; evidence: string | null }[]));
}

/**
 * Profile flag events (opt-out / opt-in, no service) of a period, per time,
 * action, channel and source: a range of migration 9's covering index
 * ledger_events_changes, grouped in its order (no sort, no table read). An
 * import's events share one time, so a million-row import is a handful of
 * groups; the caller sums them per day.
 */
export function changesSql(d: Dialect): string {
  return `SELECT occurred_at, action, channel, source, count(*) AS n
FROM ledger_events
WHERE occurred_at >= ${d.param(1)} AND occurred_at <= ${d.param(2)} AND action IN ('optout', 'optin') AND service IS NULL AND profile_id IS NOT NULL
GROUP BY occurred_at, action, channel, source`;
}

/** The rows of changesSql per day (YYYY-MM-DD of occurred_at). */
export function changesPerDay(rows: readonly { occurred_at: string; action: string; channel: string; source: string; n: unknown }[]): ChangeRow[] {
  const out = new Map<string, ChangeRow>();
  for (const r of rows) {
    const day = r.occurred_at.slice(0, 10);
    const key = `${day}\n${r.action}\n${r.channel}\n${r.source}`;
    const row = out.get(key);
    if (row) row.count += Number(r.n);
    else out.set(key, { day, channel: r.channel as Channel, action: r.action as ChangeRow['action'], source: r.source, count: Number(r.n) });
  }
  return [...out.values()];
}

const isDate = (s: string) => /^\d{4}-\d{2}-\d{2}$/.test(s);

/**
 * Reachability over time, replayed from the ledger in one statement. For each
 * contact channel c and profile, every event that bears on c (a flag event on
 * c or `all`, or the erasure) is given the profile's state after it with
 * running maxima over the profile's events in ledger order: the last flag
 * event of c (and of `all`) is the largest `id*2 + isOptout`, so its parity is
 * its action. Unreachable after the event = c or `all` opted out, or erased;
 * the change of that state (+1/−1) is summed per day, and the days before each
 * end give the unreachable count there; profiles existing then come from
 * created_at. The two small per-day tables are MATERIALIZED (both dialects):
 * each end's subquery reads them, and must not replay the ledger again.
 * `ends`: dates (YYYY-MM-DD), exclusive.
 */
export function replaySql(ends: readonly string[]): string {
  if (ends.length === 0 || !ends.every(isDate)) throw new Error('replay ends must be YYYY-MM-DD dates');
  const endValues = ends.map((e) => `('${e}')`).join(', ');
  const chValues = CONTACT_CHANNELS.map((c) => `('${c}')`).join(', ');
  const flagKey = (channel: string) =>
    `MAX(CASE WHEN e.channel = ${channel} AND e.action IN ('optout', 'optin') THEN e.id * 2 + CASE WHEN e.action = 'optout' THEN 1 ELSE 0 END END) OVER w`;
  return `WITH ends (t) AS (VALUES ${endValues}),
ch (c) AS (VALUES ${chValues}),
ev AS (
  SELECT e.profile_id, e.id, substr(e.occurred_at, 1, 10) AS day, ch.c,
    ${flagKey('ch.c')} AS lc,
    ${flagKey(`'all'`)} AS la,
    MAX(CASE WHEN e.action = 'erase' THEN 1 ELSE 0 END) OVER w AS er
  FROM ledger_events e CROSS JOIN ch
  WHERE e.profile_id IS NOT NULL
    AND ((e.service IS NULL AND e.action IN ('optout', 'optin') AND (e.channel = ch.c OR e.channel = 'all')) OR e.action = 'erase')
  WINDOW w AS (PARTITION BY e.profile_id, ch.c ORDER BY e.id ROWS UNBOUNDED PRECEDING)
),
st AS (
  SELECT profile_id, id, day, c,
    CASE WHEN COALESCE(lc, 0) % 2 = 1 OR COALESCE(la, 0) % 2 = 1 OR er = 1 THEN 1 ELSE 0 END AS u
  FROM ev
),
delta AS (
  SELECT c, day, u - COALESCE(LAG(u) OVER (PARTITION BY profile_id, c ORDER BY id), 0) AS d FROM st
),
per_day AS MATERIALIZED (SELECT c, day, SUM(d) AS d FROM delta GROUP BY c, day),
created AS MATERIALIZED (SELECT substr(created_at, 1, 10) AS day, count(*) AS n FROM profiles GROUP BY substr(created_at, 1, 10))
SELECT ends.t AS end_day, ch.c AS channel,
  (SELECT COALESCE(SUM(n), 0) FROM created WHERE created.day < ends.t) AS profiles,
  (SELECT COALESCE(SUM(d), 0) FROM per_day WHERE per_day.c = ch.c AND per_day.day < ends.t) AS unreachable
FROM ends CROSS JOIN ch`;
}

/** Unsubscribe-survey answers (`reason` events, shared decision 3) of a period, by evidence.reasonCode. */
export function reasonsSql(d: Dialect): string {
  const code = `COALESCE(${d.evidenceText('evidence', 'reasonCode')}, 'unknown')`;
  return `SELECT ${code} AS code, count(*) AS n FROM ledger_events
WHERE occurred_at >= ${d.param(1)} AND occurred_at <= ${d.param(2)} AND action = 'reason'
GROUP BY ${code}`;
}

/**
 * Opt-outs of a period with the time from the request (occurred_at) to the
 * commit of the block that holds them (its created_at): per source and
 * bucket, with the longest. The block is found by the index on its last event id.
 */
export function delaysSql(d: Dialect): string {
  const committed = `(SELECT b.created_at FROM ledger_blocks b WHERE b.last_event_id >= e.id ORDER BY b.last_event_id LIMIT 1)`;
  const bucket = `CASE ${DELAY_BOUNDS.map((s, i) => `WHEN secs < ${s} THEN '${DELAY_BUCKETS[i]}'`).join(' ')} ELSE '${DELAY_BUCKETS[DELAY_BUCKETS.length - 1]}' END`;
  return `SELECT source, bucket, count(*) AS n, MAX(secs) AS max_secs FROM (
  SELECT source, secs, ${bucket} AS bucket FROM (
    SELECT e.source, ${d.seconds('e.occurred_at', committed)} AS secs
    FROM ledger_events e
    WHERE e.occurred_at >= ${d.param(1)} AND e.occurred_at <= ${d.param(2)} AND e.action = 'optout' AND e.service IS NULL AND e.profile_id IS NOT NULL
  ) t
) u
GROUP BY source, bucket`;
}
