/**
 * Reading mailbox providers' feedback: delivery status notifications (RFC
 * 3464, `multipart/report; report-type=delivery-status`) and abuse reports
 * (ARF, RFC 5965, `report-type=feedback-report`). No store, no files: one
 * message's bytes in, what it reports out. The MIME structure is mailparser's
 * job; the report parts' fields (header-like groups) are read by readFieldGroups.
 */
import { createHash } from 'node:crypto';
import { simpleParser, type Attachment, type ParsedMail } from 'mailparser';

export type BounceKind = 'hard' | 'soft';

export interface BouncedRecipient {
  /** As the report gives it (Final-Recipient, else Original-Recipient); not normalised. */
  address: string;
  kind: BounceKind;
  /** `5.1.1`, `4.2.2`, … */
  status: string;
  action: string;
}

interface ReportBase {
  /** How the report is recorded once: `message-id:<id>`, or `sha256:<hex of the bytes>` when it has no Message-ID. */
  key: string;
  /** The report's own time (its Date header), ISO-8601; null when it has none or an unreadable one. */
  date: string | null;
}

export interface BounceReport extends ReportBase {
  type: 'bounce';
  /** The recipients that bounced (hard or soft); delivered, relayed or expanded ones are left out. */
  recipients: BouncedRecipient[];
}

export interface ComplaintReport extends ReportBase {
  type: 'complaint';
  /** `abuse`, `fraud` or `virus` (RFC 5965 section 7.3). */
  feedbackType: string;
  /** Original-Rcpt-To, often redacted (RFC 6590): a hint, never trusted over a signed link. */
  originalRecipients: string[];
  /** The http(s) URLs of the attached original's List-Unsubscribe header, in order. */
  unsubscribeUrls: string[];
}

/** Neither a bounce nor a complaint: a reply, an out-of-office, a success DSN, a not-spam report, … */
export interface SkippedMessage {
  type: 'skipped';
  /** Why it is not a report we act on, as a short sentence. */
  reason: string;
}

export interface MalformedMessage {
  type: 'malformed';
  reason: string;
}

export type FeedbackMessage = BounceReport | ComplaintReport | SkippedMessage | MalformedMessage;

/** The ARF feedback types that are a person's complaint about a message they got. */
const COMPLAINT_TYPES = new Set(['abuse', 'fraud', 'virus']);

const DELIVERY_STATUS_TYPES = new Set(['message/delivery-status', 'message/global-delivery-status']);
const ORIGINAL_MESSAGE_TYPES = new Set(['message/rfc822', 'text/rfc822-headers', 'message/global', 'message/global-headers']);

export async function parseFeedbackMessage(raw: Buffer): Promise<FeedbackMessage> {
  let mail: ParsedMail;
  try {
    // The report parts must come back as parts (attachments), not folded into the text or parsed as mails of their own.
    mail = await simpleParser(raw, { keepDeliveryStatus: true, ignoreEmbedded: true, skipHtmlToText: true, skipTextToHtml: true, skipImageLinks: true, checksumAlgo: false });
  } catch (e) {
    return { type: 'malformed', reason: `not a readable MIME message (${(e as Error).message})` };
  }
  const contentType = mail.headers.get('content-type') as { value?: string; params?: Record<string, string> } | undefined;
  const reportType = contentType?.value?.toLowerCase() === 'multipart/report' ? (contentType.params?.['report-type'] ?? '').toLowerCase() : null;
  if (reportType === null) return { type: 'skipped', reason: 'neither a delivery status notification nor an abuse report (not multipart/report)' };
  const base: ReportBase = { key: reportKey(mail, raw), date: mail.date && !Number.isNaN(mail.date.getTime()) ? mail.date.toISOString() : null };
  if (reportType === 'delivery-status') return readDeliveryStatus(mail, base);
  if (reportType === 'feedback-report') return readFeedbackReport(mail, base);
  return { type: 'skipped', reason: `a report of another type (report-type=${reportType || 'none'})` };
}

function reportKey(mail: ParsedMail, raw: Buffer): string {
  const id = mail.messageId?.trim();
  return id ? `message-id:${id}` : `sha256:${createHash('sha256').update(raw).digest('hex')}`;
}

function partOf(mail: ParsedMail, types: ReadonlySet<string>): Attachment | undefined {
  return mail.attachments.find((a) => types.has(a.contentType.toLowerCase()));
}

function readDeliveryStatus(mail: ParsedMail, base: ReportBase): BounceReport | SkippedMessage | MalformedMessage {
  const part = partOf(mail, DELIVERY_STATUS_TYPES);
  if (!part) return { type: 'malformed', reason: 'a delivery status notification without its message/delivery-status part' };
  // Group 1 is per message (Reporting-MTA, …), each later group one recipient.
  const groups = readFieldGroups(part.content.toString('utf8')).slice(1);
  if (groups.length === 0) return { type: 'malformed', reason: 'a delivery status notification that names no recipient' };
  const recipients: BouncedRecipient[] = [];
  for (const [i, fields] of groups.entries()) {
    const address = addressOf(fields.get('final-recipient') ?? fields.get('original-recipient'));
    const action = (fields.get('action') ?? '').toLowerCase();
    const status = /^\s*([245]\.\d{1,3}\.\d{1,3})/.exec(fields.get('status') ?? '')?.[1] ?? '';
    const missing = !address ? 'Final-Recipient' : !action ? 'Action' : !status ? 'Status (n.n.n)' : null;
    if (missing) return { type: 'malformed', reason: `recipient ${i + 1} of the delivery status has no ${missing} field` };
    const kind = bounceKind(action, status);
    if (kind) recipients.push({ address: address!, kind, status, action });
  }
  if (recipients.length === 0) return { type: 'skipped', reason: 'a delivery status notification that reports no failure (delivered, relayed or expanded)' };
  return { ...base, type: 'bounce', recipients };
}

/**
 * Hard: the delivery failed for good (`Action: failed`, status 5.x.x). Soft:
 * a temporary failure (status 4.x.x, or `Action: delayed`). Anything else
 * (delivered, relayed, expanded) is no bounce.
 */
export function bounceKind(action: string, status: string): BounceKind | null {
  if (action === 'delayed') return 'soft';
  if (action !== 'failed') return null;
  return status.startsWith('5.') ? 'hard' : status.startsWith('4.') ? 'soft' : null;
}

function readFeedbackReport(mail: ParsedMail, base: ReportBase): ComplaintReport | SkippedMessage | MalformedMessage {
  const part = partOf(mail, new Set(['message/feedback-report']));
  if (!part) return { type: 'malformed', reason: 'an abuse report without its message/feedback-report part' };
  const fields = readFieldGroups(part.content.toString('utf8'))[0];
  const feedbackType = fields?.get('feedback-type')?.trim().toLowerCase();
  if (!fields || !feedbackType) return { type: 'malformed', reason: 'an abuse report without a Feedback-Type field' };
  if (!COMPLAINT_TYPES.has(feedbackType)) return { type: 'skipped', reason: `a feedback report that is no complaint (Feedback-Type: ${feedbackType})` };
  const original = partOf(mail, ORIGINAL_MESSAGE_TYPES);
  const unsubscribe = original ? readFieldGroups(headerBlock(original.content.toString('utf8')))[0]?.getAll('list-unsubscribe') ?? [] : [];
  return {
    ...base,
    type: 'complaint',
    feedbackType,
    originalRecipients: (fields.getAll('original-rcpt-to')).map((v) => addressOf(v)).filter((a): a is string => Boolean(a)),
    unsubscribeUrls: unsubscribe.flatMap(listUnsubscribeUrls),
  };
}

/** The header block of a message (or a bare header block, text/rfc822-headers). */
function headerBlock(text: string): string {
  const end = /\r?\n\r?\n/.exec(text);
  return end ? text.slice(0, end.index) : text;
}

/** `<mailto:…>, <https://…>` (RFC 2369): the http(s) URLs, in order. */
export function listUnsubscribeUrls(value: string): string[] {
  const urls: string[] = [];
  for (const m of value.matchAll(/<\s*([^>]*?)\s*>/g)) {
    const url = m[1]!.replace(/\s+/g, '');
    if (/^https?:\/\//i.test(url)) urls.push(url);
  }
  return urls;
}

/** `rfc822; a@b` (or `utf-8; a@b`, RFC 6533), or a bare `<a@b>`: the address, or null. */
export function addressOf(value: string | undefined): string | null {
  if (!value) return null;
  const semi = value.indexOf(';');
  if (semi >= 0 && !/^\s*(rfc822|utf-8)\s*$/i.test(value.slice(0, semi))) return null;
  const address = value
    .slice(semi + 1)
    .trim()
    .replace(/^<(.*)>$/, '$1')
    .trim();
  return address.includes('@') ? address : null;
}

export interface FieldGroup {
  /** The first value of a field (names are case-insensitive). */
  get(name: string): string | undefined;
  getAll(name: string): string[];
}

/**
 * The field groups of a report part (RFC 3464 section 2.1, RFC 5965 section
 * 3.1): `Name: value` lines, folded lines joined, groups separated by blank lines.
 */
export function readFieldGroups(text: string): FieldGroup[] {
  const groups: Map<string, string[]>[] = [];
  let current: Map<string, string[]> | null = null;
  let last: { name: string; index: number } | null = null;
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '') {
      current = null;
      last = null;
      continue;
    }
    if (/^[ \t]/.test(line) && current && last) {
      const values = current.get(last.name)!;
      values[last.index] = `${values[last.index]} ${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    if (!current) groups.push((current = new Map()));
    const name = line.slice(0, colon).trim().toLowerCase();
    const values = current.get(name) ?? [];
    values.push(line.slice(colon + 1).trim());
    current.set(name, values);
    last = { name, index: values.length - 1 };
  }
  return groups.map((g) => ({ get: (n) => g.get(n.toLowerCase())?.[0], getAll: (n) => g.get(n.toLowerCase()) ?? [] }));
}
