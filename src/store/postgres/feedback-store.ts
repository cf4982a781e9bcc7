import type { FeedbackEntry, FeedbackRecorded, FeedbackRepository, SoftBouncePolicy } from '../../consent/feedback.js';
import type { ChangeContext } from '../../consent/ledger.js';
import { FEEDBACK_REASONS, feedbackOrigin, softBounceOutcome } from '../shared/feedback-rows.js';
import type { PgStore } from './pg-store.js';

export class PgFeedbackRepository implements FeedbackRepository {
  constructor(private readonly store: PgStore) {}

  async record(entry: FeedbackEntry, policy: SoftBouncePolicy, context: ChangeContext): Promise<FeedbackRecorded> {
    return this.store.transaction(async (tx) => {
      // A concurrent ingest of the same report waits here on the key, then finds it recorded.
      const inserted = await tx.query(
        'INSERT INTO feedback_reports (report_key, kind, file, reported_at, ingested_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING report_key',
        [entry.key, entry.kind, entry.file, entry.reportedAt, context.occurredAt],
      );
      if (inserted.length === 0) return { recorded: false, addresses: [], optedOut: false };
      const origin = feedbackOrigin(entry);
      const suppress = (address: string, reason: string) => this.store.suppressInTransaction(tx, address, reason, origin, context);
      const addresses: FeedbackRecorded['addresses'] = [];
      for (const address of entry.hardBounces) {
        addresses.push({ address, cause: 'hard-bounce', outcome: await suppress(address, FEEDBACK_REASONS['hard-bounce']) });
      }
      for (const address of entry.softBounces) {
        const key = this.store.addressKey(address);
        await tx.query('INSERT INTO soft_bounces (address_key, report_key, bounced_at) VALUES ($1, $2, $3)', [key, entry.key, entry.reportedAt]);
        const times = (await tx.query<{ bounced_at: string }>('SELECT bounced_at FROM soft_bounces WHERE address_key = $1', [key])).map((r) => r.bounced_at);
        addresses.push({ address, cause: 'soft-bounce', outcome: await softBounceOutcome(times, policy, () => suppress(address, FEEDBACK_REASONS['soft-bounce'])) });
      }
      let optedOut = false;
      if (entry.complaint) {
        const [result] = await this.store.applyInTransaction(tx, [{ profileId: entry.complaint.profileId, wanted: { email: true } }], { ...context, evidence: entry.complaint.evidence });
        optedOut = result!.changes.length > 0;
        const email = result!.profile.email;
        addresses.push({ address: email, cause: 'complaint', outcome: await suppress(email, FEEDBACK_REASONS.complaint) });
      }
      return { recorded: true, addresses, optedOut };
    });
  }
}
