import type { FeedbackEntry, FeedbackRecorded, FeedbackRepository, SoftBouncePolicy } from '../../consent/feedback.js';
import type { ChangeContext } from '../../consent/ledger.js';
import { feedbackSuppression, softBounceOutcome, suppressionOutcome, type FeedbackReason } from '../shared/feedback-rows.js';
import type { SqliteStore } from './sqlite-store.js';

export class SqliteFeedbackRepository implements FeedbackRepository {
  constructor(private readonly store: SqliteStore) {}

  async record(entry: FeedbackEntry, policy: SoftBouncePolicy, context: ChangeContext): Promise<FeedbackRecorded> {
    const db = this.store.db;
    const softKeys = await Promise.all(entry.softBounces.map((a) => this.store.suppressions.keyOf('email', a)));
    return this.store.writeTransaction(() => {
      const inserted = db
        .prepare('INSERT INTO feedback_reports (report_key, kind, file, reported_at, ingested_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING')
        .run(entry.key, entry.kind, entry.file, entry.reportedAt, context.occurredAt);
      if (inserted.changes === 0) return { recorded: false, addresses: [], optedOut: false };
      const suppress = (address: string, reason: FeedbackReason) =>
        suppressionOutcome(this.store.suppressions.addInTransaction([feedbackSuppression(address, reason)], context));
      const addresses: FeedbackRecorded['addresses'] = [];
      for (const address of entry.hardBounces) addresses.push({ address, cause: 'hard-bounce', outcome: suppress(address, 'hard-bounce') });
      for (const [i, address] of entry.softBounces.entries()) {
        db.prepare('INSERT INTO soft_bounces (address_key, report_key, bounced_at) VALUES (?, ?, ?)').run(softKeys[i], entry.key, entry.reportedAt);
        const times = db.prepare<[string], string>('SELECT bounced_at FROM soft_bounces WHERE address_key = ?').pluck().all(softKeys[i]!);
        addresses.push({ address, cause: 'soft-bounce', outcome: softBounceOutcome(times, policy, () => suppress(address, 'soft-bounce')) });
      }
      let optedOut = false;
      if (entry.complaint) {
        const [result] = this.store.applyInTransaction([{ profileId: entry.complaint.profileId, wanted: { email: true } }], { ...context, evidence: entry.complaint.evidence });
        optedOut = result!.changes.length > 0;
        const email = result!.profile.email;
        addresses.push({ address: email, cause: 'complaint', outcome: suppress(email, 'complaint') });
      }
      return { recorded: true, addresses, optedOut };
    });
  }
}
