/**
 * What both stores' feedback repositories share: the suppression a feedback
 * entry adds, and how its outcome is told.
 */
import { softBounceLimitReached, type FeedbackAddressOutcome, type SoftBouncePolicy } from '../../consent/feedback.js';
import type { NewSuppression, SuppressionAddResult } from '../../consent/suppressions.js';

export type FeedbackReason = 'hard-bounce' | 'soft-bounce' | 'complaint';

/** The email suppression of a bounce or complaint; origin and time are the change context's (`feedback:<file>`). */
export function feedbackSuppression(address: string, reason: FeedbackReason): NewSuppression {
  return { channel: 'email', address, reason, note: null, expiresAt: null };
}

export function suppressionOutcome([result]: readonly SuppressionAddResult[]): FeedbackAddressOutcome {
  return result!.outcome === 'already' ? 'already-suppressed' : 'suppressed';
}

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
