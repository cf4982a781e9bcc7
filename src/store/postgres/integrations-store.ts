/** The change feed, API keys and the check API's facts on PostgreSQL (the SQL is shared: src/store/shared/integrations-sql.ts). */
import type pg from 'pg';
import type { FeedRepository } from '../../consent/feed.js';
import { SqlApiKeys, SqlFeed, SqlReach, type SqlRunner } from '../shared/integrations-sql.js';
import { PROFILE_COLUMNS, rowToProfile, type PgStore } from './pg-store.js';

/** The channel migration 10's trigger notifies at every append's commit. */
export const LEDGER_CHANNEL = 'consent_ledger';

function runner(store: PgStore, query: (sql: string, params: unknown[]) => Promise<any[]> = (s, p) => store.query(s, p)): SqlRunner {
  return {
    all: query as SqlRunner['all'],
    p: (i) => `$${i}`,
    inList: (col, i, type) => `${col} = ANY($${i}::${type === 'int' ? 'bigint' : 'text'}[])`,
    list: (values) => values,
    nowSql: () => store.nowSql(),
    keyer: () => store.suppressions.keyer(),
    toProfile: (r) => rowToProfile(r),
    profileColumns: PROFILE_COLUMNS,
  };
}

export class PgFeed extends SqlFeed implements FeedRepository {
  private listener: pg.PoolClient | null = null;
  private pending = false;
  private wake: (() => void) | null = null;

  constructor(private readonly store: PgStore) {
    super(runner(store));
  }

  /** LISTEN on a connection of its own (kept until stopWaiting); a lost connection falls back to polling (the caller's maxWaitMs). */
  private async listen(): Promise<void> {
    if (this.listener) return;
    const c = await this.store.connect();
    c.on('notification', () => {
      this.pending = true;
      this.wake?.();
    });
    c.on('error', () => {
      if (this.listener === c) this.listener = null;
      c.release(true);
    });
    await c.query(`LISTEN ${LEDGER_CHANNEL}`);
    this.listener = c;
  }

  async waitForAppend(signal: AbortSignal, maxWaitMs: number): Promise<void> {
    await this.listen().catch(() => {});
    if (this.pending || signal.aborted) {
      this.pending = false;
      return;
    }
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(t);
        signal.removeEventListener('abort', done);
        this.wake = null;
        resolve();
      };
      const t = setTimeout(done, maxWaitMs);
      this.wake = done;
      signal.addEventListener('abort', done, { once: true });
    });
    this.pending = false;
  }

  async stopWaiting(): Promise<void> {
    const c = this.listener;
    this.listener = null;
    if (!c) return;
    await c.query(`UNLISTEN ${LEDGER_CHANNEL}`).catch(() => {});
    c.release();
  }
}

export function pgApiKeys(store: PgStore): SqlApiKeys {
  return new SqlApiKeys(runner(store), (fn) => store.transaction((tx) => fn((sql, params) => tx.query(sql, params) as Promise<never>)));
}

export const pgReach = (store: PgStore) => new SqlReach(runner(store));
