/** The change feed, API keys and the check API's facts on SQLite (the SQL is shared: src/store/shared/integrations-sql.ts). */
import type Database from 'better-sqlite3';
import type { FeedRepository } from '../../consent/feed.js';
import { SqlApiKeys, SqlFeed, SqlReach, type SqlRunner } from '../shared/integrations-sql.js';
import type { SqliteStore } from './sqlite-store.js';
import { rowToProfile } from './sqlite-store.js';

/** How often `--follow` asks SQLite whether another connection committed (PRAGMA data_version: no read of any table). */
const POLL_MS = 200;

function runner(store: SqliteStore): SqlRunner {
  const stmts = new Map<string, Database.Statement>();
  const prepare = (sql: string) => {
    let s = stmts.get(sql);
    if (!s) {
      s = store.db.prepare(sql);
      if (stmts.size > 200) stmts.clear();
      stmts.set(sql, s);
    }
    return s;
  };
  return {
    async all<T>(sql: string, params: unknown[]) {
      return store.guard(() => {
        const s = prepare(sql);
        return (s.reader ? s.all(...params) : (s.run(...params), [])) as T[];
      });
    },
    p: () => '?',
    inList: (col) => `${col} IN (SELECT value FROM json_each(?))`,
    list: (values) => JSON.stringify(values),
    nowSql: () => store.nowSql(),
    keyer: async () => (channel, address) => store.suppressions.keyOfSync(channel, address),
    toProfile: (r: Record<string, unknown>) =>
      rowToProfile([r.id, r.email, r.phone, r.first_name, r.last_name, r.optout_all, r.optout_email, r.optout_sms, r.optout_phone, r.optout_postal, r.optout_fax, r.optout_push, r.created_at, r.updated_at, r.erased_at] as never),
    profileColumns:
      'id, email, phone, first_name, last_name, optout_all, optout_email, optout_sms, optout_phone, optout_postal, optout_fax, optout_push, created_at, updated_at, erased_at',
  };
}

export class SqliteFeed extends SqlFeed implements FeedRepository {
  constructor(private readonly store: SqliteStore) {
    super(runner(store));
  }

  private version(): number {
    return this.store.guard(() => this.store.db.pragma('data_version', { simple: true }) as number);
  }

  private seen: number | null = null;

  async waitForAppend(signal: AbortSignal, maxWaitMs: number): Promise<void> {
    if (this.seen === null) this.seen = this.version();
    const until = Date.now() + maxWaitMs;
    while (!signal.aborted && Date.now() < until) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, POLL_MS);
        function done() {
          clearTimeout(t);
          signal.removeEventListener('abort', done);
          resolve();
        }
        signal.addEventListener('abort', done, { once: true });
      });
      const v = this.version();
      if (v !== this.seen) {
        this.seen = v;
        return;
      }
    }
  }

  async stopWaiting(): Promise<void> {}
}

export function sqliteApiKeys(store: SqliteStore): SqlApiKeys {
  const r = runner(store);
  // better-sqlite3 is synchronous: the body's statements run without yielding, inside one immediate transaction.
  return new SqlApiKeys(r, async (fn) => {
    store.guard(() => store.db.exec('BEGIN IMMEDIATE'));
    try {
      const out = await fn(r.all);
      store.db.exec('COMMIT');
      return out;
    } catch (e) {
      if (store.db.inTransaction) store.db.exec('ROLLBACK');
      throw e;
    }
  });
}

export const sqliteReach = (store: SqliteStore) => new SqlReach(runner(store));
