import type { FeedbackAddressOutcome, FeedbackEntry, FeedbackRecorded, FeedbackRepository, SoftBouncePolicy } from '../../consent/feedback.js';
import type { ChangeContext } from '../../consent/ledger.js';
import { FEEDBACK_REASONS, feedbackOrigin, softBounceOutcome } from '../shared/feedback-rows.js';
import type { SqliteStore } from './sqlite-store.js';

export class SqliteFeedbackRepository implements FeedbackRepository {
  constructor(private readonly store: SqliteStore) {}

  async record(entry: FeedbackEntry, policy: SoftBouncePolicy, context: ChangeContext): Promise<FeedbackRecorded> {
    const db = this.store.db;
    return this.store.writeTransaction(() => {
      const inserted = db
        .prepare('INSERT INTO feedback_reports (report_key, kind, file, reported_at, ingested_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING')
        .run(entry.key, entry.kind, entry.file, entry.reportedAt, context.occurredAt);
      if (inserted.changes === 0) return { recorded: false, addresses: [], optedOut: false };
      const origin = feedbackOrigin(entry);
      const suppress = (address: string, reason: string): FeedbackAddressOutcome => this.store.suppressInTransaction(address, reason, origin, context);
      const addresses: FeedbackRecorded['addresses'] = [];
      for (const address of entry.hardBounces) {
        addresses.push({ address, cause: 'hard-bounce', outcome: suppress(address, FEEDBACK_REASONS['hard-bounce']) });
      }
      for (const address of entry.softBounces) {
        const key = this.store.addressKey(address);
        db.prepare('INSERT INTO soft_bounces (address_key, report_key, bounced_at) VALUES (?, ?, ?)').run(key, entry.key, entry.reportedAt);
        const times = db.prepare<[string], string>('SELECT bounced_at FROM soft_bounces WHERE address_key = ?').pluck().all(key);
        addresses.push({ address, cause: 'soft-bounce', outcome: softBounceOutcome(times, policy, () => suppress(address, FEEDBACK_REASONS['soft-bounce'])) });
      }
      let optedOut = false;
      if (entry.complaint) {
        const [result] = this.store.applyInTransaction([{ profileId: entry.complaint.profileId, wanted: { email: true } }], { ...context, evidence: entry.complaint.evidence });
        optedOut = result!.changes.length > 0;
        const email = result!.profile.email;
        addresses.push({ address: email, cause: 'complaint', outcome: suppress(email, FEEDBACK_REASONS.complaint) });
      }
      return { recorded: true, addresses, optedOut };
    });
  }
}
