/**
 * `feedback ingest`: each message read, classified (parse.ts) and recorded by
 * the store, one report per transaction. A report recorded before changes
 * nothing, so a run interrupted halfway is finished by running it again.
 */
import type { FeedbackEntry, SoftBouncePolicy } from '../consent/feedback.js';
import type { ChangeContext } from '../consent/ledger.js';
import { normaliseEmail } from '../consent/profile.js';
import { profileIdOfLink } from '../landing/link-identity.js';
import type { LandingStore } from '../landing/repository.js';
import type { Keyring } from '../landing/tokens.js';
import { parseFeedbackMessage, type ComplaintReport, type FeedbackMessage } from './parse.js';

/** Who changes a complainant's consent: the provider that forwarded the person's "this is spam". */
export const FEEDBACK_ACTOR = 'mailbox-provider';

export interface FeedbackMessageSource {
  /** The file's name (no folder), `-` for stdin. */
  file: string;
  read(): Promise<Buffer>;
}

export interface FeedbackSummary {
  messages: number;
  hardBounces: number;
  softBounces: number;
  complaints: number;
  suppressedNow: number;
  alreadySuppressed: number;
  /** Complainants opted out of email by this run. */
  optedOut: number;
  /** Bounced addresses no profile has (suppressed all the same), and complaints that identify nobody. */
  unknownAddresses: number;
  /** Reports recorded by an earlier run (or earlier in this one): nothing changed. */
  alreadyIngested: number;
  skipped: { file: string; reason: string }[];
  malformed: { file: string; reason: string }[];
}

export interface IngestOptions {
  policy: SoftBouncePolicy;
  /** The ledger's who/when for every change (source is set per file). */
  context: Omit<ChangeContext, 'source'>;
  /** Who ran the ingest (`--actor`, …), kept in a complaint's evidence. */
  operator: string;
  onMessage?: (done: number) => void;
}

export async function ingestFeedback(
  store: LandingStore,
  keyring: Keyring,
  sources: Iterable<FeedbackMessageSource> | AsyncIterable<FeedbackMessageSource>,
  options: IngestOptions,
): Promise<FeedbackSummary> {
  const summary: FeedbackSummary = {
    messages: 0,
    hardBounces: 0,
    softBounces: 0,
    complaints: 0,
    suppressedNow: 0,
    alreadySuppressed: 0,
    optedOut: 0,
    unknownAddresses: 0,
    alreadyIngested: 0,
    skipped: [],
    malformed: [],
  };
  for await (const source of sources) {
    const message = await parseFeedbackMessage(await source.read());
    summary.messages++;
    await ingestOne(store, keyring, source.file, message, summary, options);
    options.onMessage?.(summary.messages);
  }
  return summary;
}

async function ingestOne(
  store: LandingStore,
  keyring: Keyring,
  file: string,
  message: FeedbackMessage,
  summary: FeedbackSummary,
  options: IngestOptions,
): Promise<void> {
  if (message.type === 'skipped' || message.type === 'malformed') {
    summary[message.type].push({ file, reason: message.reason });
    return;
  }
  const entry: FeedbackEntry = {
    key: message.key,
    kind: message.type,
    file,
    reportedAt: message.date ?? options.context.occurredAt,
    hardBounces: [],
    softBounces: [],
    complaint: null,
  };
  let unknown = 0;
  if (message.type === 'bounce') {
    for (const r of message.recipients) {
      const email = normaliseEmail(r.address);
      if (!email) continue;
      const list = r.kind === 'hard' ? entry.hardBounces : entry.softBounces;
      if (list.includes(email)) continue;
      list.push(email);
      if (!(await store.findProfile({ email }))) unknown++;
    }
  } else {
    const profileId = await complainant(store, keyring, message);
    if (profileId === null) unknown++;
    else entry.complaint = { profileId, evidence: { report: message.key, feedbackType: message.feedbackType, ingestedBy: options.operator } };
  }
  const result = await store.feedback.record(entry, options.policy, { ...options.context, source: `feedback:${file}` });
  if (!result.recorded) {
    summary.alreadyIngested++;
    return;
  }
  summary.hardBounces += entry.hardBounces.length;
  summary.softBounces += entry.softBounces.length;
  if (message.type === 'complaint') summary.complaints++;
  summary.unknownAddresses += unknown;
  if (result.optedOut) summary.optedOut++;
  for (const a of result.addresses) {
    if (a.outcome === 'suppressed') summary.suppressedNow++;
    else if (a.outcome === 'already-suppressed') summary.alreadySuppressed++;
  }
}

/**
 * The complaint's person: the profile a signed link of the original's
 * List-Unsubscribe names (the report's recipient is usually redacted, RFC
 * 6590), else the profile whose email an unredacted Original-Rcpt-To gives;
 * null when neither names a profile of the store.
 */
async function complainant(store: LandingStore, keyring: Keyring, report: ComplaintReport): Promise<number | null> {
  for (const url of report.unsubscribeUrls) {
    const id = profileIdOfLink(keyring, url);
    if (id !== null && (await store.findProfile({ id }))) return id;
  }
  for (const raw of report.originalRecipients) {
    const email = normaliseEmail(raw);
    const profile = email ? await store.findProfile({ email }) : null;
    if (profile) return profile.id;
  }
  return null;
}
