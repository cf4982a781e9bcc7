import type { ChangeContext } from '../../consent/ledger.js';
import { reasonEvidence, type ReasonAnswer, type ReasonOutcome, type ReasonRepository } from '../../consent/reasons.js';
import type { SqliteStore } from './sqlite-store.js';

export class SqliteReasonRepository implements ReasonRepository {
  constructor(private readonly store: SqliteStore) {}

  async record(a: ReasonAnswer, context: ChangeContext): Promise<ReasonOutcome> {
    const db = this.store.db;
    return this.store.writeTransaction(() => {
      const optOut = db
        .prepare("SELECT 1 FROM ledger_events WHERE id = ? AND profile_id = ? AND channel = ? AND action = 'optout' AND service IS NULL")
        .get(a.forEvent, a.profileId, a.channel);
      if (!optOut) return 'no-such-opt-out';
      const answered = db
        .prepare("SELECT 1 FROM ledger_events WHERE profile_id = ? AND action = 'reason' AND json_extract(evidence, '$.forEvent') = ?")
        .get(a.profileId, a.forEvent);
      if (answered) return 'already-answered';
      this.store.appendEvents([{ profileId: a.profileId, channel: a.channel, action: 'reason' }], { ...context, evidence: reasonEvidence(a, context) });
      return 'recorded';
    });
  }
}
