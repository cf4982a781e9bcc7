/**
 * What both stores share about the suppression list: the row and its
 * mapping, the checks of an add or a lift (the same rules, planned in
 * JavaScript from the rows read inside the store's transaction), and the
 * replay check of `ledger verify` (the suppressions table is what the
 * suppress/unsuppress events say).
 */
import { ConsentError, invalid } from '../../consent/errors.js';
import type { ChangeContext, StateDisagreement } from '../../consent/ledger.js';
import {
  isActive,
  isSuppressionChannel,
  isValidReason,
  PROTECTED_REASONS,
  reasonRank,
  type NewSuppression,
  type Suppression,
  type SuppressionAddResult,
  type SuppressionChannel,
  type SuppressionLiftResult,
} from '../../consent/suppressions.js';

export interface SuppressionRow {
  id: number;
  channel: string;
  address: string | null;
  address_key: string;
  reason: string;
  origin: string;
  note: string | null;
  created_at: string;
  expires_at: string | null;
}

export const SUPPRESSION_COLUMNS = 'id, channel, address, address_key, reason, origin, note, created_at, expires_at';

export const toSuppression = (r: SuppressionRow): Suppression => ({
  channel: r.channel as SuppressionChannel,
  address: r.address,
  addressKey: r.address_key,
  reason: r.reason,
  origin: r.origin,
  note: r.note,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
});

/** Checks every entry before anything is written (an `invalid` error naming the first bad one). */
export function checkNewSuppressions(entries: readonly NewSuppression[], context: ChangeContext): void {
  entries.forEach((e, i) => {
    const which = entries.length > 1 ? `entry ${i + 1}: ` : '';
    if (!isSuppressionChannel(e.channel)) throw invalid(`${which}"${e.channel}" is not a channel of the suppression list.`, 'Use email, sms or phone.');
    if (!isValidReason(e.reason)) {
      throw invalid(`${which}the reason "${e.reason}" is not valid.`, 'Use lower-case letters, digits and hyphens, e.g. hard-bounce, complaint, manual.');
    }
    if (e.expiresAt != null && !(e.expiresAt > context.occurredAt)) throw invalid(`${which}the expiry ${e.expiresAt} is not in the future.`);
    if (e.address === null && !/^[0-9a-f]{64}$/.test(e.addressKey)) throw invalid(`${which}an address key is 64 hexadecimal digits.`);
  });
}

/** Thrown at the end of a dry run's transaction so that it rolls back; carries the results. */
export class DryRunRollback<T> extends Error {
  constructor(readonly results: T) {
    super('dry run');
  }
}

/** Runs `transaction` and returns its results; a dry run's rollback is no error. */
export async function rolledBackOr<T>(transaction: () => Promise<T>): Promise<T> {
  try {
    return await transaction();
  } catch (e) {
    if (e instanceof DryRunRollback) return e.results as T;
    throw e;
  }
}

/** An address event to append (the stores' PendingEvent). */
export interface AddressEvent {
  profileId: null;
  channel: SuppressionChannel;
  action: 'suppress' | 'unsuppress';
  reason: string | null;
  evidence: Record<string, unknown> | null;
  addressKey: string;
}

/**
 * What an add does to one entry given the row in place (read in the
 * transaction): null for `already` (nothing to write), else the row to
 * write (insert or replace) and its event.
 */
export function planAdd(
  e: NewSuppression,
  key: string,
  existing: Suppression | null,
  context: ChangeContext,
): { result: SuppressionAddResult; write: Suppression | null; event: AddressEvent | null } {
  const active = existing !== null && isActive(existing, context.occurredAt);
  if (active && reasonRank(e.reason) <= reasonRank(existing.reason)) {
    return { result: { outcome: 'already', entry: existing }, write: null, event: null };
  }
  const entry: Suppression = {
    channel: e.channel,
    address: e.address,
    addressKey: key,
    reason: e.reason,
    origin: context.source,
    note: e.note ?? null,
    createdAt: context.occurredAt,
    expiresAt: e.expiresAt ?? null,
  };
  return {
    result: { outcome: active ? 'replaced' : 'added', entry },
    write: entry,
    event: {
      profileId: null,
      channel: e.channel,
      action: 'suppress',
      reason: e.reason,
      evidence: entry.expiresAt ? { expiresAt: entry.expiresAt } : null,
      addressKey: key,
    },
  };
}

/** The lift's rules for the rows found (null: none); throws before anything is written. */
export function planLift(
  found: readonly { label: string; entry: Suppression | null }[],
  context: ChangeContext,
  force: boolean,
): { results: SuppressionLiftResult[]; events: AddressEvent[] } {
  if (!context.reason || context.reason.trim() === '') throw invalid('Lifting a suppression needs a reason.', 'Pass --reason <why>.');
  const locked = found.filter((f) => f.entry && PROTECTED_REASONS.includes(f.entry.reason));
  if (locked.length > 0 && !force) {
    const f = locked[0]!;
    throw new ConsentError(
      'invalid',
      `${f.label} is suppressed for ${f.entry!.reason} (since ${f.entry!.createdAt}); lifting a ${PROTECTED_REASONS.join(' or ')} entry needs --force. Nothing was lifted.`,
      'Pass --force if the person really asked to be contacted again (the lift is recorded as forced).',
    );
  }
  const results: SuppressionLiftResult[] = [];
  const events: AddressEvent[] = [];
  for (const f of found) {
    if (!f.entry) {
      results.push({ outcome: 'absent', entry: null });
      continue;
    }
    results.push({ outcome: 'lifted', entry: f.entry });
    const forced = PROTECTED_REASONS.includes(f.entry.reason);
    events.push({
      profileId: null,
      channel: f.entry.channel,
      action: 'unsuppress',
      reason: context.reason,
      evidence: forced ? { forced: true, liftedReason: f.entry.reason } : null,
      addressKey: f.entry.addressKey,
    });
  }
  return { results, events };
}

/** How an entry is named in a message: its address, or the start of its key when it is kept only as a key. */
export const entryLabel = (channel: string, address: string | null, key: string) =>
  address !== null ? `${address} (${channel})` : `the erased address ${key.slice(0, 12)}… (${channel})`;

/**
 * The first (channel, address_key), in that order, where the suppressions
 * table disagrees with the replay of the address events: a (channel, key)
 * whose last event is `suppress` must have exactly its row (reason, origin =
 * source, created_at = occurred_at, expires_at = the event's evidence
 * `expiresAt`), and every row must have such an event. `expiry` is the
 * dialect's SQL for `evidence`'s `expiresAt` (text or NULL).
 */
export const SUPPRESSION_STATE_SQL = (expiry: string) => `
WITH ranked AS (
  SELECT channel, address_key, action, reason, source, occurred_at, ${expiry} AS expires_at, id,
    row_number() OVER (PARTITION BY channel, address_key ORDER BY id DESC) AS n
  FROM ledger_events WHERE address_key IS NOT NULL
),
want AS (SELECT * FROM ranked WHERE n = 1 AND action = 'suppress')
SELECT channel, address_key FROM (
  SELECT w.channel, w.address_key FROM want w WHERE NOT EXISTS (
    SELECT 1 FROM suppressions s WHERE s.channel = w.channel AND s.address_key = w.address_key
      AND s.reason IS NOT DISTINCT FROM w.reason AND s.origin = w.source AND s.created_at = w.occurred_at
      AND s.expires_at IS NOT DISTINCT FROM w.expires_at)
  UNION ALL
  SELECT s.channel, s.address_key FROM suppressions s
    WHERE NOT EXISTS (SELECT 1 FROM want w WHERE w.channel = s.channel AND w.address_key = s.address_key)
) d ORDER BY channel, address_key LIMIT 1`;

/** The last address event of a (channel, key), as the explanation needs it. */
export interface LastAddressEvent {
  id: number;
  action: string;
  reason: string | null;
  source: string;
  occurred_at: string;
  expires_at: string | null;
}

/** The disagreement found by SUPPRESSION_STATE_SQL, in words (never the address: the key's start names it). */
export function suppressionDisagreement(
  channel: string,
  key: string,
  row: SuppressionRow | null,
  last: LastAddressEvent | null,
): StateDisagreement {
  const name = `the suppression of ${key.slice(0, 12)}… on ${channel}`;
  const says = last
    ? last.action === 'suppress'
      ? `the ledger says suppressed for ${last.reason} by ${last.source} at ${last.occurred_at}${last.expires_at ? ` until ${last.expires_at}` : ''} (event ${last.id})`
      : `the ledger says lifted (event ${last.id})`
    : 'the ledger has no event for it';
  const have = row
    ? `is ${row.reason} by ${row.origin} at ${row.created_at}${row.expires_at ? ` until ${row.expires_at}` : ''}`
    : 'is absent';
  return {
    profileId: null,
    kind: 'suppression',
    channel: channel as SuppressionChannel,
    service: null,
    addressKey: key,
    stored: row ? row.reason : null,
    ledger: last?.action === 'suppress' ? last.reason : null,
    eventId: last?.id ?? null,
    detail: `${name} ${have} but ${says}`,
  };
}

/**
 * blockingMany's answer from the entries in force for all the addresses
 * (ordered by channel, as `blocking` orders them): for each profile, the
 * entries matching its email (channel email) or its phone (sms, phone).
 */
export function matchBlocking(addresses: readonly { email: string | null; phone: string | null }[], rows: readonly Suppression[]): Suppression[][] {
  const byEmail = new Map<string, Suppression[]>();
  const byPhone = new Map<string, Suppression[]>();
  for (const r of rows) {
    if (r.address === null) continue;
    const into = r.channel === 'email' ? byEmail : byPhone;
    const list = into.get(r.address);
    if (list) list.push(r);
    else into.set(r.address, [r]);
  }
  return addresses.map(({ email, phone }) => {
    const found = [...(email !== null ? (byEmail.get(email) ?? []) : []), ...(phone !== null ? (byPhone.get(phone) ?? []) : [])];
    return found.sort((a, b) => (a.channel < b.channel ? -1 : a.channel > b.channel ? 1 : 0));
  });
}

/** The store's secret of addressKey (settings.suppression_key, made by the migrations): never shown. */
export const SUPPRESSION_KEY_SQL = "SELECT value FROM settings WHERE key = 'suppression_key'";

/** SUPPRESSION_KEY_SQL's row as the key's bytes; a store without one is damaged (integrity). */
export function suppressionSecret(row: { value: string } | undefined, location: string): Buffer {
  if (!row) throw new ConsentError('integrity', `The store ${location} has no suppression key.`, 'Restore it from a backup.');
  return Buffer.from(row.value, 'hex');
}
