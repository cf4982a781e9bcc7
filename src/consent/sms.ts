/**
 * SMS replies (STOP, START, HELP…) as consent changes: the pure part. How a
 * body is normalised and classified, which texts answer it, and what the
 * store keeps of each inbound message. No I/O here: sms-inbound.ts applies
 * these rules through the store interface.
 */
import type { ChangeContext } from './ledger.js';
import type { ConsentRequest } from './store.js';
import type { NewSuppression, SuppressionTarget } from './suppressions.js';

/** What a message asks for, once normalised. */
export type SmsIntent = 'optout' | 'optin' | 'help' | 'review' | 'none';

/**
 * The keyword families: the message must be that word (or words) alone,
 * after normalisation (also written apart: `UN STOP` is UNSTOP). Opt-out: the list (TCPA's reasonable means,
 * CTIA's universal keywords, Twilio's defaults, the French STOP/ARRET).
 * Opt-in: START, UNSTOP, YES, and two French words that can only mean
 * "subscribe me again" (REABONNER, REINSCRIRE). OUI is deliberately left out:
 * it answers any question a message may ask, and a text must never undo an
 * opt-out by accident.
 */
export const SMS_KEYWORDS: Record<Exclude<SmsIntent, 'review' | 'none'>, readonly string[]> = {
  optout: ['STOP', 'STOPALL', 'STOP ALL', 'UNSUBSCRIBE', 'CANCEL', 'END', 'QUIT', 'REVOKE', 'OPTOUT', 'OPT OUT', 'ARRET', 'ARRETER', 'DESABONNER', 'DESINSCRIRE'],
  optin: ['START', 'UNSTOP', 'YES', 'REABONNER', 'REINSCRIRE'],
  help: ['HELP', 'INFO'],
};

const KEYWORD_INTENT = new Map<string, SmsIntent>(
  (Object.entries(SMS_KEYWORDS) as [SmsIntent, readonly string[]][]).flatMap(([intent, words]) => words.map((w) => [w, intent] as const)),
);

/**
 * Messages that look like an opt-out without being a keyword alone ("please
 * stop", "stop texting me", "ne plus m'envoyer"): queued for an operator's
 * review, never applied by themselves. Matched on the normalised body with
 * every character that is not a letter or a digit made a space.
 */
export const SMS_LOOK_ALIKES: readonly RegExp[] = [
  /\b(STOP|STOPALL|ARRET|ARRETE|ARRETER|ARRETEZ|UNSUBSCRIBE|DESABONNER|DESABONNEZ|DESINSCRIRE|DESINSCRIVEZ|REVOKE)\b/,
  /\bOPT ?OUT\b/,
  /\bREMOVE ME\b/,
  /\b(DON T|DO NOT|NEVER) (TEXT|MESSAGE|CONTACT|SMS)/,
  /\bNE PLUS M (ENVOYER|ECRIRE|CONTACTER)\b/,
  /\bNE M (ENVOYEZ|ECRIVEZ|CONTACTEZ) PLUS\b/,
  /\bPLUS DE (SMS|MESSAGES?|TEXTOS?)\b/,
];

/**
 * The body as matched: accents stripped (NFD, combining marks dropped: ARRÊT
 * is ARRET), case folded (upper), surrounding spaces, punctuation and symbols
 * removed, and every run of inner spaces, dashes and underscores one space
 * (`opt-out`, `OPT  OUT` are `OPT OUT`).
 */
export function normaliseSmsBody(body: string): string {
  return body
    .normalize('NFD')
    .replace(/\p{M}+/gu, '')
    .toUpperCase()
    .replace(/^[\s\p{P}\p{S}]+|[\s\p{P}\p{S}]+$/gu, '')
    .replace(/[\s\p{Pd}_]+/gu, ' ');
}

export interface SmsClassification {
  intent: SmsIntent;
  /** The normalised body (what the ledger records as the keyword of a keyword message). */
  normalised: string;
}

export function classifySms(body: string): SmsClassification {
  const normalised = normaliseSmsBody(body);
  // `UN-STOP` is UNSTOP as `OPT OUT` is OPTOUT: the words written apart still make the one keyword.
  const intent = KEYWORD_INTENT.get(normalised) ?? KEYWORD_INTENT.get(normalised.replaceAll(' ', ''));
  if (intent) return { intent, normalised };
  const words = ` ${normalised.replace(/[^A-Z0-9]+/g, ' ').trim()} `;
  return { intent: SMS_LOOK_ALIKES.some((re) => re.test(words)) ? 'review' : 'none', normalised };
}

/**
 * What became of an inbound message:
 * - `optout`: the profiles with that number are opted out of sms (`changes`
 *   counts the ledger events: 0 when they already were);
 * - `suppressed`: an opt-out word from a number no profile has: the number is
 *   suppressed (`sms-stop`), so that a profile imported later with it is unreachable;
 * - `optin`: an opt-in word that cleared an sms opt-out made by an SMS reply
 *   (or lifted an `sms-stop` suppression);
 * - `optin-refused`: an opt-in word that changed nothing: no profile's last
 *   sms opt-out came from an SMS reply (an operator's or a page's stands);
 * - `help`: HELP or INFO, answered with the help text;
 * - `review`: looks like an opt-out: queued for an operator (`sms review`);
 * - `ignored`: anything else.
 */
export type SmsOutcome = 'optout' | 'suppressed' | 'optin' | 'optin-refused' | 'help' | 'review' | 'ignored';

export type SmsReviewStatus = 'pending' | 'optout' | 'dismissed';

/** One inbound message as the store keeps it. The sending number is only ever its keyed hash. */
export interface SmsMessage {
  id: number;
  /** The provider's message id (Twilio's MessageSid); null when none was given. */
  messageId: string | null;
  /** `twilio`, `cli`, or what `--provider` said. */
  provider: string;
  /** The keyed hash of the sending number (SmsRepository.numberKeyer), never the number. */
  fromKey: string;
  /** The number the message was sent to (the operator's own), when known. */
  to: string | null;
  /** Null once removed (retention) or when not kept. */
  body: string | null;
  /** The normalised body of a keyword message (STOP, OPT OUT, …); null otherwise. */
  keyword: string | null;
  outcome: SmsOutcome;
  /** Ledger events written for it. */
  changes: number;
  /** The text answered (TwiML `<Message>`), null for none: a retry answers the same. */
  reply: string | null;
  receivedAt: string;
  recordedAt: string;
  /** Set for review-queue items. */
  review: { status: SmsReviewStatus; decidedBy: string | null; decidedAt: string | null } | null;
}

export type NewSmsMessage = Omit<SmsMessage, 'id' | 'changes'>;

/**
 * What an SMS does to the suppression list (written with its message, in the
 * same transaction, as SuppressionRepository.add and .lift would): an
 * `sms-stop` entry for a number no profile has, or the lifting of one.
 */
export interface SmsSuppressionChange {
  add: readonly NewSuppression[];
  lift: readonly SuppressionTarget[];
  /** source = the entry's origin (`sms:<to>`), reason = why an entry is lifted. */
  context: ChangeContext;
}

/** One message to record, with the consent changes it makes (sms flags, suppressions), under its own ledger context. */
export interface SmsWrite {
  message: NewSmsMessage;
  requests: readonly ConsentRequest[];
  context: ChangeContext;
  suppression?: SmsSuppressionChange;
}

/**
 * A profile's sms flag as planned: its last sms flag event (channel sms, no
 * service) must still be `lastSmsEventId` when the batch is written, or the
 * batch is refused (someone changed it meanwhile) and planned again.
 */
export interface SmsGuard {
  profileId: number;
  lastSmsEventId: number | null;
}

export interface SmsBatch {
  writes: readonly SmsWrite[];
  guards: readonly SmsGuard[];
  /** Bodies of messages received before this time are removed (pending review items keep theirs); null: none. */
  purgeBodiesBefore: string | null;
}

/** What deciding a review item writes besides the decision: the opt-out it leads to, or nothing. */
export type SmsDecisionWrite = { requests: readonly ConsentRequest[]; context: ChangeContext; suppression?: SmsSuppressionChange } | null;

export interface SmsRecorded {
  messages: SmsMessage[];
  /** Ledger events written. */
  changes: number;
  /** Bodies removed by the retention rule. */
  purged: number;
}

/** The stored settings (`sms settings`), by name; absent: the default. */
export interface SmsSettingsValues {
  organisation?: string;
  lang?: string;
  helpText?: string;
  confirmOptOutText?: string;
  confirmOptInText?: string;
  retentionDays?: string;
}

export const SMS_SETTING_NAMES = ['organisation', 'lang', 'helpText', 'confirmOptOutText', 'confirmOptInText', 'retentionDays'] as const;

/**
 * What the SMS rules need from a store (the SQLite and PostgreSQL stores
 * implement it in src/store/{sqlite,postgres}/sms-store.ts).
 */
export interface SmsRepository {
  /**
   * The function that gives a phone number's keyed hash (HMAC-SHA256 with a
   * secret made once per store and kept in it, hex): the same number always
   * gives the same key in one store, and the key cannot be turned back into
   * the number without the secret. It is the suppression list's key of the
   * number (`suppressions.keyOf('sms', phone)`: addressKey with the store's
   * suppression key), so the SMS log, the ledger and the list name a number alike.
   */
  numberKeyer(): Promise<(phone: string) => string>;
  settings(): Promise<SmsSettingsValues>;
  /** Sets the settings given (a string) and removes those given as null (back to the default), in one transaction. */
  saveSettings(values: { [K in keyof SmsSettingsValues]?: string | null }): Promise<SmsSettingsValues>;
  /** The messages already recorded with one of these provider ids. */
  findByMessageIds(messageIds: readonly string[]): Promise<SmsMessage[]>;
  /**
   * In ONE transaction: checks every guard (a `conflict` error, nothing
   * written, when a profile's last sms flag event is no longer the one
   * planned), then for each write in order applies its requests as
   * applyConsent would (one ledger block per write, with its context), then
   * its suppression change as SuppressionRepository.add and .lift would (their
   * blocks, with its context), and inserts its message with `changes` = the
   * events written (a message id already recorded: `conflict`, nothing
   * written), then removes the bodies
   * the retention rule allows (`purgeBodiesBefore`). All or nothing.
   */
  record(batch: SmsBatch): Promise<SmsRecorded>;
  get(id: number): Promise<SmsMessage | null>;
  /** Newest first; `review: 'pending'` only the pending review-queue items. */
  list(filter?: { pendingReview?: boolean; limit?: number }): Promise<SmsMessage[]>;
  /**
   * Decides a pending review item in ONE transaction with `write` (the
   * opt-out it leads to, or nothing): the message's review becomes
   * `status`, decided by `actor` at `at`; `changes` grows by the events
   * written. `not-found` when there is no such message, `conflict` when it is
   * not a pending review item.
   */
  decide(id: number, status: Exclude<SmsReviewStatus, 'pending'>, actor: string, at: string, write: SmsDecisionWrite): Promise<SmsMessage>;
  /** Removes the bodies of messages received before `before`, except pending review items'; returns how many. */
  purgeBodies(before: string): Promise<number>;
}

export type SmsLang = 'en' | 'fr';

/** `{organisation}` is replaced by the organisation's name (or dropped with what follows it when there is none). */
export const DEFAULT_SMS_TEXTS: Record<SmsLang, { help: string; optout: string; optin: string }> = {
  en: {
    help: '{organisation}: reply STOP to receive no more text messages from us, START to receive them again.',
    optout: '{organisation}: you will receive no more text messages from us. Reply START to receive them again.',
    optin: '{organisation}: you will receive our text messages again. Reply STOP to stop them.',
  },
  fr: {
    help: '{organisation} : répondez STOP pour ne plus recevoir nos SMS, START pour les recevoir de nouveau.',
    optout: '{organisation} : vous ne recevrez plus nos SMS. Répondez START pour les recevoir de nouveau.',
    optin: '{organisation} : vous recevrez de nouveau nos SMS. Répondez STOP pour ne plus les recevoir.',
  },
};

export const DEFAULT_RETENTION_DAYS = 30;

export interface SmsSettings {
  organisation: string | null;
  lang: SmsLang;
  /** The texts as answered (the organisation filled in). */
  helpText: string;
  confirmOptOutText: string;
  confirmOptInText: string;
  /** Which of the texts are the built-in ones. */
  defaults: { helpText: boolean; confirmOptOutText: boolean; confirmOptInText: boolean };
  retentionDays: number;
}

export function fillOrganisation(template: string, organisation: string | null): string {
  if (organisation) return template.replaceAll('{organisation}', organisation);
  return template.replace(/\{organisation\}\s*:?\s*/g, '').replace(/^\p{Ll}/u, (c) => c.toUpperCase());
}

export function effectiveSmsSettings(v: SmsSettingsValues): SmsSettings {
  const lang: SmsLang = v.lang === 'fr' ? 'fr' : 'en';
  const organisation = v.organisation ?? null;
  const d = DEFAULT_SMS_TEXTS[lang];
  const days = Number(v.retentionDays);
  return {
    organisation,
    lang,
    helpText: fillOrganisation(v.helpText ?? d.help, organisation),
    confirmOptOutText: fillOrganisation(v.confirmOptOutText ?? d.optout, organisation),
    confirmOptInText: fillOrganisation(v.confirmOptInText ?? d.optin, organisation),
    defaults: { helpText: v.helpText === undefined, confirmOptOutText: v.confirmOptOutText === undefined, confirmOptInText: v.confirmOptInText === undefined },
    retentionDays: Number.isInteger(days) && days >= 0 ? days : DEFAULT_RETENTION_DAYS,
  };
}

/** The text an outcome answers with: one confirmation for a change of consent, the help text for HELP, else none. */
export function replyFor(outcome: SmsOutcome, s: SmsSettings): string | null {
  switch (outcome) {
    case 'optout':
    case 'suppressed':
      return s.confirmOptOutText;
    case 'optin':
      return s.confirmOptInText;
    case 'help':
      return s.helpText;
    default:
      return null;
  }
}
