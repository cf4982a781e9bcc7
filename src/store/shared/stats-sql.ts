/**
 * The overview's SQL (`consent stats`, `consent report`), one text for both
 * stores except where the dialects differ (`Dialect`). Every count is one
 * set-based statement: the profiles per consent state (migration 14's index)
 * and the suppressed per state (the suppression list joined to profiles) for
 * the counts now, the ledger's occurred_at index for a period. Reachability
 * over time: reach-over-time-sql.ts.
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
/** The state mask of the unaliased profiles row (any query): SQLite's indexed expression, or PostgreSQL's columns. */
export const stateMaskSql = (dialect: 'sqlite' | 'postgres') => (dialect === 'sqlite' ? STATE_MASK_SQLITE : pgMask('(CASE WHEN erased_at IS NULL THEN 0 ELSE 8192 END)'));
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
  const mask = stateMaskSql(dialect);
  const column = c === 'email' ? 'email' : 'phone';
  if (dialect === 'sqlite') return `SELECT ${mask} AS mask, count(*) AS n FROM profiles WHERE ${column} IN (${suppressedAddresses(c, now)}) GROUP BY ${mask}`;
  // PostgreSQL plans the IN as a hash semi-join over a scan of profiles once the list is a
  // percent of them; the LATERAL subquery (OFFSET 0: not flattened) keeps one index probe per
  // entry. An address is on a channel's list once (suppressions_key), so the join counts no profile twice.
  return `SELECT p.mask, count(*) AS n FROM (${suppressedAddresses(c, now)}) s
CROSS JOIN LATERAL (SELECT ${mask} AS mask FROM profiles WHERE profiles.${column} = s.address OFFSET 0) p GROUP BY p.mask`;
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
