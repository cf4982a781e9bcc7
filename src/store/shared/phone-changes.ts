/**
 * The changes of phone number an import makes (issue 15: the `address`
 * event, src/consent/ledger.ts), written once for both stores: planned from
 * the import's plan table (one row per email: phone, cur_phone, is_new,
 * profile_id) in the import's own transaction and block, set-based like the
 * grants (import-grants.ts). The evidence is built in SQL from the address
 * keys, computed in the query by the dialect's key expression (`keyOf`, the
 * HMAC-SHA256 of addressKey with the store's secret), so that no number is
 * ever written into the ledger, and the text is byte for byte
 * JSON.stringify({ from, to }) (keys are lower-case hex).
 */
import { comparePhone, comparePhoneChanges, type StateDisagreement } from '../../consent/ledger.js';

/**
 * A plan row (`ip`) whose import changes an existing profile's phone. An
 * empty phone cell keeps the phone (the UPDATE's coalesce), so an import
 * never clears one: the change is null → number or number → another number.
 */
export const PHONE_CHANGED_SQL = (ip = 'ip') =>
  `(NOT ${ip}.is_new AND ${ip}.phone IS NOT NULL AND (${ip}.cur_phone IS NULL OR ${ip}.phone <> ${ip}.cur_phone))`;

/** How many `address` events phoneChangeEventsSql would give (a dry run's count). */
export const phoneChangeCountSql = (plan: string) => `SELECT count(*) AS n FROM ${plan} ip WHERE ${PHONE_CHANGED_SQL()}`;

/** `{"from":<key or null>,"to":<key or null>}` from two SQL expressions of keys (NULL: no phone), as JSON.stringify writes it. */
export function addressChangeEvidenceSql(fromKey: string, toKey: string): string {
  const k = (x: string) => `coalesce('"' || ${x} || '"', 'null')`;
  return `'{"from":' || ${k(fromKey)} || ',"to":' || ${k(toKey)} || '}'`;
}

/**
 * profile_id, channel, service, action, evidence of the plan's `address`
 * events, in the plan's order (`order`). Run after the profiles are written
 * (the plan still holds the phone each had before, cur_phone).
 */
export function phoneChangeEventsSql(o: { plan: string; order: string; keyOf: (address: string) => string }): string {
  return `SELECT ip.profile_id AS profile_id, 'all' AS channel, NULL AS service, 'address' AS action,
      ${addressChangeEvidenceSql(o.keyOf('ip.cur_phone'), o.keyOf('ip.phone'))} AS evidence
    FROM ${o.plan} ip WHERE ${PHONE_CHANGED_SQL()} ORDER BY ${o.order}`;
}

/**
 * For `ledger verify`: each live profile's last `address` event, with the
 * phone it has now, by profile id. One pass over the `address` events (the
 * index ledger_events_phone_changes) and one join, not a probe per event: a
 * store copy verifies inside its load transaction, before the tables have
 * planner statistics, where a correlated probe was planned as a scan per event.
 */
export const LAST_PHONE_CHANGES_SQL = `SELECT e.profile_id, e.id, e.evidence, p.phone FROM (
    SELECT profile_id, id, evidence, row_number() OVER (PARTITION BY profile_id ORDER BY id DESC) AS nth
    FROM ledger_events WHERE action = 'address') e
  JOIN profiles p ON p.id = e.profile_id
  WHERE e.nth = 1 AND p.erased_at IS NULL
  ORDER BY e.profile_id`;

/** A row of LAST_PHONE_CHANGES_SQL. */
export type LastPhoneChangeRow = { profile_id: number; id: number; evidence: string | null; phone: string | null };

/** The first (lowest profile id) live profile whose phone is not what its last change of phone recorded (comparePhone), or null. */
export function firstPhoneDisagreement(rows: Iterable<LastPhoneChangeRow>, keyOf: (phone: string) => string): StateDisagreement | null {
  for (const r of rows) {
    const evidence = r.evidence === null ? null : (JSON.parse(r.evidence) as Record<string, unknown>);
    const found = comparePhone(Number(r.profile_id), r.phone === null ? null : keyOf(r.phone), { id: Number(r.id), evidence });
    if (found) return found;
  }
  return null;
}

/**
 * For `ledger verify`: each `address` event after a profile's first, with the
 * one before it (by profile, then id), through ledger_events_phone_changes.
 */
export const PHONE_CHANGE_PAIRS_SQL = `SELECT profile_id, id, evidence, prev_id, prev_evidence FROM (
    SELECT profile_id, id, evidence, lag(id) OVER w AS prev_id, lag(evidence) OVER w AS prev_evidence
    FROM ledger_events WHERE action = 'address' WINDOW w AS (PARTITION BY profile_id ORDER BY id)) t
  WHERE prev_id IS NOT NULL ORDER BY profile_id, id`;

/** A row of PHONE_CHANGE_PAIRS_SQL. */
export type PhoneChangePairRow = { profile_id: number; id: number; evidence: string | null; prev_id: number; prev_evidence: string | null };

/** The first (lowest profile id) change of phone that does not start from the number the one before it left (comparePhoneChanges), or null. */
export function firstPhoneChangeBreak(rows: Iterable<PhoneChangePairRow>): StateDisagreement | null {
  const parsed = (e: string | null) => (e === null ? null : (JSON.parse(e) as Record<string, unknown>));
  for (const r of rows) {
    const found = comparePhoneChanges(Number(r.profile_id), { id: Number(r.prev_id), evidence: parsed(r.prev_evidence) }, { id: Number(r.id), evidence: parsed(r.evidence) });
    if (found) return found;
  }
  return null;
}
