import type { ChangeRow, DelayRow, ProfileCounts, ReasonRow, StatsRepository } from '../../consent/stats.js';
import { sourceKind, type DelayBucket } from '../../consent/stats.js';
import { changesPerDay, changesSql, delaysSql, profileCountQueries, profileCountsFrom, reasonsSql, type Dialect } from '../shared/stats-sql.js';
import type { SqliteStore } from './sqlite-store.js';

const SQLITE: Dialect = {
  param: () => '?',
  seconds: (a, b) => `((julianday(${b}) - julianday(${a})) * 86400.0)`,
  evidenceText: (column, key) => `(CASE WHEN json_valid(${column}) THEN json_extract(${column}, '$.${key}') END)`,
};

/** The overview's counts (src/consent/stats.ts), each one statement of the shared SQL. */
export class SqliteStatsRepository implements StatsRepository {
  constructor(private readonly store: SqliteStore) {}

  async profileCounts(): Promise<ProfileCounts> {
    // One read transaction: the groups, the suppressed and the bases from one snapshot.
    const db = this.store.db;
    const q = profileCountQueries('sqlite', this.store.nowSql());
    const all = (sql: string) => db.prepare(sql).all() as Record<string, unknown>[];
    return profileCountsFrom(
      db.transaction(() => ({ states: all(q.states), suppressed: { email: all(q.suppressed.email), sms: all(q.suppressed.sms), phone: all(q.suppressed.phone) }, policy: all(q.policy) }))(),
    );
  }

  async changes(since: string, until: string): Promise<ChangeRow[]> {
    return changesPerDay(this.store.db.prepare(changesSql(SQLITE)).all(since, until) as { occurred_at: string; action: string; channel: string; source: string; n: number }[]);
  }

  async reasons(since: string, until: string): Promise<ReasonRow[]> {
    const rows = this.store.db.prepare(reasonsSql(SQLITE)).all(since, until) as { code: unknown; n: number }[];
    return rows.map((r) => ({ code: String(r.code), count: Number(r.n) }));
  }

  async delays(since: string, until: string): Promise<DelayRow[]> {
    const rows = this.store.db.prepare(delaysSql(SQLITE)).all(since, until) as { source: string; bucket: DelayBucket; n: number; max_secs: number | null }[];
    return rows.map((r) => ({ kind: sourceKind(r.source), bucket: r.bucket, count: Number(r.n), maxSeconds: Math.max(0, Number(r.max_secs ?? 0)) }));
  }
}
