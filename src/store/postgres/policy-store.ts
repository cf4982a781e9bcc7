/** The consent basis on PostgreSQL: `policy` events in the ledger (see src/consent/policy.ts). */
import { CONTACT_CHANNELS, type ContactChannel } from '../../consent/channels.js';
import type { ChangeContext, LedgerEvent } from '../../consent/ledger.js';
import { basesFromRows, channelPolicy, policyEvidence, type Basis, type Policy, type PolicyRepository } from '../../consent/policy.js';
import type { EventRow } from '../shared/ledger-chain.js';
import { CURRENT_POLICY_SQL } from '../shared/policy-sql.js';
import { grantedSql, reachableButForBasisSql } from '../shared/reachability-sql.js';
import { CHAIN_LOCK, rowToEvent, type PgStore } from './pg-store.js';

export class PgPolicyRepository implements PolicyRepository {
  constructor(private readonly store: PgStore) {}

  async current(): Promise<Policy> {
    const rows = await this.store.query<EventRow>(CURRENT_POLICY_SQL);
    const last = new Map(rows.map((r) => [r.channel, rowToEvent(r)] as const));
    return Object.fromEntries(CONTACT_CHANNELS.map((c) => [c, channelPolicy(c, last.get(c) ?? null)])) as Policy;
  }

  private ungrantedSql(channel: ContactChannel): string {
    return `SELECT count(*)::int AS n FROM profiles WHERE ${reachableButForBasisSql(channel, '', this.store.nowSql())} AND NOT (${grantedSql(channel, '')})`;
  }

  async ungranted(channel: ContactChannel): Promise<number> {
    const [r] = await this.store.query<{ n: number }>(this.ungrantedSql(channel));
    return r!.n;
  }

  async set(channel: ContactChannel, basis: Basis, context: ChangeContext): Promise<{ event: LedgerEvent | null; ungranted: number }> {
    const written = await this.store.transaction(async (tx) => {
      // The chain lock first (held to the commit): two `policy set` at once are then one after the other.
      await tx.query('SELECT pg_advisory_xact_lock($1)', [CHAIN_LOCK]);
      const bases = basesFromRows(await tx.query<{ channel: string; evidence: string | null }>(CURRENT_POLICY_SQL));
      if (bases[channel] === basis) return null;
      const [r] = await tx.query<{ n: number }>(this.ungrantedSql(channel));
      tx.appendEvents([{ profileId: null, channel, action: 'policy', evidence: policyEvidence(basis) }], context);
      return { ungranted: r!.n };
    });
    if (!written) return { event: null, ungranted: 0 };
    const [row] = await this.store.query<EventRow>("SELECT * FROM ledger_events WHERE action = 'policy' AND channel = $1 ORDER BY id DESC LIMIT 1", [channel]);
    return { event: rowToEvent(row!), ungranted: written.ungranted };
  }
}
