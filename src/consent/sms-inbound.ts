/**
 * The SMS rules applied through the store interface: a batch of inbound
 * messages (one webhook call, one command, one file) is planned against the
 * store as it is, then written in one transaction (SmsRepository.record).
 * A change made meanwhile by someone else (a guard fails, or a provider's
 * retry was recorded first) makes the batch be planned again.
 */
import { conflict, isConsentError, notFound } from './errors.js';
import type { ChangeContext, LedgerEvent } from './ledger.js';
import type { Profile } from './profile.js';
import {
  classifySms,
  effectiveSmsSettings,
  replyFor,
  type SmsDecisionWrite,
  type SmsGuard,
  type SmsMessage,
  type SmsOutcome,
  type SmsSettings,
  type SmsWrite,
} from './sms.js';
import type { ConsentRequest, ConsentStore } from './store.js';
import { isActive, type NewSuppression, type SuppressionTarget } from './suppressions.js';

/** The suppression reason an SMS STOP from an unknown number records, and the only one a START lifts. */
export const SMS_STOP_REASON = 'sms-stop';

/** One inbound message as received; `from` already E.164. */
export interface InboundSms {
  from: string;
  body: string;
  receivedAt: string;
  to?: string | null;
  messageId?: string | null;
  provider: string;
}

export interface InboundResult {
  /** The stored message (for a duplicate: the one recorded first). */
  message: Pick<SmsMessage, 'messageId' | 'outcome' | 'keyword' | 'reply' | 'changes'> & { id: number | null };
  /** The same message id was already recorded: nothing was done again. */
  duplicate: boolean;
}

export interface InboundSummary {
  results: InboundResult[];
  /** Ledger events written (0 on a dry run). */
  changes: number;
  /** Bodies removed by the retention rule. */
  purged: number;
  dryRun: boolean;
}

/** The sms flag of one profile as the batch sees it, so that STOP then START in one file read as a person would mean them. */
interface SmsFlagState {
  optedOut: boolean;
  /** The last sms flag event is an opt-out made by an SMS reply. */
  bySms: boolean;
  /** The last sms flag event's id when planning began (the guard). */
  lastEventId: number | null;
}

/** The ledger source of changes made by SMS replies: `sms:<number written to>`, else `sms:<provider>`. */
export function smsSource(m: { to?: string | null; provider: string }): string {
  return `sms:${m.to || m.provider}`;
}

export const isSmsSource = (source: string) => source.startsWith('sms:');

/** The last event that set a profile's sms flag (not a subscription event of an sms service). */
function lastSmsFlagEvent(history: readonly LedgerEvent[]): LedgerEvent | null {
  return history.find((e) => e.channel === 'sms' && e.service === null) ?? null;
}

export function retentionCutoff(now: Date, settings: SmsSettings): string {
  return new Date(now.getTime() - settings.retentionDays * 86_400_000).toISOString();
}

const MAX_ATTEMPTS = 4;

/**
 * Applies the SMS rules to `messages`, all in one transaction (or, with
 * `dryRun`, only says what would happen). `now` is when they are recorded.
 */
export async function receiveSms(
  store: ConsentStore,
  messages: readonly InboundSms[],
  options: { now: Date; dryRun?: boolean },
): Promise<InboundSummary> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await receiveOnce(store, messages, options);
    } catch (e) {
      // A guard failed or a retry was recorded first: plan again against the store as it now is.
      if (isConsentError(e, 'conflict') && (e as { replan?: boolean }).replan && attempt < MAX_ATTEMPTS) continue;
      throw e;
    }
  }
}

async function receiveOnce(store: ConsentStore, messages: readonly InboundSms[], options: { now: Date; dryRun?: boolean }): Promise<InboundSummary> {
  const settings = effectiveSmsSettings(await store.sms.settings());
  const keyOf = await store.sms.numberKeyer();
  const ids = [...new Set(messages.map((m) => m.messageId).filter((x): x is string => !!x))];
  const known = new Map((await store.sms.findByMessageIds(ids)).map((m) => [m.messageId!, m]));
  const profilesByPhone = new Map<string, Profile[]>();
  const flags = new Map<number, SmsFlagState>();
  const guards = new Map<number, SmsGuard>();
  const recordedAt = options.now.toISOString();

  const profilesOf = async (phone: string) => {
    let found = profilesByPhone.get(phone);
    if (!found) profilesByPhone.set(phone, (found = await store.findProfilesByPhone(phone)));
    return found;
  };
  const flagOf = async (p: Profile): Promise<SmsFlagState> => {
    let f = flags.get(p.id);
    if (!f) {
      const last = lastSmsFlagEvent(await store.history(p.id));
      f = { optedOut: p.optOut.sms, bySms: last?.action === 'optout' && isSmsSource(last.source), lastEventId: last?.id ?? null };
      flags.set(p.id, f);
    }
    return f;
  };

  // Per number: is there an `sms-stop` entry in force (as the batch leaves it)?
  const smsStops = new Map<string, boolean>();
  const smsStopOf = async (phone: string) => {
    let stopped = smsStops.get(phone);
    if (stopped === undefined) {
      const entry = await store.suppressions.findByAddress('sms', phone);
      smsStops.set(phone, (stopped = entry !== null && entry.reason === SMS_STOP_REASON && isActive(entry, recordedAt)));
    }
    return stopped;
  };

  const writes: SmsWrite[] = [];
  const results: InboundResult[] = [];
  const seen = new Map<string, InboundResult>();
  for (const m of messages) {
    const id = m.messageId || null;
    const earlier = id ? (known.get(id) ?? null) : null;
    if (earlier) {
      results.push({ message: earlier, duplicate: true });
      continue;
    }
    if (id && seen.has(id)) {
      results.push({ ...seen.get(id)!, duplicate: true });
      continue;
    }
    const { intent, normalised } = classifySms(m.body);
    const requests: ConsentRequest[] = [];
    const add: NewSuppression[] = [];
    const lift: SuppressionTarget[] = [];
    let outcome: SmsOutcome;
    if (intent === 'optout') {
      const profiles = await profilesOf(m.from);
      for (const p of profiles) {
        const f = await flagOf(p);
        if (!f.optedOut) Object.assign(f, { optedOut: true, bySms: true });
        requests.push({ profileId: p.id, wanted: { sms: true } });
      }
      if (profiles.length === 0) {
        // No profile has the number: suppressed by address, so that one imported later with it is unreachable by sms.
        if (!(await smsStopOf(m.from))) add.push({ channel: 'sms', address: m.from, reason: SMS_STOP_REASON });
        smsStops.set(m.from, true);
      }
      outcome = profiles.length > 0 ? 'optout' : 'suppressed';
    } else if (intent === 'optin') {
      for (const p of await profilesOf(m.from)) {
        const f = await flagOf(p);
        if (!f.optedOut || !f.bySms) continue;
        f.optedOut = false;
        requests.push({ profileId: p.id, wanted: { sms: false } });
        guards.set(p.id, { profileId: p.id, lastSmsEventId: f.lastEventId });
      }
      if (await smsStopOf(m.from)) {
        lift.push({ channel: 'sms', address: m.from });
        smsStops.set(m.from, false);
      }
      outcome = requests.length > 0 || lift.length > 0 ? 'optin' : 'optin-refused';
    } else {
      outcome = intent === 'help' ? 'help' : intent === 'review' ? 'review' : 'ignored';
    }
    const fromKey = keyOf(m.from);
    const keyword = intent === 'optout' || intent === 'optin' || intent === 'help' ? normalised : null;
    const reply = replyFor(outcome, settings);
    const context: ChangeContext = {
      source: smsSource(m),
      actor: 'subject',
      reason: null,
      evidence: { messageId: id, receivedAt: m.receivedAt, keyword, from: fromKey },
      occurredAt: recordedAt,
    };
    writes.push({
      message: {
        messageId: id,
        provider: m.provider,
        fromKey,
        to: m.to ?? null,
        body: m.body,
        keyword,
        outcome,
        reply,
        receivedAt: m.receivedAt,
        recordedAt,
        review: outcome === 'review' ? { status: 'pending', decidedBy: null, decidedAt: null } : null,
      },
      requests,
      context,
      ...(add.length > 0 || lift.length > 0 ? { suppression: { add, lift, context: { ...context, reason: lift.length > 0 ? 'opted in again by SMS reply' : null } } } : {}),
    });
    const result: InboundResult = { message: { id: null, messageId: id, outcome, keyword, reply, changes: 0 }, duplicate: false };
    results.push(result);
    if (id) seen.set(id, result);
  }

  if (options.dryRun) return { results, changes: 0, purged: 0, dryRun: true };
  const recorded = await store.sms.record({ writes, guards: [...guards.values()], purgeBodiesBefore: retentionCutoff(options.now, settings) });
  // The planned results, completed with what the store wrote (ids, events).
  let i = 0;
  for (const r of results) {
    if (r.duplicate) continue;
    const stored = recorded.messages[i++]!;
    r.message = { id: stored.id, messageId: stored.messageId, outcome: stored.outcome, keyword: stored.keyword, reply: stored.reply, changes: stored.changes };
  }
  return { results, changes: recorded.changes, purged: recorded.purged, dryRun: false };
}

/** A guard that failed or a message id recorded meanwhile: the caller plans again. */
export function replanError(message: string) {
  return Object.assign(conflict(message, 'Run it again.'), { replan: true });
}

/**
 * The profiles whose phone has this keyed hash (a review item keeps only
 * the hash of its sender): a scan of the profiles with a phone, hashing each.
 */
export async function profilesWithNumberKey(store: ConsentStore, fromKey: string): Promise<Profile[]> {
  const keyOf = await store.sms.numberKeyer();
  const found: Profile[] = [];
  for await (const p of store.listProfiles({})) if (p.phone && keyOf(p.phone) === fromKey) found.push(p);
  return found;
}

/**
 * An operator's decision on a review-queue item. `optout` applies the
 * opt-out rule to the profiles with the sender's number (source as the
 * message's, actor the operator, reason naming the message); `dismiss`
 * changes nothing. Both are recorded on the message.
 */
export async function decideReview(
  store: ConsentStore,
  id: number,
  decision: 'optout' | 'dismiss',
  who: { actor: string; now: Date },
): Promise<{ message: SmsMessage; profiles: number }> {
  const message = await store.sms.get(id);
  if (!message) throw notFound(`No SMS message ${id}.`, 'See `consent sms review` for the queue.');
  if (message.review?.status !== 'pending') {
    throw conflict(
      message.review ? `SMS message ${id} was already decided (${message.review.status} by ${message.review.decidedBy}).` : `SMS message ${id} is not in the review queue (its outcome: ${message.outcome}).`,
      'See `consent sms review` for the pending items.',
    );
  }
  const at = who.now.toISOString();
  let write: SmsDecisionWrite = null;
  let profiles = 0;
  if (decision === 'optout') {
    const found = await profilesWithNumberKey(store, message.fromKey);
    profiles = found.length;
    const context: ChangeContext = {
      source: smsSource(message),
      actor: who.actor,
      reason: `review of SMS message ${id}`,
      evidence: { messageId: message.messageId, receivedAt: message.receivedAt, keyword: null, from: message.fromKey, review: id },
      occurredAt: at,
    };
    const requests = found.map((p) => ({ profileId: p.id, wanted: { sms: true } }));
    write = { requests, context };
    if (found.length === 0 && !(await store.suppressions.findByKey('sms', message.fromKey))) {
      // No profile: the number is suppressed by its key (the log keeps no number); the list fills the address
      // back in when a profile with it arrives (restoreAddresses), and it blocks from then on.
      write = { requests, context, suppression: { add: [{ channel: 'sms', address: null, addressKey: message.fromKey, reason: SMS_STOP_REASON }], lift: [], context } };
    }
  }
  const decided = await store.sms.decide(id, decision === 'optout' ? 'optout' : 'dismissed', who.actor, at, write);
  return { message: decided, profiles };
}
