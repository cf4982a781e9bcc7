/**
 * Feedback from mailbox providers (bounces, complaints), as the store records
 * it: one report at a time, once. Pure: the types the store implements and
 * the soft-bounce rule both stores apply.
 */
import type { ChangeContext } from './ledger.js';

/** N soft bounces of an address within M days suppress it (`--soft-bounces N --soft-window Md`). */
export interface SoftBouncePolicy {
  count: number;
  windowDays: number;
}

export const DEFAULT_SOFT_BOUNCE_POLICY: SoftBouncePolicy = { count: 3, windowDays: 14 };

/** What one report asks the store to record, in one transaction. */
export interface FeedbackEntry {
  /** The report's identity (`message-id:<…>` or `sha256:<…>`): a report already recorded changes nothing. */
  key: string;
  kind: 'bounce' | 'complaint';
  /** The report's file name (`-` for stdin), for the record and the suppressions' origin `feedback:<file>`. */
  file: string;
  /** When the report was written (its Date), else when it was read: the time soft bounces count at. */
  reportedAt: string;
  /** Normalised emails that bounced for good: each is suppressed (`hard-bounce`). */
  hardBounces: string[];
  /** Normalised emails that bounced for now: each is counted, by its keyed hash only, and suppressed (`soft-bounce`) when the policy's limit is reached. */
  softBounces: string[];
  /** A complaint's person: opted out of `email` (a ledger change with this evidence) and their email suppressed (`complaint`). */
  complaint: { profileId: number; evidence: Record<string, unknown> } | null;
}

export type FeedbackAddressOutcome = 'suppressed' | 'already-suppressed' | 'counted';

export interface FeedbackRecorded {
  /** False when the report had been recorded before: then nothing was changed. */
  recorded: boolean;
  /** One per address of the entry (hard bounces, soft bounces, then the complainant's email), in that order. */
  addresses: { address: string; cause: 'hard-bounce' | 'soft-bounce' | 'complaint'; outcome: FeedbackAddressOutcome }[];
  /** Whether the complaint's opt-out of email changed the profile (false when already opted out, or no complaint). */
  optedOut: boolean;
}

export interface FeedbackRepository {
  /**
   * Records one report in one transaction: the report's key (so that it is
   * recorded once), soft bounces (keyed hash of the address and the time,
   * never the address), the suppressions it causes (ledger events) and a
   * complaint's opt-out of `email` (ledger events, `context`). When the key
   * was recorded before, nothing is written and `recorded` is false.
   */
  record(entry: FeedbackEntry, policy: SoftBouncePolicy, context: ChangeContext): Promise<FeedbackRecorded>;
}

/**
 * Whether some window of `windowDays` days holds at least `count` of these
 * times (ISO-8601, any order): the soft-bounce limit.
 */
export function softBounceLimitReached(times: readonly string[], policy: SoftBouncePolicy): boolean {
  const t = times.map((s) => Date.parse(s)).sort((a, b) => a - b);
  const span = policy.windowDays * 86_400_000;
  for (let i = 0; i + policy.count - 1 < t.length; i++) {
    if (t[i + policy.count - 1]! - t[i]! <= span) return true;
  }
  return false;
}
