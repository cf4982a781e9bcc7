/**
 * The suppression list: addresses (not profiles) that must not be contacted
 * on a channel, whoever holds them. An entry blocks every profile whose
 * address for that channel is the entry's (email for `email`, phone for `sms`
 * and `phone`), profiles added later included, until it is lifted or expires.
 *
 * The ledger never holds an address in clear: a suppression event names its
 * address by `addressKey`, an HMAC-SHA256 with a secret of the store
 * (`settings.suppression_key`), so that it cannot be reversed by trying
 * addresses, yet the same address always gives the same key in one store.
 */
import { createHmac } from 'node:crypto';
import type { ContactChannel } from './channels.js';
import type { ChangeContext } from './ledger.js';

export const SUPPRESSION_CHANNELS = ['email', 'sms', 'phone'] as const;
export type SuppressionChannel = (typeof SUPPRESSION_CHANNELS)[number];

export function isSuppressionChannel(c: string): c is SuppressionChannel {
  return (SUPPRESSION_CHANNELS as readonly string[]).includes(c);
}

/** What kind of address a channel blocks: an email for `email`, a phone number (E.164) for `sms` and `phone`. */
export type AddressKind = 'email' | 'phone';
export function addressKind(channel: SuppressionChannel): AddressKind {
  return channel === 'email' ? 'email' : 'phone';
}

/** Reasons the tool itself writes; others (free text, lower-case words and hyphens) are accepted too. */
export const KNOWN_REASONS = ['hard-bounce', 'soft-bounce', 'complaint', 'unsubscribe', 'manual', 'erasure', 'sms-stop'] as const;

/** Entries with these reasons are lifted only with `force` (and the lift records that it was forced). */
export const PROTECTED_REASONS: readonly string[] = ['complaint', 'erasure'];

/**
 * When an address already has an active entry on a channel, a new entry
 * replaces it only when its reason ranks higher: `erasure` > `complaint` >
 * every other reason (all equal). So a complaint or an erasure gets its
 * protection even where a bounce was recorded first, and nothing ever turns a
 * protected entry back into one that can be lifted without `force`.
 */
export function reasonRank(reason: string): number {
  return reason === 'erasure' ? 2 : reason === 'complaint' ? 1 : 0;
}

const REASON_RE = /^[a-z0-9][a-z0-9-]{0,39}$/;
export function isValidReason(reason: string): boolean {
  return REASON_RE.test(reason);
}

/**
 * The keyed hash that names an address in the ledger (and, for an erased
 * address, in the suppression list): HMAC-SHA256(secret, `email:` + the
 * normalised email, or `phone:` + the E.164 number), lower-case hex. The
 * address must already be normalised (normaliseEmail / normalisePhone): the
 * same person's address must always give the same key. `sms` and `phone`
 * share the `phone:` kind, so one number has one key on both channels.
 */
export function addressKey(secret: Buffer, kind: AddressKind, address: string): string {
  return createHmac('sha256', secret).update(`${kind}:${address}`).digest('hex');
}

export interface Suppression {
  channel: SuppressionChannel;
  /** The normalised email or E.164 number; null for an entry kept only as its key (an erased address). */
  address: string | null;
  addressKey: string;
  reason: string;
  /** Where it came from: the event's source (`operator`, `import:<file>`, `feedback:<file>`, `sms-stop:<gateway>`…). */
  origin: string;
  note: string | null;
  /** When it was recorded (the event's time). */
  createdAt: string;
  /** After this time it no longer blocks; null: never expires. */
  expiresAt: string | null;
}

/**
 * An entry to add: by `address` (normalised; its key is computed by the
 * store) or, for an entry kept only as a keyed hash (erasure), by
 * `addressKey` with `address` null.
 */
export type NewSuppression = {
  channel: SuppressionChannel;
  reason: string;
  note?: string | null;
  expiresAt?: string | null;
} & ({ address: string; addressKey?: undefined } | { address: null; addressKey: string });

/** Names one entry: by address (normalised) or by key. */
export type SuppressionTarget = { channel: SuppressionChannel } & ({ address: string } | { addressKey: string });

export type SuppressionAddOutcome =
  /** A new entry (there was none, or only an expired one). */
  | 'added'
  /** An active entry of a lower-ranked reason (see reasonRank) was replaced by this one. */
  | 'replaced'
  /** An active entry was already there (same or higher-ranked reason): nothing recorded. */
  | 'already';

export interface SuppressionAddResult {
  outcome: SuppressionAddOutcome;
  /** The entry in force after the call (the existing one for `already`). */
  entry: Suppression;
}

export type SuppressionLiftOutcome = 'lifted' | 'absent';
export interface SuppressionLiftResult {
  outcome: SuppressionLiftOutcome;
  /** The entry that was lifted; null when there was none. */
  entry: Suppression | null;
}

export interface SuppressionFilter {
  channel?: SuppressionChannel;
  reason?: string;
  /** Also list entries past their expiry at `at` (default: only those in force at `at`). */
  includeExpired?: boolean;
  /** The time against which expiries are judged (ISO 8601); default: the store's clock. */
  at?: string;
}

/**
 * The suppression list of a store. Every change is one transaction that also
 * appends its ledger events (one per entry added, replaced or lifted) to the
 * hash chain: action `suppress` or `unsuppress`, channel = the entry's
 * channel, profile id NULL, `addressKey` set, never the address in clear.
 * A `suppress` event's reason is the entry's reason and its evidence
 * `{"expiresAt": …}` when the entry expires (else null); an `unsuppress`
 * event's reason is the context's (why it was lifted) and its evidence
 * `{"forced": true, "liftedReason": …}` when a protected entry was lifted.
 * The event's source is the entry's origin, its time the entry's createdAt.
 * `ledger verify` replays these events: the table holds, for each (channel,
 * addressKey) whose last event is `suppress`, exactly one row with that
 * event's reason, source (origin), time (createdAt) and expiry; and no other row.
 */
export interface SuppressionRepository {
  /**
   * The key `addressKey` gives `address` (normalised) for `channel` with this store's secret.
   */
  keyOf(channel: SuppressionChannel, address: string): Promise<string>;
  /**
   * Adds entries in ONE transaction (all or none), in order; a second entry
   * for the same (channel, key) in one call is judged against the first.
   * For each: no entry, or an entry expired at `context.occurredAt` →
   * `added` (an expired one is replaced); an active entry whose reason ranks
   * lower (reasonRank) → `replaced`; else `already`, nothing written.
   * `context.source` is the origin, `context.occurredAt` the createdAt;
   * `context.reason` is not used (each entry has its own).
   * An `invalid` error for an entry whose reason is not a valid reason, or
   * whose expiry is not after `context.occurredAt`.
   * `dryRun`: the same results from the same transaction, rolled back: nothing written.
   */
  add(entries: readonly NewSuppression[], context: ChangeContext, options?: { dryRun?: boolean }): Promise<SuppressionAddResult[]>;
  /**
   * Lifts entries in ONE transaction: each named entry present (active or
   * expired) is deleted and an `unsuppress` event recorded; `absent` when
   * there is none. `context.reason` (why) is required. When an entry has a
   * protected reason (PROTECTED_REASONS) and `force` is not set, nothing is
   * lifted at all: an `invalid` error names the address (or key) and the flag.
   */
  lift(targets: readonly SuppressionTarget[], context: ChangeContext, options?: { force?: boolean }): Promise<SuppressionLiftResult[]>;
  /**
   * Entries matching the filter, ordered by channel, then address (keyed-only
   * entries last, by key).
   */
  list(filter?: SuppressionFilter): AsyncIterable<Suppression>;
  /** The entry for this normalised address on this channel (found by its key, so a keyed-only entry is found too), active or expired; null if none. */
  findByAddress(channel: SuppressionChannel, address: string): Promise<Suppression | null>;
  /** The entry with this key on this channel, active or expired; null if none. */
  findByKey(channel: SuppressionChannel, addressKey: string): Promise<Suppression | null>;
  /**
   * The entries that block a profile with this email and phone at `at`
   * (default: the store's clock): at most one per channel (`email` for the
   * email, `sms` and `phone` for the phone), matched by address.
   */
  blocking(email: string | null, phone: string | null, at?: string): Promise<Suppression[]>;
  /**
   * `blocking` for several profiles' addresses in one read: entry i of the
   * result is exactly what `blocking(addresses[i].email, addresses[i].phone, at)`
   * gives (same entries, same order).
   */
  blockingMany(addresses: readonly { email: string | null; phone: string | null }[], at?: string): Promise<Suppression[][]>;
  /**
   * For keyed-only entries (address NULL) whose key is the key of one of
   * these normalised addresses, fills in the address again, so that the
   * reachability join (by address) finds them: what makes an erased address
   * that comes back unreachable. No ledger event (the ledger knows the key
   * only). Returns how many entries were filled in.
   */
  restoreAddresses(addresses: readonly { channel: SuppressionChannel; address: string }[]): Promise<number>;
}

/** The channels blocked by suppression entries, for the domain's reachability (see blockedBy). */
export type SuppressedChannels = ReadonlySet<ContactChannel> | readonly ContactChannel[];

/**
 * `--expires 90d` (days), `12h`, `2w`, or an ISO 8601 time: the absolute
 * expiry, after `now`; null when `raw` is a problem (the caller names the flag).
 */
export function parseExpiry(raw: string, nowIso: string): string | null {
  const m = /^(\d{1,5})\s*([hdw])$/.exec(raw.trim());
  const now = Date.parse(nowIso);
  if (m) {
    const n = Number(m[1]);
    if (n <= 0) return null;
    const hours = m[2] === 'h' ? n : m[2] === 'd' ? n * 24 : n * 24 * 7;
    return new Date(now + hours * 3_600_000).toISOString();
  }
  if (!/^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2}))?$/.test(raw.trim())) return null;
  const t = Date.parse(raw.trim());
  if (Number.isNaN(t) || t <= now) return null;
  return new Date(t).toISOString();
}

/** Whether an entry blocks at `at` (ISO 8601; both compare as text, in the same format). */
export function isActive(s: Pick<Suppression, 'expiresAt'>, at: string): boolean {
  return s.expiresAt === null || s.expiresAt > at;
}
