/**
 * What both stores' feedback repositories share: the outcome of each address
 * of a report, decided the same way once the store has done its reads.
 */
import { softBounceLimitReached, type FeedbackAddressOutcome, type FeedbackEntry, type SoftBouncePolicy } from '../../consent/feedback.js';

/** Suppression reasons of feedback, by the cause of the entry. */
export const FEEDBACK_REASONS = { 'hard-bounce': 'hard-bounce', 'soft-bounce': 'soft-bounce', complaint: 'complaint' } as const;

export const feedbackOrigin = (entry: Pick<FeedbackEntry, 'file'>) => `feedback:${entry.file}`;

/**
 * A soft bounce's outcome: `counted`, unless the address's soft bounces
 * (this one included) reach the policy's limit, then whatever suppressing it
 * gives (`suppress` is only called then).
 */
export function softBounceOutcome<T extends FeedbackAddressOutcome | Promise<FeedbackAddressOutcome>>(
  times: readonly string[],
  policy: SoftBouncePolicy,
  suppress: () => T,
): T | 'counted' {
  return softBounceLimitReached(times, policy) ? suppress() : 'counted';
}
