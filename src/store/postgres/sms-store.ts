import { ConsentError, conflict, notFound } from '../../consent/errors.js';
import type { ChangeContext } from '../../consent/ledger.js';
import { replanError } from '../../consent/sms-inbound.js';
import type { SmsBatch, SmsDecisionWrite, SmsSuppressionChange, SmsMessage, SmsRecorded, SmsRepository, SmsReviewStatus, SmsSettingsValues } from '../../consent/sms.js';
import type { ConsentRequest } from '../../consent/store.js';
import {
  insertSmsMessageSql,
  LAST_SMS_FLAG_EVENT_SQL,
  LIST_SMS_SQL,
  numberKeyer,
  PURGE_BODIES_SQL,
  settingsFromRows,
  SUPPRESSION_KEY_SETTING,
  suppressionEvents,
  SMS_SETTING_KEY,
  smsMessageValues,
  toSmsMessage,
  type SmsMessageRow,
} from '../shared/sms-rows.js';
import { checkNewSuppressions } from '../shared/suppression-rows.js';
import type { PgStore, PgTx } from './pg-store.js';

const INSERT = insertSmsMessageSql((i) => `$${i}`);

export class PgSmsRepository implements SmsRepository {
  private keyer?: (phone: string) => string;

  constructor(private readonly store: PgStore) {}

  async numberKeyer(): Promise<(phone: string) => string> {
    if (this.keyer) return this.keyer;
    const [row] = await this.store.query<{ value: string }>('SELECT value FROM settings WHERE key = $1', [SUPPRESSION_KEY_SETTING]);
    if (!row) throw new ConsentError('integrity', `The store ${this.store.location} has no suppression key.`, 'Restore it from a backup.');
    return (this.keyer = numberKeyer(row.value));
  }

  async settings(): Promise<SmsSettingsValues> {
    return settingsFromRows(await this.store.query("SELECT key, value FROM settings WHERE key LIKE 'sms.%'"));
  }

  async saveSettings(values: { [K in keyof SmsSettingsValues]?: string | null }): Promise<SmsSettingsValues> {
    return this.store.transaction(async (tx) => {
      for (const [name, value] of Object.entries(values) as [keyof SmsSettingsValues, string | null | undefined][]) {
        if (value === undefined) continue;
        const key = SMS_SETTING_KEY[name];
        if (value === null) await tx.query('DELETE FROM settings WHERE key = $1', [key]);
        else await tx.query('INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [key, value]);
      }
      return settingsFromRows(await tx.query("SELECT key, value FROM settings WHERE key LIKE 'sms.%'"));
    });
  }

  async findByMessageIds(messageIds: readonly string[]): Promise<SmsMessage[]> {
    if (messageIds.length === 0) return [];
    return (await this.store.query<SmsMessageRow>('SELECT * FROM sms_messages WHERE message_id = ANY($1::text[])', [messageIds])).map(toSmsMessage);
  }

  /** The opt-outs/opt-ins of one write and its suppression change, in the caller's transaction. Returns the events written. */
  private async writeOne(tx: PgTx, requests: readonly ConsentRequest[], context: ChangeContext, suppression: SmsSuppressionChange | undefined): Promise<number> {
    let events = 0;
    for (const r of await this.store.applyInTransaction(tx, requests, context)) events += r.changes.length;
    if (suppression) {
      const list = this.store.suppressions;
      checkNewSuppressions(suppression.add, suppression.context);
      const keyOf = await this.numberKeyer();
      const key = (t: { address: string | null; addressKey?: string }) => (t.address === null ? t.addressKey! : keyOf(t.address));
      const added = suppression.add.length > 0 ? await list.addInTransaction(tx, suppression.add, suppression.add.map(key), suppression.context) : [];
      const lifted = suppression.lift.length > 0 ? await list.liftInTransaction(tx, suppression.lift, suppression.context, suppression.lift.map((t) => ('addressKey' in t ? t.addressKey : keyOf(t.address)))) : [];
      events += suppressionEvents(added, lifted);
    }
    return events;
  }

  async record(batch: SmsBatch): Promise<SmsRecorded> {
    return this.store.transaction(async (tx) => {
      // The guarded profiles locked first: no other writer changes them between the check and the commit.
      await tx.lockProfiles(batch.guards.map((g) => g.profileId));
      for (const g of batch.guards) {
        const [row] = await tx.query<{ id: string | null }>(LAST_SMS_FLAG_EVENT_SQL('$1'), [g.profileId]);
        const last = row?.id == null ? null : Number(row.id);
        if (last !== g.lastSmsEventId) throw replanError(`The sms consent of profile ${g.profileId} changed meanwhile.`);
      }
      const messages: SmsMessage[] = [];
      let changes = 0;
      for (const w of batch.writes) {
        const events = await this.writeOne(tx, w.requests, w.context, w.suppression);
        const [row] = await tx.query<SmsMessageRow>(INSERT, smsMessageValues(w.message, events));
        if (!row) throw replanError(`The SMS message ${w.message.messageId} was recorded meanwhile.`);
        messages.push(toSmsMessage(row));
        changes += events;
      }
      let purged = 0;
      if (batch.purgeBodiesBefore !== null) purged = (await tx.client.query(PURGE_BODIES_SQL('$1'), [batch.purgeBodiesBefore])).rowCount ?? 0;
      return { messages, changes, purged };
    });
  }

  async get(id: number): Promise<SmsMessage | null> {
    if (!Number.isSafeInteger(id) || id > 2147483647 || id < 1) return null;
    const [r] = await this.store.query<SmsMessageRow>('SELECT * FROM sms_messages WHERE id = $1', [id]);
    return r ? toSmsMessage(r) : null;
  }

  async list(filter: { pendingReview?: boolean; limit?: number } = {}): Promise<SmsMessage[]> {
    const limit = filter.limit === undefined ? 'ALL' : String(Math.max(0, Math.floor(filter.limit)));
    return (await this.store.query<SmsMessageRow>(LIST_SMS_SQL(filter.pendingReview ?? false, limit))).map(toSmsMessage);
  }

  async decide(id: number, status: Exclude<SmsReviewStatus, 'pending'>, actor: string, at: string, write: SmsDecisionWrite): Promise<SmsMessage> {
    return this.store.transaction(async (tx) => {
      const [row] = await tx.query<SmsMessageRow>('SELECT * FROM sms_messages WHERE id = $1 FOR UPDATE', [id]);
      if (!row) throw notFound(`No SMS message ${id}.`);
      if (row.review_status !== 'pending') throw conflict(`SMS message ${id} is not a pending review item.`);
      const events = write ? await this.writeOne(tx, write.requests, write.context, write.suppression) : 0;
      const [updated] = await tx.query<SmsMessageRow>(
        'UPDATE sms_messages SET review_status = $1, decided_by = $2, decided_at = $3, changes = changes + $4 WHERE id = $5 RETURNING *',
        [status, actor, at, events, id],
      );
      return toSmsMessage(updated!);
    });
  }

  async purgeBodies(before: string): Promise<number> {
    return this.store.transaction(async (tx) => (await tx.client.query(PURGE_BODIES_SQL('$1'), [before])).rowCount ?? 0);
  }
}
