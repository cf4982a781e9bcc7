import type { RowStore } from './rows.js';
import { isPostgresLocation } from './location.js';
import { DEFAULT_BUSY_TIMEOUT_MS, translateSqliteError, type OpenOptions } from './sqlite/open.js';
import { SqliteStore } from './sqlite/sqlite-store.js';

export type { OpenOptions };

/**
 * Opens the store at `location`: a `postgres://` or `postgresql://` URL opens
 * a PostgreSQL database, anything else a SQLite file. Both are created (the
 * schema) and migrated on first use; `location` of the result never shows a password.
 */
export async function openStore(location: string, options: OpenOptions = {}): Promise<RowStore> {
  if (isPostgresLocation(location)) {
    const { PgStore } = await import('./postgres/pg-store.js');
    return PgStore.open(location, options);
  }
  return SqliteStore.open(location, options);
}

/**
 * A store's own error (SQLite's codes today) that escaped a store method,
 * as the domain's typed error; anything else is returned unchanged. The CLI's
 * one catch calls it so that a full disk or a read-only file found mid-import
 * is reported as such, not as a bug.
 */
export function translateStoreError(e: unknown): unknown {
  return translateSqliteError(e, DEFAULT_BUSY_TIMEOUT_MS);
}
