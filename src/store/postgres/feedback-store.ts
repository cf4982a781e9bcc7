import type { FeedbackEntry, FeedbackRecorded, FeedbackRepository, SoftBouncePolicy } from '../../consent/feedback.js';
import type { ChangeContext } from '../../consent/ledger.js';
import { feedbackSuppression, softBounceOutcome, suppressionOutcome, type FeedbackReason } from '../shared/feedback-rows.js';
import type { PgStore } from './pg-store.js';

export class PgFeedbackRepository implements FeedbackRepository {
  constructor(private readonly store: PgStore) {}

  async record(entry: FeedbackEntry, policy: SoftBouncePolicy, context: ChangeContext): Promise<FeedbackRecorded> {
    const suppressions = this.store.suppressions;
    const keyOf = (address: string) => suppressions.keyOf('email', address);
    const softKeys = await Promise.all(entry.softBounces.map(keyOf));
    return this.store.transaction(async (tx) => {
      // A concurrent ingest of the same report waits here on the key, then finds it recorded.
      const inserted = await tx.query(
        'INSERT INTO feedback_reports (report_key, kind, file, reported_at, ingested_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING report_key',
        [entry.key, entry.kind, entry.file, entry.reportedAt, context.occurredAt],
      );
      if (inserted.length === 0) return { recorded: false, addresses: [], optedOut: false };
      const suppress = async (address: string, reason: FeedbackReason) =>
        suppressionOutcome(await suppressions.addInTransaction(tx, [feedbackSuppression(address, reason)], [await keyOf(address)], context));
      const addresses: FeedbackRecorded['addresses'] = [];
      for (const address of entry.hardBounces) addresses.push({ address, cause: 'hard-bounce', outcome: await suppress(address, 'hard-bounce') });
      for (const [i, address] of entry.softBounces.entries()) {
        await tx.query('INSERT INTO soft_bounces (address_key, report_key, bounced_at) VALUES ($1, $2, $3)', [softKeys[i], entry.key, entry.reportedAt]);
        const times = (await tx.query<{ bounced_at: string }>('SELECT bounced_at FROM soft_bounces WHERE address_key = $1', [softKeys[i]])).map((r) => r.bounced_at);
        addresses.push({ address, cause: 'soft-bounce', outcome: await softBounceOutcome(times, policy, () => suppress(address, 'soft-bounce')) });
      }
      let optedOut = false;
      if (entry.complaint) {
        const [result] = await this.store.applyInTransaction(tx, [{ profileId: entry.complaint.profileId, wanted: { email: true } }], { ...context, evidence: entry.complaint.evidence });
        optedOut = result!.changes.length > 0;
        const email = result!.profile.email;
        addresses.push({ address: email, cause: 'complaint', outcome: await suppress(email, 'complaint') });
      }
      return { recorded: true, addresses, optedOut };
    });
  }
}
