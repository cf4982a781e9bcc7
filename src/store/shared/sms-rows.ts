/**
 * The `sms_messages` table and the SMS settings, the same SQL, columns and
 * mapping on both stores (migration 6 of each creates the table).
 */
import { addressKey, type SuppressionAddResult, type SuppressionLiftResult } from '../../consent/suppressions.js';
import {
  SMS_SETTING_NAMES,
  type NewSmsMessage,
  type SmsMessage,
  type SmsOutcome,
  type SmsReviewStatus,
  type SmsSettingsValues,
} from '../../consent/sms.js';

/** The schema of migration 6 (the types each store's own: `INTEGER` / `bigint`…). */
export function smsMessagesDdl(t: { id: string; int: string }): string {
  return `
  CREATE TABLE sms_messages (
    id ${t.id},
    -- the provider's id (Twilio's MessageSid): a retry is recorded once
    message_id TEXT UNIQUE,
    provider TEXT NOT NULL,
    -- the sending number's keyed hash, never the number
    from_key TEXT NOT NULL,
    to_number TEXT,
    -- removed after the retention period (pending review items keep theirs)
    body TEXT,
    keyword TEXT,
    outcome TEXT NOT NULL CHECK (outcome IN ('optout', 'suppressed', 'optin', 'optin-refused', 'help', 'review', 'ignored')),
    changes ${t.int} NOT NULL DEFAULT 0,
    reply TEXT,
    received_at TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    review_status TEXT CHECK (review_status IN ('pending', 'optout', 'dismissed')),
    decided_by TEXT,
    decided_at TEXT
  );
  CREATE INDEX sms_messages_review ON sms_messages (review_status, id);
  CREATE INDEX sms_messages_received ON sms_messages (received_at) WHERE body IS NOT NULL;
`;
}

/** Every column, in insertion order (store copy and the INSERT). */
export const SMS_MESSAGE_COLUMNS = [
  'id', 'message_id', 'provider', 'from_key', 'to_number', 'body', 'keyword', 'outcome', 'changes', 'reply',
  'received_at', 'recorded_at', 'review_status', 'decided_by', 'decided_at',
] as const;

export interface SmsMessageRow {
  id: number;
  message_id: string | null;
  provider: string;
  from_key: string;
  to_number: string | null;
  body: string | null;
  keyword: string | null;
  outcome: string;
  changes: number;
  reply: string | null;
  received_at: string;
  recorded_at: string;
  review_status: string | null;
  decided_by: string | null;
  decided_at: string | null;
}

export const toSmsMessage = (r: SmsMessageRow): SmsMessage => ({
  id: Number(r.id),
  messageId: r.message_id,
  provider: r.provider,
  fromKey: r.from_key,
  to: r.to_number,
  body: r.body,
  keyword: r.keyword,
  outcome: r.outcome as SmsOutcome,
  changes: Number(r.changes),
  reply: r.reply,
  receivedAt: r.received_at,
  recordedAt: r.recorded_at,
  review: r.review_status === null ? null : { status: r.review_status as SmsReviewStatus, decidedBy: r.decided_by, decidedAt: r.decided_at },
});

/** The values of an INSERT of every column but `id`, in SMS_MESSAGE_COLUMNS order. */
export function smsMessageValues(m: NewSmsMessage, changes: number): unknown[] {
  return [
    m.messageId, m.provider, m.fromKey, m.to, m.body, m.keyword, m.outcome, changes, m.reply,
    m.receivedAt, m.recordedAt, m.review?.status ?? null, m.review?.decidedBy ?? null, m.review?.decidedAt ?? null,
  ];
}

/** `?`-style (SQLite) or `$n`-style (PostgreSQL) placeholders for those values. */
export function insertSmsMessageSql(placeholder: (i: number) => string): string {
  const cols = SMS_MESSAGE_COLUMNS.slice(1);
  return `INSERT INTO sms_messages (${cols.join(', ')}) VALUES (${cols.map((_, i) => placeholder(i + 1)).join(', ')})
    ON CONFLICT (message_id) DO NOTHING RETURNING *`;
}

/** Removes bodies past retention; a pending review item keeps its body until it is decided. */
export const PURGE_BODIES_SQL = (p: string) =>
  `UPDATE sms_messages SET body = NULL WHERE body IS NOT NULL AND received_at < ${p} AND (review_status IS NULL OR review_status <> 'pending')`;

/** The last event that set a profile's sms flag. */
export const LAST_SMS_FLAG_EVENT_SQL = (p: string) =>
  `SELECT max(id) AS id FROM ledger_events WHERE profile_id = ${p} AND channel = 'sms' AND service IS NULL`;

export const LIST_SMS_SQL = (pendingOnly: boolean, limit: string) =>
  `SELECT * FROM sms_messages ${pendingOnly ? "WHERE review_status = 'pending'" : ''} ORDER BY id DESC LIMIT ${limit}`;

/** The settings table's keys for the SMS settings. */
export const SMS_SETTING_KEY: Record<(typeof SMS_SETTING_NAMES)[number], string> = {
  organisation: 'sms.organisation',
  lang: 'sms.lang',
  helpText: 'sms.help-text',
  confirmOptOutText: 'sms.confirm-optout-text',
  confirmOptInText: 'sms.confirm-optin-text',
  retentionDays: 'sms.retention-days',
};

/** The settings row of the suppression list's secret (migration 4), which keys numbers here too. */
export const SUPPRESSION_KEY_SETTING = 'suppression_key';

export function settingsFromRows(rows: readonly { key: string; value: string }[]): SmsSettingsValues {
  const byKey = new Map(rows.map((r) => [r.key, r.value]));
  const values: SmsSettingsValues = {};
  for (const name of SMS_SETTING_NAMES) {
    const v = byKey.get(SMS_SETTING_KEY[name]);
    if (v !== undefined) values[name] = v;
  }
  return values;
}

/** The keyed hash of a number: the suppression list's addressKey (`phone:` + E.164, HMAC-SHA256 with the store's secret), hex. */
export function numberKeyer(secretHex: string): (phone: string) => string {
  const secret = Buffer.from(secretHex, 'hex');
  return (phone) => addressKey(secret, 'phone', phone);
}

/** The ledger events a suppression change wrote: one per entry added, replaced or lifted. */
export function suppressionEvents(added: readonly SuppressionAddResult[], lifted: readonly SuppressionLiftResult[]): number {
  return added.filter((r) => r.outcome !== 'already').length + lifted.filter((r) => r.outcome === 'lifted').length;
}
