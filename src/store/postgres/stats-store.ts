import type { ChangeRow, DelayRow, ProfileCounts, ReasonRow, StatsRepository } from '../../consent/stats.js';
import { sourceKind, type DelayBucket } from '../../consent/stats.js';
import { changesPerDay, changesSql, delaysSql, profileCountQueries, profileCountsFrom, reasonsSql, type Dialect } from '../shared/stats-sql.js';
import type { PgStore } from './pg-store.js';

const PG: Dialect = {
  param: (n) => `$${n}`,
  seconds: (a, b) => `EXTRACT(EPOCH FROM (${b})::timestamptz - (${a})::timestamptz)::float8`,
  // Evidence is JSON text written by the store; a text that is not an object gives NULL rather than an error.
  evidenceText: (column, key) => `(CASE WHEN ${column} LIKE '{%' THEN (${column}::jsonb ->> '${key}') END)`,
};

/** The overview's counts (src/consent/stats.ts), each one statement of the shared SQL. */
export class PgStatsRepository implements StatsRepository {
  constructor(private readonly store: PgStore) {}

  async profileCounts(): Promise<ProfileCounts> {
    // One snapshot: the groups, the suppressed and the bases.
    const q = profileCountQueries('postgres', this.store.nowSql());
    const rows = await this.store.transaction(
      async (tx) => ({
        states: await tx.query(q.states),
        suppressed: { email: await tx.query(q.suppressed.email), sms: await tx.query(q.suppressed.sms), phone: await tx.query(q.suppressed.phone) },
        policy: await tx.query(q.policy),
      }),
      { isolation: 'REPEATABLE READ', readOnly: true },
    );
    return profileCountsFrom(rows);
  }

  async changes(since: string, until: string): Promise<ChangeRow[]> {
    return changesPerDay(await this.store.query<{ occurred_at: string; action: string; channel: string; source: string; n: string }>(changesSql(PG), [since, until]));
  }

  async reasons(since: string, until: string): Promise<ReasonRow[]> {
    const rows = await this.store.query<{ code: string; n: string }>(reasonsSql(PG), [since, until]);
    return rows.map((r) => ({ code: String(r.code), count: Number(r.n) }));
  }

  async delays(since: string, until: string): Promise<DelayRow[]> {
    const rows = await this.store.query<{ source: string; bucket: DelayBucket; n: string; max_secs: number | null }>(delaysSql(PG), [since, until]);
    return rows.map((r) => ({ kind: sourceKind(r.source), bucket: r.bucket, count: Number(r.n), maxSeconds: Math.max(0, Number(r.max_secs ?? 0)) }));
  }
}
