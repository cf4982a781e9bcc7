/**
 * Unsubscribe-survey answers (issue 16, shared decision 3): a `reason`
 * ledger event of the person, on the channel of the opt-out it explains (or
 * `all`), service NULL, evidence `{ reasonCode, text, forEvent }`. It changes
 * no flag and every replay ignores it. One answer per opt-out event. Pure.
 */
import type { Channel } from './channels.js';
import { invalid } from './errors.js';
import { redactAddresses, type ChangeContext } from './ledger.js';

export const REASON_CODES = ['too-many', 'not-relevant', 'never-signed-up', 'other'] as const;
export type ReasonCode = (typeof REASON_CODES)[number];

/** The longest free text kept with an answer, in characters. */
export const REASON_TEXT_MAX = 500;

export interface ReasonAnswer {
  profileId: number;
  /** The opt-out event the answer explains: an `optout` of this profile on `channel`. */
  forEvent: number;
  channel: Channel;
  reasonCode: ReasonCode;
  /** As the person wrote it (trimmed, addresses redacted; null when empty): stored as given otherwise, escaped wherever shown. */
  text: string | null;
}

export type ReasonOutcome = 'recorded' | 'already-answered' | 'no-such-opt-out';

export interface ReasonRepository {
  /**
   * Appends the answer as a `reason` event (evidence: reasonCode, text,
   * forEvent, then the context's evidence), in one transaction, unless that
   * opt-out already has an answer (`already-answered`) or `forEvent` is not an
   * `optout` of this profile on this channel (`no-such-opt-out`); then nothing is written.
   */
  record(answer: ReasonAnswer, context: ChangeContext): Promise<ReasonOutcome>;
}

/** A survey's reason code, or an `invalid` error. */
export function parseReasonCode(raw: unknown): ReasonCode {
  if (typeof raw === 'string' && (REASON_CODES as readonly string[]).includes(raw)) return raw as ReasonCode;
  throw invalid(`Unknown reason code ${JSON.stringify(raw)}: one of ${REASON_CODES.join(', ')}.`);
}

/** A survey's free text: trimmed, at most REASON_TEXT_MAX characters (longer is refused, never cut), null when empty; any email address or international phone number in it redacted (redactAddresses). */
export function parseReasonText(raw: unknown): string | null {
  if (raw === undefined || raw === null) return null;
  if (typeof raw !== 'string') throw invalid('The reason text must be text.');
  const t = raw.trim();
  if ([...t].length > REASON_TEXT_MAX) throw invalid(`The reason text is longer than ${REASON_TEXT_MAX} characters.`);
  return t === '' ? null : redactAddresses(t);
}

/** The evidence of a reason event: the decision's three fields first, then the submission's (time, client). */
export function reasonEvidence(a: ReasonAnswer, context: ChangeContext): Record<string, unknown> {
  return { reasonCode: a.reasonCode, text: a.text, forEvent: a.forEvent, ...(context.evidence ?? {}) };
}
