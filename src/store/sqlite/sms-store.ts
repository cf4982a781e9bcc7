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
import type { SqliteStore } from './sqlite-store.js';
import type { SqliteSuppressionRepository } from './suppression-store.js';

export class SqliteSmsRepository implements SmsRepository {
  private keyer?: (phone: string) => string;

  constructor(private readonly store: SqliteStore) {}

  private get db() {
    return this.store.db;
  }

  async numberKeyer(): Promise<(phone: string) => string> {
    if (this.keyer) return this.keyer;
    const row = this.store.read(() => this.db.prepare<[string], { value: string }>('SELECT value FROM settings WHERE key = ?').get(SUPPRESSION_KEY_SETTING));
    if (!row) throw new ConsentError('integrity', `The store ${this.store.location} has no suppression key.`, 'Restore it from a backup.');
    return (this.keyer = numberKeyer(row.value));
  }

  private readSettings(): SmsSettingsValues {
    return settingsFromRows(this.db.prepare<[], { key: string; value: string }>("SELECT key, value FROM settings WHERE key LIKE 'sms.%'").all());
  }

  async settings(): Promise<SmsSettingsValues> {
    return this.store.read(() => this.readSettings());
  }

  async saveSettings(values: { [K in keyof SmsSettingsValues]?: string | null }): Promise<SmsSettingsValues> {
    return this.store.writeTransaction(() => {
      for (const [name, value] of Object.entries(values) as [keyof SmsSettingsValues, string | null | undefined][]) {
        if (value === undefined) continue;
        const key = SMS_SETTING_KEY[name];
        if (value === null) this.db.prepare('DELETE FROM settings WHERE key = ?').run(key);
        else this.db.prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value);
      }
      return this.readSettings();
    });
  }

  async findByMessageIds(messageIds: readonly string[]): Promise<SmsMessage[]> {
    if (messageIds.length === 0) return [];
    return this.store.read(() =>
      this.db
        .prepare<string[], SmsMessageRow>(`SELECT * FROM sms_messages WHERE message_id IN (${messageIds.map(() => '?').join(', ')})`)
        .all(...messageIds)
        .map(toSmsMessage),
    );
  }

  /** The opt-outs/opt-ins of one write and its suppression change; inside the caller's write transaction. Returns the events written. */
  private writeOne(requests: readonly ConsentRequest[], context: ChangeContext, suppression: SmsSuppressionChange | undefined): number {
    let events = 0;
    for (const r of this.store.applyInTransaction(requests, context)) events += r.changes.length;
    if (suppression) {
      const list = this.store.suppressions as SqliteSuppressionRepository;
      checkNewSuppressions(suppression.add, suppression.context);
      const added = suppression.add.length > 0 ? list.addInTransaction(suppression.add, suppression.context) : [];
      const lifted = suppression.lift.length > 0 ? list.liftInTransaction(suppression.lift, suppression.context) : [];
      events += suppressionEvents(added, lifted);
    }
    return events;
  }

  async record(batch: SmsBatch): Promise<SmsRecorded> {
    const insert = this.db.prepare<unknown[], SmsMessageRow>(insertSmsMessageSql(() => '?'));
    const lastSms = this.db.prepare<[number], { id: number | null }>(LAST_SMS_FLAG_EVENT_SQL('?'));
    return this.store.writeTransaction(() => {
      for (const g of batch.guards) {
        if ((lastSms.get(g.profileId)?.id ?? null) !== g.lastSmsEventId) throw replanError(`The sms consent of profile ${g.profileId} changed meanwhile.`);
      }
      const messages: SmsMessage[] = [];
      let changes = 0;
      for (const w of batch.writes) {
        const events = this.writeOne(w.requests, w.context, w.suppression);
        const row = insert.get(...smsMessageValues(w.message, events));
        if (!row) throw replanError(`The SMS message ${w.message.messageId} was recorded meanwhile.`);
        messages.push(toSmsMessage(row));
        changes += events;
      }
      const purged = batch.purgeBodiesBefore === null ? 0 : this.db.prepare(PURGE_BODIES_SQL('?')).run(batch.purgeBodiesBefore).changes;
      return { messages, changes, purged };
    });
  }

  async get(id: number): Promise<SmsMessage | null> {
    return this.store.read(() => {
      const r = this.db.prepare<[number], SmsMessageRow>('SELECT * FROM sms_messages WHERE id = ?').get(id);
      return r ? toSmsMessage(r) : null;
    });
  }

  async list(filter: { pendingReview?: boolean; limit?: number } = {}): Promise<SmsMessage[]> {
    return this.store.read(() =>
      this.db.prepare<[number], SmsMessageRow>(LIST_SMS_SQL(filter.pendingReview ?? false, '?')).all(filter.limit ?? -1).map(toSmsMessage),
    );
  }

  async decide(id: number, status: Exclude<SmsReviewStatus, 'pending'>, actor: string, at: string, write: SmsDecisionWrite): Promise<SmsMessage> {
    return this.store.writeTransaction(() => {
      const row = this.db.prepare<[number], SmsMessageRow>('SELECT * FROM sms_messages WHERE id = ?').get(id);
      if (!row) throw notFound(`No SMS message ${id}.`);
      if (row.review_status !== 'pending') throw conflict(`SMS message ${id} is not a pending review item.`);
      const events = write ? this.writeOne(write.requests, write.context, write.suppression) : 0;
      this.db
        .prepare('UPDATE sms_messages SET review_status = ?, decided_by = ?, decided_at = ?, changes = changes + ? WHERE id = ?')
        .run(status, actor, at, events, id);
      return toSmsMessage(this.db.prepare<[number], SmsMessageRow>('SELECT * FROM sms_messages WHERE id = ?').get(id)!);
    });
  }

  async purgeBodies(before: string): Promise<number> {
    return this.store.writeTransaction(() => this.db.prepare(PURGE_BODIES_SQL('?')).run(before).changes);
  }
}
