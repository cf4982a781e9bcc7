import type { ChangeContext } from '../../consent/ledger.js';
import { reasonEvidence, type ReasonAnswer, type ReasonOutcome, type ReasonRepository } from '../../consent/reasons.js';
import type { PgStore } from './pg-store.js';

export class PgReasonRepository implements ReasonRepository {
  constructor(private readonly store: PgStore) {}

  async record(a: ReasonAnswer, context: ChangeContext): Promise<ReasonOutcome> {
    return this.store.transaction(async (tx) => {
      // The profile's row lock serialises two answers to the same opt-out: the second finds the first.
      await tx.lockProfiles([a.profileId]);
      const optOut = await tx.query(
        "SELECT 1 FROM ledger_events WHERE id = $1 AND profile_id = $2 AND channel = $3 AND action = 'optout' AND service IS NULL",
        [a.forEvent, a.profileId, a.channel],
      );
      if (optOut.length === 0) return 'no-such-opt-out';
      const answered = await tx.query("SELECT 1 FROM ledger_events WHERE profile_id = $1 AND action = 'reason' AND (evidence::jsonb ->> 'forEvent') = $2", [
        a.profileId,
        String(a.forEvent),
      ]);
      if (answered.length > 0) return 'already-answered';
      tx.appendEvents([{ profileId: a.profileId, channel: a.channel, action: 'reason' }], { ...context, evidence: reasonEvidence(a, context) });
      return 'recorded' as const;
    });
  }
}
