/**
 * The SQL of reachability over time (src/consent/reach-over-time.ts), shared
 * by both stores: the profiles per (state now, first quiet point) in one
 * pass, the suppressed per point through the as-of engine's lists, and the
 * as-of predicate (reachableAtSql) on the profiles changed since a point.
 * "Decisive" events of a profile: its optin/optout (service NULL), erase and
 * address (a change of phone) events, the only own events reachability reads
 * (reason, subscription and every other event change none of it). A profile
 * whose phone changed after a point is thus replayed there, with the key of the
 * phone it had then (the as-of engine's apartIds).
 */
import { CONTACT_CHANNELS, type ContactChannel } from '../../consent/channels.js';
import type { Basis } from '../../consent/as-of.js';
import type { QuietGroup } from '../../consent/reach-over-time.js';
import { position, reachableAtSql, suppressedAtSql, type AsOfDialect, type AudienceLists } from './as-of-sql.js';
import { timeSql } from './reachability-sql.js';
import { stateMaskSql } from './stats-sql.js';

export interface ReplayPointSql {
  at: string;
  eventId: number;
}

/** A row of quietBucketsSql or suppressedBucketsSql (numbers may come back as text from PostgreSQL). */
export type QuietGroupRow = { mask: number | string; k: number | string; c?: number | string; n: number | string };

/** Those rows as the domain's groups (reach-over-time.ts). */
export function toQuietGroups(rows: readonly QuietGroupRow[]): (QuietGroup & { existsFrom: number })[] {
  return rows.map((r) => ({ mask: Number(r.mask), quietFrom: Number(r.k), existsFrom: Number(r.c ?? 0), count: Number(r.n) }));
}

const DECISIVE_ACTIONS = `('optout', 'optin', 'erase', 'address')`;
const DECISIVE = `profile_id IS NOT NULL AND service IS NULL AND action IN ${DECISIVE_ACTIONS}`;

/** Each profile's last decisive event after N (profile_id, last). */
const lateSql = (n: number) => `SELECT profile_id, max(id) AS last FROM ledger_events WHERE id > ${position(n)} AND ${DECISIVE} GROUP BY profile_id`;

/**
 * The first point at which the profile p is quiet: created by T_k, no decisive event after N_k;
 * points.length when none. `last`: its last decisive event after the first point (NULL: none).
 */
function quietFromSql(points: readonly ReplayPointSql[], last = 'l.last'): string {
  const whens = points.map((pt, k) => `WHEN p.created_at <= ${timeSql(pt.at)} AND coalesce(${last}, 0) <= ${position(pt.eventId)} THEN ${k}`);
  return `CASE ${whens.join(' ')} ELSE ${points.length} END`;
}

/** The first point by whose time the profile existed (points.length: none). */
function createdFromSql(points: readonly ReplayPointSql[]): string {
  return `CASE ${points.map((pt, k) => `WHEN p.created_at <= ${timeSql(pt.at)} THEN ${k}`).join(' ')} ELSE ${points.length} END`;
}

/**
 * Every profile per (state mask now, first quiet point, first point it
 * existed at): one pass over profiles and the ledger's events after the first
 * point. The profiles existing but not quiet at a point are those the as-of
 * predicate must replay there (changedReachableSql), none at most points.
 */
export function quietBucketsSql(dialect: 'sqlite' | 'postgres', points: readonly ReplayPointSql[]): string {
  return `WITH late AS (${lateSql(points[0]!.eventId)})
SELECT ${stateMaskSql(dialect)} AS mask, ${quietFromSql(points)} AS k, ${createdFromSql(points)} AS c, count(*) AS n
FROM profiles p LEFT JOIN late l ON l.profile_id = p.id GROUP BY 1, 2, 3`;
}

/** The profiles whose address for `channel` was suppressed at a point (the as-of engine's lists), per (state mask, first quiet point). */
export function suppressedBucketsSql(
  dialect: 'sqlite' | 'postgres',
  points: readonly ReplayPointSql[],
  channel: ContactChannel,
  lists: { addresses: string | null; keys: string | null },
  d: AsOfDialect,
): string | null {
  const suppressed = suppressedAtSql('p.', channel, lists, d);
  if (suppressed === null) return null;
  // Few profiles: each one's last decisive event is probed through ledger_events_profile (profile_id, channel, id).
  const last = `(SELECT max(e.id) FROM ledger_events e WHERE e.profile_id = p.id AND e.id > ${position(points[0]!.eventId)} AND e.service IS NULL AND e.action IN ${DECISIVE_ACTIONS})`;
  return `SELECT ${stateMaskSql(dialect)} AS mask, ${quietFromSql(points, last)} AS k, count(*) AS n
FROM profiles p WHERE ${suppressed} GROUP BY 1, 2`;
}

/**
 * Of the profiles created by T with a decisive event after N (not quiet at
 * the point), those the as-of predicate finds reachable, per contact channel
 * (columns named after the channels). `lists`: the as-of engine's suppressed
 * lists of the point, per suppressible channel.
 */
export function changedReachableSql(
  point: ReplayPointSql,
  bases: Record<ContactChannel, Basis>,
  lists: Partial<Record<ContactChannel, AudienceLists>>,
  d: AsOfDialect,
): string {
  const none = { addresses: null, keys: null };
  const cols = CONTACT_CHANNELS.map(
    (c) => `count(*) FILTER (WHERE ${reachableAtSql(c, 'p.', point.eventId, point.at, bases[c], lists[c] ?? none, d)}) AS ${c}`,
  );
  return `SELECT ${cols.join(',\n  ')}
FROM profiles p WHERE p.created_at <= ${timeSql(point.at)} AND p.id IN (SELECT profile_id FROM ledger_events WHERE id > ${position(point.eventId)} AND ${DECISIVE})`;
}
