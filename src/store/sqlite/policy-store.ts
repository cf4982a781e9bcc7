/** The consent basis on SQLite: `policy` events in the ledger (see src/consent/policy.ts). */
import { CONTACT_CHANNELS, type ContactChannel } from '../../consent/channels.js';
import type { ChangeContext, LedgerEvent } from '../../consent/ledger.js';
import { basesFromRows, channelPolicy, policyEvidence, type Basis, type Policy, type PolicyRepository } from '../../consent/policy.js';
import { CURRENT_POLICY_SQL } from '../shared/policy-sql.js';
import { grantedSql, reachableButForBasisSql } from '../shared/reachability-sql.js';
import { rowToEvent, type SqliteStore } from './sqlite-store.js';

export class SqlitePolicyRepository implements PolicyRepository {
  constructor(private readonly store: SqliteStore) {}

  private currentSync(): Policy {
    const rows = this.store.db.prepare(CURRENT_POLICY_SQL).all() as Parameters<typeof rowToEvent>[0][];
    const last = new Map(rows.map((r) => [r.channel, rowToEvent(r)] as const));
    return Object.fromEntries(CONTACT_CHANNELS.map((c) => [c, channelPolicy(c, last.get(c) ?? null)])) as Policy;
  }

  async current(): Promise<Policy> {
    return this.store.read(() => this.currentSync());
  }

  private ungrantedSync(channel: ContactChannel): number {
    const sql = `SELECT count(*) FROM profiles WHERE ${reachableButForBasisSql(channel, '', this.store.nowSql())} AND NOT (${grantedSql(channel, '')})`;
    return this.store.db.prepare(sql).pluck().get() as number;
  }

  async ungranted(channel: ContactChannel): Promise<number> {
    return this.store.read(() => this.ungrantedSync(channel));
  }

  async set(channel: ContactChannel, basis: Basis, context: ChangeContext): Promise<{ event: LedgerEvent | null; ungranted: number }> {
    return this.store.writeTransaction(() => {
      const bases = basesFromRows(this.store.db.prepare<[], { channel: string; evidence: string | null }>(CURRENT_POLICY_SQL).all());
      if (bases[channel] === basis) return { event: null, ungranted: 0 };
      const ungranted = this.ungrantedSync(channel);
      this.store.appendEvents([{ profileId: null, channel, action: 'policy', evidence: policyEvidence(basis) }], context);
      return { event: this.lastPolicyEvent(channel), ungranted };
    });
  }

  private lastPolicyEvent(channel: ContactChannel): LedgerEvent {
    const row = this.store.db
      .prepare("SELECT * FROM ledger_events WHERE action = 'policy' AND channel = ? ORDER BY id DESC LIMIT 1")
      .get(channel) as Parameters<typeof rowToEvent>[0];
    return rowToEvent(row);
  }
}
